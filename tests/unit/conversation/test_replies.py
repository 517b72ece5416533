"""Replies composed from the order-status answer: per channel, per language, only what the
policy allows, and grounded in the record by construction."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wismo.conversation.grounding import Facts, check
from wismo.conversation.policy import ANONYMOUS, Category, DisclosurePolicy, Identity, Level, Method
from wismo.conversation.replies import PROMPTS, TOPICS, answer_reply, mask_contact, prompt_reply
from wismo.conversation.texts import Texts, templates
from wismo.domain.milestones import PROBLEM_MILESTONES, Milestone, Reason
from wismo.domain.model import RefundMethod, RefundState, ReturnState
from wismo.services.status import (
    CARRIER_NAMES,
    Estimate,
    Item,
    OrderStatusAnswer,
    Package,
    Problem,
    RefundAnswer,
    ReturnAnswer,
    Scan,
    carrier_name,
)
from wismo.services.wording import FINDING_TEXT, STATUS_TEXT

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
TODAY = date(2026, 12, 3)
ORDER_ID = 7
POLICY = DisclosurePolicy()
CHANNELS = ("chat", "sms", "voice")
LANGUAGES = ("en", "es")
WISMO = Estimate(date(2026, 12, 4), date(2026, 12, 6), "wismo", date(2026, 12, 5), 0.8)
SPOKEN_SYMBOLS = re.compile(r"[#%/()\u00d7\u2013*@<>\[\]{}|\\$€£¥]|https?:")


def verified(method: Method = Method.EMAIL) -> Identity:
    return Identity(Level.VERIFIED, method, 1, frozenset({ORDER_ID}), "jane@example.com")


def package(
    ref: str = "S1",
    status: Milestone = Milestone.IN_TRANSIT,
    *,
    carrier: str = "ups",
    tracking: str | None = "1Z999AA10123456784",
    reason: Reason = Reason.NONE,
    estimate: Estimate | None = None,
    delivered_at: datetime | None = None,
    location: str | None = "MEMPHIS, TN, US",
    late: bool = False,
    predicted_late: bool = False,
    alerts: tuple[str, ...] = (),
    contents: tuple[Item, ...] = (Item("Blue mug", 2),),
) -> Package:
    problem = None
    if reason is not Reason.NONE or status in PROBLEM_MILESTONES:
        code = reason.value if reason is not Reason.NONE else status.value
        problem = Problem(code, "carrier problem", None)
    found = tuple(Problem(code, FINDING_TEXT[code][0], FINDING_TEXT[code][1]) for code in alerts)
    scan_at = datetime(2026, 12, 1, 14, 20, tzinfo=timezone(timedelta(hours=-6)))
    return Package(
        shipment_ref=ref,
        carrier=carrier,
        carrier_name=carrier_name(carrier),
        service_level=None,
        tracking_number=tracking,
        status=status,
        status_text=STATUS_TEXT[status],
        reason=reason,
        contents=contents,
        last_scan=Scan(scan_at, location, "Arrived") if location is not None else None,
        delivered_at=delivered_at,
        estimate=estimate,
        late=late,
        problem=problem or (found[0] if found else None),
        predicted_late=predicted_late,
        alerts=found,
    )


def answer(
    *packages: Package,
    status: Milestone | None = None,
    cancelled: bool = False,
    estimate: Estimate | None = None,
    late: bool = False,
    predicted_late: bool = False,
    returns: tuple[ReturnAnswer, ...] = (),
    refunds: tuple[RefundAnswer, ...] = (),
    not_yet_shipped: tuple[Item, ...] = (),
    language: str = "en",
    order_number: str = "1001",
) -> OrderStatusAnswer:
    return OrderStatusAnswer(
        order_id=ORDER_ID,
        order_number=order_number,
        placed_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        status=status or (packages[0].status if packages else Milestone.CONFIRMED),
        headline="",
        summary=None,
        cancelled=cancelled,
        packages=packages,
        not_yet_shipped=not_yet_shipped,
        estimate=estimate,
        promised=None,
        late=late,
        problem=next((p.problem for p in packages if p.problem), None),
        returns=returns,
        refunds=refunds,
        generated_at=NOW,
        language=language,
        time_zone="America/Chicago",
        predicted_late=predicted_late,
    )


def refund(
    amount: str = "25.00",
    currency: str = "USD",
    *,
    state: RefundState = RefundState.PROCESSED,
    expected_by_on: date | None = date(2026, 12, 13),
    estimate: bool = True,
) -> RefundAnswer:
    return RefundAnswer(
        "RF1",
        Decimal(amount),
        currency,
        RefundMethod.ORIGINAL_PAYMENT,
        state,
        "",
        NOW,
        expected_by_on,
        estimate,
    )


def a_return(state: ReturnState = ReturnState.RECEIVED) -> ReturnAnswer:
    return ReturnAnswer(
        "R1", state, "", (Item("Teapot", 1),), "usps", "9400111899223100001234", NOW
    )


SPLIT = answer(
    package(
        "S1",
        Milestone.DELIVERED,
        tracking="1Z999AA10000000001",
        delivered_at=datetime(2026, 12, 2, 16, 5, tzinfo=UTC),
    ),
    package("S2", Milestone.IN_TRANSIT, estimate=WISMO),
    package("S3", Milestone.LABEL_CREATED, carrier="fedex", tracking="771234567890"),
    status=Milestone.IN_TRANSIT,
)


def reply(
    a: OrderStatusAnswer,
    topic: str,
    channel: str = "chat",
    *,
    language: str | None = None,
    package_ref: str | None = None,
) -> str:
    """The reply's text, after asserting that it is grounded in its own facts."""
    made = answer_reply(
        a,
        topic,
        channel=channel,
        identity=verified(),
        policy=POLICY,
        language=language,
        package_ref=package_ref,
    )
    assert check(made.text, made.facts, today=TODAY) == []
    return made.text


