"""`python -m bench parse`: raw carrier responses -> normalised scans and status.

Reads every carrier fixture the project wrote (tests/contract/fixtures/carriers/<name>/),
keeps those that are tracking data (error responses are skipped), and times
`registry.parse` + `registry.report` (parse, code tables, message classifier, state
machine) over them in rounds until `--seconds` pass.

Floor: `orjson.loads` (or the XML parser for XML bodies) of the same payloads, the same
number of times: the cost of only reading the bytes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import orjson

from bench._common import Progress
from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "contract" / "fixtures" / "carriers"
TARGET_PAYLOADS_PER_S = 2000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to keep parsing")


def _payloads(say: Progress) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            body = path.read_bytes()
            try:
                registry.parse(folder.name, body)
            except (CarrierError, ValueError):
                continue  # error responses and malformed bodies are not throughput
            found.append((folder.name, body))
    say(f"{len(found)} tracking payloads from {FIXTURES}")
    return found


def _read(body: bytes) -> Any:
    if body.lstrip()[:1] == b"<":
        return ElementTree.fromstring(body)  # noqa: S314 - the project's own fixtures
    return orjson.loads(body)


def run(args: argparse.Namespace) -> dict[str, Any]:
    say = Progress()
    payloads = _payloads(say)
    if not payloads:
        raise SystemExit("bench: no carrier fixtures found")
    rounds = events = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    while time.perf_counter() < deadline or rounds == 0:
        for name, body in payloads:
            for tracking in registry.parse(name, body):
                events += len(registry.report(tracking)["events"])
        rounds += 1
    elapsed = time.perf_counter() - start
    parsed = rounds * len(payloads)
    t = time.perf_counter()
    for _ in range(rounds):
        for _, body in payloads:
            _read(body)
    floor = parsed / (time.perf_counter() - t)
    per_s = parsed / elapsed
    say(f"{parsed:,} payloads, {events:,} events in {elapsed:.2f}s; floor {floor:,.0f}/s")
    return {
        "bench": "parse",
        "carriers": len({n for n, _ in payloads}),
        "payloads": len(payloads),
        "payloads_per_s": round(per_s, 1),
        "events_per_s": round(events / elapsed, 1),
        "floor_payloads_per_s": round(floor, 1),
        "ratio": round(per_s / floor, 4),
        "target_payloads_per_s": TARGET_PAYLOADS_PER_S,
    }
