"""`python -m bench agent`: the order-status agent's turns, in process, without a language model.

Builds the demo store (`wismo demo`'s simulated retailer, 400 orders by default) in a
temporary SQLite file, then runs conversations through `Agent.start` and `Agent.turn` as
the chat widget would, with the in-memory help desk and code sender. Each conversation:
"where is my order?", the order number, the order's email (verified: the status answer),
"when will it arrive?", "has my refund been processed?", "thanks, bye". Every turn is timed
(understanding, dialogue, the order-status read, reply, grounding check, and storing both
turns in one transaction).

Baseline: `StatusService.by_id` alone for the same orders, in the same run; `ratio` is the
turn's p99 over the baseline's. Also counted: turns whose reply failed the agent's own
grounding check (`ungrounded`), and conversations not verified at the third turn.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench._common import Progress, add_profile_argument, percentile, profiled
from wismo.bootstrap import make_agent
from wismo.conversation.testing import InMemoryHelpDesk, RecordingCodeSender
from wismo.demo.run import build
from wismo.storage.tables import orders

TARGET_P99_MS = 20.0
SCRIPT = (
    "where is my order?",
    "{number}",
    "{email}",
    "when will it arrive?",
    "has my refund been processed?",
    "thanks, bye",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=400, help="orders in the demo store")
    parser.add_argument("--conversations", type=int, default=500, help="timed conversations")
    parser.add_argument("--warmup", type=int, default=20, help="untimed conversations first")
    parser.add_argument("--seed", type=int, default=1, help="which orders are asked about")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    add_profile_argument(parser)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.orders < 1 or args.conversations < 1 or args.warmup < 0:
        raise SystemExit("bench: --orders and --conversations must be positive")
    say = Progress()
    folder = Path(tempfile.mkdtemp(prefix="wismo-bench-agent-"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    say(f"building the demo store ({args.orders} orders) in {folder / 'demo.db'}")
    demo = build(folder / "demo.db", orders=args.orders, now=now, clock=lambda: now)
    try:
        say(f"built in {demo.build_seconds:.1f}s ({demo.history} events)")
        return _measure(demo, args, say)
    finally:
        demo.wismo.close()
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _measure(demo: Any, args: argparse.Namespace, say: Progress) -> dict[str, Any]:
    w, store_id = demo.wismo, demo.store_id
    agent = make_agent(w, help_desk=InMemoryHelpDesk(), code_sender=RecordingCodeSender())
    with w.engine.connect() as conn:
        rows = conn.execute(
            select(orders.c.id, orders.c.order_number, orders.c.email).where(
                orders.c.store_id == store_id, orders.c.email.is_not(None)
            )
        ).all()
    if not rows:
        raise SystemExit("bench: the demo store has no orders with an email")
    rng = random.Random(args.seed)

    def converse(row: Any, times: list[float] | None, tally: dict[str, int]) -> None:
        started = agent.start(store_id, "chat", client=f"bench-{rng.random()}")
        for i, line in enumerate(SCRIPT):
            text = line.format(number=row.order_number, email=row.email)
            t = time.perf_counter_ns()
            result = agent.turn(started.conversation_id, text)
            if times is not None:
                times.append((time.perf_counter_ns() - t) / 1e6)
            tally["ungrounded"] += not result.grounded
            if i == 2 and result.level != "verified":
                tally["not_verified"] += 1
            tally["handed_over"] += result.handed_over and i == len(SCRIPT) - 1

    tally = {"ungrounded": 0, "not_verified": 0, "handed_over": 0}
    for _ in range(args.warmup):
        converse(rng.choice(rows), None, tally)
    chosen = [rng.choice(rows) for _ in range(args.conversations)]
    tally = dict.fromkeys(tally, 0)
    times: list[float] = []
    started = time.perf_counter()
    with profiled(args.profile, say):
        for row in chosen:
            converse(row, times, tally)
    seconds = time.perf_counter() - started
    p50, p99 = percentile(times, 50), percentile(times, 99)
    say(
        f"turns: {len(times)} in {seconds:.1f}s, p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
        f"max {max(times):.3f} ms"
    )
    say(
        f"ungrounded replies {tally['ungrounded']}, conversations not verified at turn 3 "
        f"{tally['not_verified']}"
    )

    base: list[float] = []
    for row in chosen:
        t = time.perf_counter_ns()
        if w.status.by_id(store_id, int(row.id)) is None:
            raise RuntimeError(f"order {row.order_number} not found")
        base.append((time.perf_counter_ns() - t) / 1e6)
    b50, b99 = percentile(base, 50), percentile(base, 99)
    say(f"baseline StatusService.by_id: p50 {b50:.3f} ms, p99 {b99:.3f} ms")
    return {
        "bench": "agent",
        "backend": "sqlite",
        "orders": args.orders,
        "conversations": len(chosen),
        "turns": len(times),
        "turns_per_s": round(len(times) / seconds, 1),
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "max_ms": round(max(times), 3),
        "baseline_p50_ms": round(b50, 3),
        "baseline_p99_ms": round(b99, 3),
        "ratio": round(p99 / b99, 2),
        "ungrounded": tally["ungrounded"],
        "not_verified": tally["not_verified"],
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": p99 <= TARGET_P99_MS,
    }