# --- property: every template reply is grounded in its own facts -------------------------

days = st.dates(min_value=date(2026, 11, 20), max_value=date(2027, 1, 31))


@st.composite
def estimates(draw: st.DrawFn) -> Estimate | None:
    if draw(st.booleans()):
        return None
    a, b, c = sorted(draw(st.lists(days, min_size=3, max_size=3)))
    kind = draw(st.sampled_from(["carrier", "wismo", "merchant_promise", "single"]))
    if kind == "wismo":
        return Estimate(a, c, "wismo", b, draw(st.sampled_from([0.5, 0.8, 0.95])))
    if kind == "single":
        return Estimate(None, c, "carrier", c)
    return Estimate(a if draw(st.booleans()) else None, c, kind)


@st.composite
def packages(draw: st.DrawFn, ref: str) -> Package:
    status = draw(st.sampled_from(list(Milestone)))
    delivered = status is Milestone.DELIVERED
    return package(
        ref,
        status,
        carrier=draw(st.sampled_from(sorted(CARRIER_NAMES))),
        tracking=draw(st.one_of(st.none(), st.from_regex(r"[0-9][A-Z0-9]{9,21}", fullmatch=True))),
        reason=draw(st.sampled_from(list(Reason))),
        estimate=None if delivered else draw(estimates()),
        delivered_at=NOW - timedelta(hours=draw(st.integers(1, 300))) if delivered else None,
        location=draw(st.sampled_from([None, "MEMPHIS, TN, US", "Köln", "Louisville KY"])),
        late=draw(st.booleans()),
        predicted_late=draw(st.booleans()),
        alerts=tuple(draw(st.sets(st.sampled_from(sorted(FINDING_TEXT)), max_size=2))),
        contents=tuple(
            Item(t, draw(st.integers(1, 3)))
            for t in draw(
                st.sets(
                    st.sampled_from(
                        ["Blue mug", "Delivered Tee", "Case SM-G991B12345", "Mug 12/05/2026"]
                    ),
                    max_size=2,
                )
            )
        ),
    )


