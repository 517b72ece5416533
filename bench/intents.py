"""`python -m bench intents`: the agent's understanding on utterances written by others.

Reads at run time (never copied into the project) the public sets in
../shared/data/intents/: CLINC150 `data_full.json` and Banking77 `train.csv`/`test.csv`.
Neither is used for training: the model learns only from `nlu/data/*.yaml`.

Figures:
- recall: CLINC `order_status` (all splits) classified as an order-status intent
  (order_status, delivery_date or delay_reason);
- false order status: unrelated questions (CLINC out-of-scope, CLINC account and payment
  intents, Banking77 except Refund_not_showing_up) classified as one of those;
- refund: Banking77 Refund_not_showing_up classified as refund_status;
- order numbers: extraction on sentences generated here from templates (not the training
  ones) and formats; plus numbers that are not order numbers (phones, ZIPs, tracking
  numbers, amounts) wrongly taken for one;
- speed: training time and time per message.

Baseline, in the same run: keyword rules of the kind a first version would have
(`baseline_intent`, `baseline_order_number`); the JSON has ratios model/baseline.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from bench._common import Progress
from wismo.conversation import nlu
from wismo.conversation.nlu import classifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "intents"
FAMILY = frozenset({"order_status", "delivery_date", "delay_reason"})
# CLINC150 intents about accounts, cards, bills and payments: the questions a store's agent
# most easily mistakes for "where is my order" ("when will my new card arrive").
CLINC_ACCOUNT_PAYMENT = (
    "account_blocked", "apr", "balance", "bill_balance", "bill_due", "card_declined",
    "credit_limit", "credit_limit_change", "credit_score", "damaged_card", "direct_deposit",
    "expiration_date", "freeze_account", "improve_credit_score", "interest_rate",
    "international_fees", "min_payment", "new_card", "order_checks", "pay_bill", "payday",
    "pin_change", "redeem_rewards", "replacement_card_duration", "report_fraud",
    "report_lost_card", "rewards_balance", "routing", "spending_history", "transactions",
    "transfer",
)  # fmt: skip
TARGET_RECALL = 0.90
TARGET_FALSE_ORDER_STATUS = 0.03
TARGET_ORDER_NUMBERS = 0.95

# Sentences to put an order number in. Written for the bench; the training examples are
# in the data files and these differ from them.
TEMPLATES = (
    "Hi there, could you look into order {n} for me?",
    "Order {n} still hasn't shown up.",
    "what's going on with order number {n}",
    "I need an update on my purchase {n} please",
    "Placed order no. {n} ten days ago, any news?",
    "my order # is {n}",
    "{n} is my order number, when does it ship",
    "Order ID: {n}",
    "Good morning! Regarding order {n}: the tracking has not moved.",
    "Can I still change the address for order {n}?",
    "I'd like to send back one item from order {n}",
    "Status update for order {n} please, it's a gift",
    "order {n} was due on monday",
    "Hello. My order number is {n} and my zip is 94107.",
    "any tracking for order {n}?",
    "Could you tell me what is happening with my order ({n})",
    "When will purchase {n} get here?",
    "hey my confirmation number is {n}, did it ship",
    "Is there an update on order #{n}? Call me at 415-555-2671 if easier",
    "refund for order {n} not received, email jane.doe@example.com",
    "¿Dónde está mi pedido {n}?",
    "el número de pedido es {n}",
)
FORMATS = (
    "1042", "#1042", "#99", "58213", "A-10042", "00123842", "W1234567", "SO-55012",
    "112-3456789-1234567", "1042-B", "R883-2", "ORD123456", "#AB1234", "2026-0042",
)  # fmt: skip
# Sentences with numbers that are NOT order numbers: none may come back as one.
NOT_ORDER_NUMBERS = (
    "my zip is 94107",
    "the zip code is 10001-1234, where is my package",
    "postcode SW1A 1AA",
    "call me on 415-555-2671",
    "my phone number is (212) 555-0187",
    "text me at +44 7700 900123",
    "tracking 1Z999AA10123456784 says delivered",
    "the ups number is 1Z12345E0205271688",
    "royal mail tracking RB123456789GB hasn't moved",
    "fedex tracking 123456789012 shows an exception",
    "usps 9400111899223334445566 is stuck",
    "dhl tracking 1234567890 still in customs",
    "i paid $45.99 and it's late",
    "it was supposed to arrive on 3/12",
    "I ordered 3 shirts 2 weeks ago",
    "it's been 10 days since my order",
    "my order from 2026-03-01 hasn't come",
    "i live at 221 baker street, where's my parcel",
    "ordered 12 march, still nothing after 14 days",
    "my email is bob99@example.com",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DATA, help="folder with clinc150/, banking77/")
    parser.add_argument("--examples", type=int, default=8, help="misclassified examples to print")


# --- the keyword baseline ----------------------------------------------------------------

_BASELINE_RULES = (
    ("missing_or_damaged_item", r"\b(damaged|broken|missing|stolen|wrong item|defective)\b"),
    ("refund_status", r"\brefund"),
    ("start_return", r"\breturn"),
    ("cancel_order", r"\bcancel"),
    ("change_address", r"\baddress\b"),
    ("human_agent", r"\b(human|agent|person|representative)\b"),
    ("delay_reason", r"\b(late|delay|delayed|stuck)\b"),
    ("delivery_date", r"\b(when|eta)\b.*\b(arrive|deliver|get here|come)"),
    ("order_status", r"\b(order|package|parcel|shipment|delivery|track|tracking|shipped)\b"),
    ("greeting", r"^\s*(hi|hello|hey)\b"),
)
_BASELINE = tuple((intent, re.compile(rule, re.I)) for intent, rule in _BASELINE_RULES)
_BASELINE_NUMBER = re.compile(r"#?\b([A-Z]{0,3}-?\d{3,}(?:-\w+)*)\b", re.I)


def baseline_intent(text: str) -> str:
    for intent, rule in _BASELINE:
        if rule.search(text):
            return intent
    return "out_of_scope"


def baseline_order_number(text: str) -> str | None:
    match = _BASELINE_NUMBER.search(text)
    return match[1] if match else None


# --- the sets ------------------------------------------------------------------------------


def _clinc(folder: Path) -> dict[str, list[str]]:
    raw = json.loads((folder / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for split in raw.values():
        for text, intent in split:
            by_intent.setdefault(intent, []).append(text)
    return by_intent


def _banking(folder: Path) -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = {}
    for name in ("train.csv", "test.csv"):
        with (folder / "banking77" / name).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                by_intent.setdefault(row["category"], []).append(row["text"])
    return by_intent


def _share(texts: Iterable[str], hit: Callable[[str], bool]) -> tuple[float, list[str]]:
    items = list(texts)
    hits = [t for t in items if hit(t)]
    return (len(hits) / len(items) if items else float("nan")), hits


def _numbers() -> list[tuple[str, str]]:
    """(sentence, expected order number) for every template and format."""
    cases = []
    for template in TEMPLATES:
        for number in FORMATS:
            sentence = template.format(n=number)
            if "#{n}" in template and number.startswith("#"):
                sentence = template.replace("#{n}", "{n}").format(n=number)
            cases.append((sentence, number.lstrip("#")))
    return cases


def run(args: argparse.Namespace) -> dict[str, Any]:
    say = Progress()
    if not (args.data / "clinc150").is_dir():
        raise SystemExit(f"bench: no intent data in {args.data}")
    started = time.perf_counter()
    trained = classifier.model()
    first_use_s = time.perf_counter() - started
    say(
        f"trained on {trained.examples} examples in {trained.trained_seconds:.2f}s "
        f"(first use incl. imports {first_use_s:.2f}s)"
    )
    today = date(2026, 3, 18)
    understood: dict[str, nlu.Understanding] = {}
    latencies: list[float] = []

    def u(text: str) -> nlu.Understanding:
        found = understood.get(text)
        if found is None:
            t = time.perf_counter()
            found = nlu.understand(text, today=today)
            latencies.append(time.perf_counter() - t)
            understood[text] = found
        return found

    clinc = _clinc(args.data)
    banking = _banking(args.data)
    order_status = clinc["order_status"]
    unrelated = {
        "clinc_oos": clinc["oos"],
        "clinc_account_payment": [t for i in CLINC_ACCOUNT_PAYMENT for t in clinc[i]],
        "banking77": [
            t for i, ts in banking.items() if i.lower() != "refund_not_showing_up" for t in ts
        ],
    }
    refund = banking["Refund_not_showing_up"]
    say(
        f"CLINC order_status {len(order_status)}, unrelated "
        + ", ".join(f"{k} {len(v)}" for k, v in unrelated.items())
        + f", Banking77 Refund_not_showing_up {len(refund)}"
    )

    def model_family(t: str) -> bool:
        return u(t).intent in FAMILY

    def baseline_family(t: str) -> bool:
        return baseline_intent(t) in FAMILY

    recall, _ = _share(order_status, model_family)
    missed = [t for t in order_status if not model_family(t)]
    base_recall, _ = _share(order_status, baseline_family)
    say(f"recall of order status on CLINC order_status: {recall:.1%} (baseline {base_recall:.1%})")
    for t in missed[: args.examples]:
        say(f"  missed: {t!r} -> {u(t).intent} {u(t).confidence:.2f}")
    confident_recall, _ = _share(
        order_status, lambda t: model_family(t) and u(t).confidence >= nlu.CONFIDENT
    )

    all_unrelated = [t for ts in unrelated.values() for t in ts]
    false_rate, false_hits = _share(all_unrelated, model_family)
    base_false, _ = _share(all_unrelated, baseline_family)
    confident_false, _ = _share(
        all_unrelated, lambda t: model_family(t) and u(t).confidence >= nlu.CONFIDENT
    )
    per_source = {k: round(_share(v, model_family)[0], 4) for k, v in unrelated.items()}
    say(
        f"unrelated classified as order status: {false_rate:.2%} of {len(all_unrelated)} "
        f"(baseline {base_false:.2%}); confident: {confident_false:.2%}; per source {per_source}"
    )
    offenders = Counter(
        i
        for i, ts in banking.items()
        for t in ts
        if i.lower() != "refund_not_showing_up" and model_family(t)
    )
    say(f"  Banking77 intents most taken for order status: {offenders.most_common(6)}")
    for t in random.Random(1).sample(false_hits, min(args.examples, len(false_hits))):
        say(f"  false: {t!r} -> {u(t).intent} {u(t).confidence:.2f}")

    refund_share, _ = _share(refund, lambda t: u(t).intent == "refund_status")
    base_refund, _ = _share(refund, lambda t: baseline_intent(t) == "refund_status")
    say(
        f"Banking77 Refund_not_showing_up -> refund_status: {refund_share:.1%} "
        f"(baseline {base_refund:.1%})"
    )

    cases = _numbers()
    got = sum(u(s).entities.order_number == want for s, want in cases)
    base_got = sum(baseline_order_number(s) == want for s, want in cases)
    wrong = [
        (s, want, u(s).entities.order_number)
        for s, want in cases
        if u(s).entities.order_number != want
    ]
    number_rate, base_number_rate = got / len(cases), base_got / len(cases)
    say(
        f"order numbers extracted: {number_rate:.1%} of {len(cases)} "
        f"(baseline {base_number_rate:.1%})"
    )
    for s, want, found in wrong[: args.examples]:
        say(f"  wrong: {s!r} want {want!r} got {found!r}")
    false_numbers = [s for s in NOT_ORDER_NUMBERS if u(s).entities.order_number is not None]
    base_false_numbers = [s for s in NOT_ORDER_NUMBERS if baseline_order_number(s) is not None]
    say(
        f"false order numbers: {len(false_numbers)} of {len(NOT_ORDER_NUMBERS)} "
        f"(baseline {len(base_false_numbers)}) {false_numbers}"
    )

    per_message = sorted(latencies)
    p50 = statistics.median(per_message) * 1e3
    p99 = per_message[int(0.99 * (len(per_message) - 1))] * 1e3
    say(f"{len(per_message)} messages: p50 {p50:.3f} ms, p99 {p99:.3f} ms per message")

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    return {
        "bench": "intents",
        "training_examples": trained.examples,
        "training_s": round(trained.trained_seconds, 3),
        "first_use_s": round(first_use_s, 3),
        "order_status_recall": round(recall, 4),
        "order_status_recall_confident": round(confident_recall, 4),
        "unrelated_as_order_status": round(false_rate, 4),
        "unrelated_as_order_status_confident": round(confident_false, 4),
        "unrelated_by_source": per_source,
        "unrelated_n": len(all_unrelated),
        "refund_not_showing_up_as_refund_status": round(refund_share, 4),
        "order_number_extraction": round(number_rate, 4),
        "order_number_cases": len(cases),
        "false_order_numbers": len(false_numbers),
        "confident_threshold": nlu.CONFIDENT,
        "message_p50_ms": round(p50, 4),
        "message_p99_ms": round(p99, 4),
        "targets_met": {
            "recall": recall >= TARGET_RECALL,
            "unrelated": false_rate <= TARGET_FALSE_ORDER_STATUS,
            "order_numbers": number_rate >= TARGET_ORDER_NUMBERS,
        },
        "baseline": {
            "kind": "keyword rules",
            "order_status_recall": round(base_recall, 4),
            "unrelated_as_order_status": round(base_false, 4),
            "refund_not_showing_up_as_refund_status": round(base_refund, 4),
            "order_number_extraction": round(base_number_rate, 4),
            "false_order_numbers": len(base_false_numbers),
        },
        "ratios": {
            "order_status_recall": ratio(recall, base_recall),
            "unrelated_as_order_status": ratio(false_rate, base_false),
            "refund_not_showing_up_as_refund_status": ratio(refund_share, base_refund),
            "order_number_extraction": ratio(number_rate, base_number_rate),
        },
    }