@st.composite
def answers(draw: st.DrawFn) -> OrderStatusAnswer:
    count = draw(st.integers(0, 4))
    pkgs = tuple(draw(packages(f"S{i}")) for i in range(count))
    return answer(
        *pkgs,
        status=draw(st.sampled_from(list(Milestone))),
        cancelled=draw(st.booleans()),
        estimate=draw(estimates()),
        late=draw(st.booleans()),
        predicted_late=draw(st.booleans()),
        not_yet_shipped=(Item("Teapot", 1),) if draw(st.booleans()) else (),
        returns=tuple(
            a_return(s) for s in draw(st.lists(st.sampled_from(list(ReturnState)), max_size=2))
        ),
        refunds=tuple(
            refund(
                str(draw(st.decimals(1, 5000, places=2))),
                draw(st.sampled_from(["USD", "EUR", "GBP", "CAD", "JPY", "MXN"])),
                state=draw(st.sampled_from(list(RefundState))),
                expected_by_on=draw(st.one_of(st.none(), days)),
                estimate=draw(st.booleans()),
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
        order_number=draw(st.sampled_from(["1001", "#1002", "A-20931"])),
    )


POLICIES = [
    POLICY,
    DisclosurePolicy.from_config({"estimate": ["otp"]}),
    DisclosurePolicy.from_config({"tracking": ["otp"], "amounts": ["otp"]}),
    DisclosurePolicy.from_config({"refunds": [], "returns": ["phone"]}),
]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=answers(),
    topic=st.sampled_from(sorted(TOPICS)),
    channel=st.sampled_from(CHANNELS),
    language=st.sampled_from(LANGUAGES),
    method=st.sampled_from(list(Method)),
    policy=st.sampled_from(POLICIES),
)
def test_every_template_reply_passes_the_grounding_check(
    *,
    a: OrderStatusAnswer,
    topic: str,
    channel: str,
    language: str,
    method: Method,
    policy: DisclosurePolicy,
) -> None:
    """Whatever the order and the policy, our own reply states only facts it may state."""
    made = answer_reply(
        a, topic, channel=channel, identity=verified(method), policy=policy, language=language
    )
    assert check(made.text, made.facts, language=language, today=TODAY) == [], made.text
    assert made.text.strip()
    if channel == "sms":
        assert len(made.text) <= 320
    if channel == "voice" and topic != "items":  # item titles are the merchant's own text
        assert not SPOKEN_SYMBOLS.search(made.text), made.text


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", sorted(PROMPTS))
def test_prompt_replies_state_no_facts(key: str, channel: str, language: str) -> None:
    """Fixed messages pass the check with no facts at all, apart from the slots given."""
    slots = {
        "choices": "#1001 or #1002",
        "contact": "j***@e***.com",
        "ticket": "ZD-48213",
        "order": "1001",
    }
    made = prompt_reply(key, channel=channel, language=language, **slots)
    needed = set(re.findall(r"{(\w+)}", Texts(language, channel).raw("prompt", key) or ""))
    if not needed:
        assert check(made.text, Facts.empty(), language=language, today=TODAY) == []
    assert check(made.text, made.facts, language=language, today=TODAY) == []
    assert made.facts.quoted <= set(slots.values())
    if channel == "voice":
        assert not SPOKEN_SYMBOLS.search(made.text.replace(slots["choices"], ""))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_linked_greeting_names_an_order_only_as_a_verified_fact(language: str) -> None:
    """Its order number passes the check only as the slot given (the verified order)."""
    made = prompt_reply("greeting_linked", channel="chat", language=language, order="1001")
    assert "1001" in made.text
    found = check(made.text, Facts.empty(), language=language, today=TODAY)
    assert [v.kind for v in found] == ["order_number"]
    assert check(made.text, made.facts, language=language, today=TODAY) == []


# --- what the replies say ----------------------------------------------------------------


def test_split_shipment_is_answered_per_package() -> None:
    """A split order: how many delivered, then each package with carrier, number and state."""
    text = reply(SPLIT, "order_status")
    lines = text.splitlines()
    assert lines[0] == "Order 1001 is in 3 packages: 1 of 3 delivered."
    assert lines[1] == "Package 1 (UPS 1Z999AA10000000001): Delivered on Wed 2 Dec, 10:05."
    assert lines[2].startswith("Package 2 (UPS 1Z999AA10123456784): On its way.")
    assert "Expected Sat 5 Dec (Fri, Dec 4\u2009\u2013\u2009Sun, Dec 6, 80% likely)" in lines[2]
    assert "Last scan in MEMPHIS, TN, US on Tue 1 Dec, 14:20." in lines[2]
    assert lines[3].startswith("Package 3 (FedEx 771234567890): Packed")


def test_package_ref_narrows_a_split_order_to_one_package() -> None:
    """Asking about one tracking number answers for that package only."""
    text = reply(SPLIT, "order_status", package_ref="1Z999AA10123456784")
    assert text.startswith("Package 2 (UPS 1Z999AA10123456784): On its way.")
    assert "FedEx" not in text
    assert "Package 1" not in text


def test_cancelled_order_says_so_and_promises_nothing() -> None:
    """A cancelled order is answered as cancelled, in both languages, with no dates."""
    cancelled = answer(package(estimate=WISMO), cancelled=True)
    assert reply(cancelled, "order_status") == "Order 1001 was cancelled."
    assert reply(cancelled, "delivery_date", language="es") == "El pedido 1001 está cancelado."


def test_order_not_shipped_gives_the_order_estimate() -> None:
    """Before anything ships, the order's status and its expected window are given."""
    waiting = answer(
        status=Milestone.AWAITING_FULFILMENT,
        estimate=Estimate(date(2026, 12, 7), date(2026, 12, 9), "merchant_promise"),
    )
    text = reply(waiting, "order_status")
    assert text == (
        "Order 1001: Being prepared for shipping. "
        "Expected Mon, Dec 7\u2009\u2013\u2009Wed, Dec 9 (the date promised at checkout)."
    )


def test_delay_reason_explains_the_problem_and_what_happens_next() -> None:
    """A customs hold is explained with the next step."""
    held = answer(package(status=Milestone.EXCEPTION, reason=Reason.CUSTOMS_HOLD))
    text = reply(held, "delay_reason")
    assert "held at customs" in text
    assert "1 to 3 working days" in text


def test_delay_reason_words_our_own_findings() -> None:
    """A parcel with no scan for days is explained from Wismo's finding."""
    quiet = answer(package(alerts=("no_scan_in_transit",)))
    assert "UPS has not scanned the parcel for a few working days." in reply(quiet, "delay_reason")
    spanish = reply(quiet, "delay_reason", language="es")
    assert "UPS no ha escaneado el paquete" in spanish


def test_delay_reason_says_honestly_when_there_is_no_known_problem() -> None:
    """No problem, not late: the reply says so rather than inventing a reason."""
    text = reply(answer(package(estimate=WISMO)), "delay_reason")
    assert "I can't see any delay or problem with order 1001." in text


def test_late_without_a_reason_says_the_carrier_gave_none() -> None:
    """Late with no problem reported: late, and no reason invented."""
    text = reply(answer(package(late=True), late=True), "delay_reason")
    assert "later than we promised, and the carrier has not given a reason" in text


def test_refund_amount_needs_a_strong_method() -> None:
    """With e-mail the amount is given; with a postal code the state only, and it says so."""
    a = answer(refunds=(refund(),))
    assert reply(a, "refund_status") == (
        "Refund issued: $25.00 to your original payment method. Expected by Sun 13 Dec (estimate)."
    )
    weak = answer_reply(
        a, "refund_status", channel="chat", identity=verified(Method.POSTAL_CODE), policy=POLICY
    )
    assert "$" not in weak.text
    assert weak.text.startswith("Refund issued.")
    assert Category.AMOUNTS in weak.withheld


def test_refund_date_is_labelled_an_estimate_only_when_it_is_one() -> None:
    """A date the source gave is stated plainly; our estimate says so, also when spoken."""
    given_date = reply(answer(refunds=(refund(estimate=False),)), "refund_status")
    assert given_date.endswith("Expected by Sun 13 Dec.")
    spoken = reply(answer(refunds=(refund(),)), "refund_status", channel="voice")
    assert "25.00 US dollars" in spoken
    assert "Sunday the 13th of December. That date is our estimate." in spoken


def test_each_return_is_answered() -> None:
    """Two returns are numbered, each with its state."""
    two = answer(returns=(a_return(), a_return(ReturnState.CLOSED)))
    text = reply(two, "return_status")
    assert text.splitlines()[0].startswith("1. Return received, being checked.")
    assert text.splitlines()[1].startswith("2. Return complete.")
    assert reply(answer(), "return_status") == "There is no return on order 1001."


def test_items_are_hidden_from_postal_code_verification() -> None:
    """Asking for the items with weak proof asks for stronger proof instead."""
    made = answer_reply(
        SPLIT, "items", channel="chat", identity=verified(Method.POSTAL_CODE), policy=POLICY
    )
    assert made.key == "items"
    assert "Blue mug" not in made.text
    assert made.withheld == {Category.ITEMS}
    assert made.text == prompt_reply("need_stronger", channel="chat").text


def test_nothing_is_said_about_an_order_before_verification() -> None:
    """Anonymous: no order facts at all, and the reply says why."""
    made = answer_reply(SPLIT, "order_status", channel="chat", identity=ANONYMOUS, policy=POLICY)
    assert made.text == prompt_reply("not_verified", channel="chat").text
    assert made.facts == Facts.empty()
    assert "1001" not in made.text


def test_no_order_data_is_an_honest_reply() -> None:
    """Without an answer the reply says it cannot see the order."""
    made = answer_reply(None, "order_status", channel="sms", identity=verified(), policy=POLICY)
    assert made.text.startswith("Sorry, I can't see the details of this order")


def test_voice_speaks_dates_and_keeps_tracking_numbers_back() -> None:
    """Spoken: full dates, no symbols, no tracking number unless the topic is tracking."""
    spoken = reply(SPLIT, "order_status", channel="voice")
    assert "most likely on Saturday the 5th of December" in spoken
    assert "1Z999" not in spoken
    assert not SPOKEN_SYMBOLS.search(spoken)
    tracking = reply(SPLIT, "tracking", channel="voice")
    assert "tracking number 1Z9 99A A10 123 456 784" in tracking
    assert "tracking number 771 234 567 890" in tracking


def test_spanish_replies_use_spanish_dates_and_wording() -> None:
    """Spanish: statuses from the catalogue, dates by babel, spoken dates in Spanish."""
    text = reply(SPLIT, "order_status", language="es")
    assert text.splitlines()[0] == "El pedido 1001 va en 3 paquetes: 1 de 3 entregados."
    assert "Entregado el mié 2 dic, 10:05." in text
    spoken = reply(SPLIT, "delivery_date", channel="voice", language="es")
    assert "lo más probable el sábado 5 de diciembre" in spoken


def test_language_falls_back_to_english() -> None:
    """An unsupported language replies in English; a key missing in Spanish uses English."""
    french = answer_reply(
        SPLIT, "order_status", channel="chat", identity=verified(), policy=POLICY, language="fr"
    )
    assert french.language == "en"
    assert "items" not in templates("es")["answer"]
    assert Texts("es", "chat")("answer", "items", quantity=2, title="Mug") == "2 \u00d7 Mug"


def test_sms_stays_within_320_characters() -> None:
    """Many packages: details are dropped first, and the message still fits."""
    many = answer(
        *(package(f"S{i}", estimate=WISMO, tracking=f"1Z999AA1000000000{i}") for i in range(8))
    )
    text = reply(many, "order_status", channel="sms")
    assert len(text) <= 320
    assert text.startswith("Order 1001 is in 8 packages.")


def test_bad_topic_channel_or_slot_is_refused_by_name() -> None:
    """Unknown topic, channel or prompt key, or a missing slot: ValueError naming it."""
    with pytest.raises(ValueError, match="topic"):
        answer_reply(SPLIT, "weather", channel="chat", identity=verified(), policy=POLICY)
    with pytest.raises(ValueError, match="channel"):
        answer_reply(SPLIT, "order_status", channel="fax", identity=verified(), policy=POLICY)
    with pytest.raises(ValueError, match="prompt"):
        prompt_reply("sing", channel="chat")
    with pytest.raises(ValueError, match="ticket"):
        prompt_reply("handoff", channel="chat")


def test_verify_failed_cannot_tell_an_unknown_order_from_a_wrong_contact() -> None:
    """One text with no slots, so it cannot vary with the reason verification failed."""
    for language in LANGUAGES:
        raw = Texts(language, "chat").raw("prompt", "verify_failed") or ""
        assert "{" not in raw
        assert prompt_reply("verify_failed", channel="chat", language=language).text == raw


def test_required_prompts_exist_in_every_language() -> None:
    """Every message the dialogue needs is there, with the same slots in each language."""
    needed = (
        "greeting ask_order_number ask_contact ask_which_order verified verify_failed "
        "code_sent code_expired code_wrong locked_out clarify handoff handoff_failed "
        "out_of_scope goodbye repeat_contact start_return cancel_order change_address fallback"
    )
    assert set(needed.split()) <= PROMPTS
    en = templates("en")
    for language in LANGUAGES:
        for section, keys in templates(language).items():
            for key, value in keys.items():
                if section == "alert":  # English falls back to the tracking page's wording
                    assert key.removesuffix("_next") in FINDING_TEXT, key
                    continue
                if section == "date":  # each language picks from weekday/day/ordinal/month
                    assert set(re.findall(r"{(\w+)}", value)) <= {
                        "weekday",
                        "day",
                        "ordinal",
                        "month",
                    }
                    continue
                assert key in en[section], f"{language}: {section}.{key} is not in en.yaml"
                ours = value if isinstance(value, dict) else {"chat": value}
                theirs = en[section][key]
                theirs = theirs if isinstance(theirs, dict) else {"chat": theirs}
                for channel, text in ours.items():
                    base = str(theirs.get(channel, theirs.get("chat", "")))
                    assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", base)), (
                        f"{language}: {section}.{key}.{channel}"
                    )


def test_contacts_are_masked() -> None:
    """E-mail and phone are shown enough to recognise, not to read."""
    assert mask_contact("jane.doe@example.com") == "j***@e***.com"
    assert mask_contact("+1 415 555 0100") == "***0100"
