"""`python -m bench ingest`: tracking events through the whole ingestion path.

Times `Ingestor.ingest(store_id, batch)` on canonical `tracking.event` payloads: inbox,
validation, commands, the shipment state machine and the stored status. Setup (store,
orders, shipments, generating the payloads) is not timed.

The stream is what a busy store sees: scans in time order across many shipments, about 5%
duplicates (resent webhooks, and the same scan reported again by a poller under another
id), about 5% late scans that arrive after a newer scan of their shipment (they make the
shipment's history fold again), and a mix of references by shipment_ref and by
carrier + tracking number.

Floor: the same number of rows, in the same batch sizes with a commit per batch, written
by the database driver's own executemany (rows already in its types) into a table with
the columns and unique key of `tracking_events`, in the same database.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Table, UniqueConstraint, select

from bench._common import (
    Progress,
    add_database_arguments,
    check_schema,
    database,
    percentile,
    profiled,
)
from bench._events import CITIES, OFFSETS, SeedShipment, envelope, ingest_all, seed_events
from wismo.bootstrap import Wismo, bootstrap
from wismo.config import Settings
from wismo.storage.bulk import sqlite_instant
from wismo.storage.stores import create_store
from wismo.storage.tables import shipments, tracking_events

TARGETS = {"sqlite": 10_000, "postgres": 3_000}
DUPLICATE_RATE = 0.05
LATE_RATE = 0.05
RAW_CODES = {
    "picked_up": "PU",
    "in_transit": "IT",
    "exception": "EX",
    "out_for_delivery": "OD",
    "delivery_attempt_failed": "AF",
    "delivered": "DL",
}
DESCRIPTIONS = {
    "picked_up": "Picked up by carrier",
    "in_transit": "Arrived at sort facility",
    "exception": "Held by customs",
    "out_for_delivery": "Out for delivery",
    "delivery_attempt_failed": "Delivery attempted, nobody home",
    "delivered": "Delivered, left with neighbour",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument("--events", type=int, default=100_000, help="tracking events to push")
    parser.add_argument("--batch", type=int, default=1000, help="events per ingest() call")
    parser.add_argument(
        "--shipments", type=int, default=None, help="shipments to spread them over (events/10)"
    )


@dataclass(frozen=True, slots=True)
class Scan:
    shipment: int  # index into the seeded shipments
    step: int  # position in its shipment's journey
    milestone: str
    reason: str
    occurred_at: datetime


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.events < 1 or args.batch < 1:
        raise SystemExit("bench: --events and --batch must be positive")
    say = Progress()
    with database(args.backend, args.keep, say) as url:
        wismo = bootstrap(Settings(database_url=url))
        try:
            check_schema(wismo.engine, say)
            return _measure(wismo, args, say)
        finally:
            wismo.close()


def _measure(wismo: Wismo, args: argparse.Namespace, say: Progress) -> dict[str, Any]:
    rng = random.Random(args.seed)
    shipment_count = args.shipments or max(1, args.events // 10)
    with wismo.engine.begin() as conn:
        store_id = create_store(conn, "bench", "Bench store", "GB", "Europe/London")
    # Recent enough that no scan is past the tracking-number recycling window.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    orders, shipment_events, seeded = seed_events(rng, shipment_count, start, timedelta(days=10))
    t0 = time.perf_counter()
    ingest_all(wismo.ingestor, store_id, orders, 1000)
    ingest_all(wismo.ingestor, store_id, shipment_events, 1000)
    say(
        f"setup: {len(orders)} orders, {len(seeded)} shipments ingested "
        f"in {time.perf_counter() - t0:.1f}s (not timed)"
    )

    bodies, expected, mix = _stream(rng, seeded, args.events, args.batch)
    say(f"generated {len(bodies)} tracking events: {mix}")

    statuses: Counter[str] = Counter()
    batch_ms: list[float] = []
    elapsed = 0.0
    step = max(1, len(bodies) // args.batch // 10)
    with profiled(args.profile, say):
        for n, i in enumerate(range(0, len(bodies), args.batch)):
            chunk = bodies[i : i + args.batch]
            t = time.perf_counter()
            results = wismo.ingestor.ingest(store_id, chunk)
            took = time.perf_counter() - t
            elapsed += took
            batch_ms.append(took * 1000)
            statuses.update(r.status for r in results)
            if n % step == 0:
                done = i + len(chunk)
                say(f"ingested {done}/{len(bodies)}: {done / elapsed:,.0f}/s")
    events_per_s = len(bodies) / elapsed
    say(f"ingest: {events_per_s:,.0f} events/s ({elapsed:.2f}s), statuses {dict(statuses)}")

    mismatches = _check_states(wismo.engine, store_id, expected)
    say(f"state check: {mismatches} of {len(expected)} shipments differ from the expected state")

    floor_per_s = _floor(wismo.engine, rng, len(bodies), args.batch, len(seeded))
    say(f"floor: {floor_per_s:,.0f} rows/s with a bare executemany INSERT")

    target = TARGETS[args.backend]
    return {
        "bench": "ingest",
        "backend": args.backend,
        "events": len(bodies),
        "batch": args.batch,
        "shipments": len(seeded),
        "events_per_s": round(events_per_s, 1),
        "floor_events_per_s": round(floor_per_s, 1),
        "ratio": round(events_per_s / floor_per_s, 4),
        "batch_p50_ms": round(percentile(batch_ms, 50), 2),
        "batch_p99_ms": round(percentile(batch_ms, 99), 2),
        "statuses": dict(statuses),
        "mix": mix,
        "state_mismatches": mismatches,
        "target_events_per_s": target,
        "meets_target": events_per_s >= target,
    }


def _journey(rng: random.Random, length: int) -> list[tuple[str, str]]:
    """Milestones (and reasons) of one parcel, in the order they happen."""
    if length <= 0:
        return []
    if length == 1:
        return [("picked_up", "none")]
    tail: list[tuple[str, str]] = []
    if length >= 3 and rng.random() < 0.8:
        tail = [("out_for_delivery", "none"), ("delivered", "none")]
        if length >= 6 and rng.random() < 0.1:
            tail = [
                ("out_for_delivery", "none"),
                ("delivery_attempt_failed", "recipient_unavailable"),
                ("out_for_delivery", "none"),
                ("delivered", "none"),
            ]
    middle = [("in_transit", "none")] * (length - 1 - len(tail))
    if len(middle) >= 2 and rng.random() < 0.08:
        middle[rng.randrange(len(middle))] = rng.choice(
            [("exception", "customs_hold"), ("in_transit", "weather"), ("in_transit", "none")]
        )
    return [("picked_up", "none"), *middle, *tail]


def _lengths(rng: random.Random, total: int, count: int) -> list[int]:
    """Journey lengths that vary per shipment and add up to `total` exactly."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(count)]
    scale = total / sum(weights)
    low = 1 if total >= count else 0
    lengths = [max(low, int(w * scale)) for w in weights]
    diff = total - sum(lengths)
    # Each pass moves the sum by one or skips a journey already at its minimum; the
    # bound is generous and only guards against a mistake here.
    for _ in range(100 * count + abs(diff) * 10):
        if diff == 0:
            break
        i = rng.randrange(count)
        if diff > 0:
            lengths[i] += 1
            diff -= 1
        elif lengths[i] > low:
            lengths[i] -= 1
            diff += 1
    if diff:
        raise RuntimeError("could not split the events over the shipments")
    return lengths


def _stream(
    rng: random.Random, seeded: list[SeedShipment], total: int, batch: int
) -> tuple[list[bytes], dict[str, tuple[str, int]], dict[str, int]]:
    """The payloads in arrival order, each shipment's expected (milestone, event_count),
    and the make-up of the stream (`resent` ones the inbox must report as duplicates)."""
    duplicates = round(total * DUPLICATE_RATE)
    unique = total - duplicates
    scans: list[Scan] = []
    journeys: list[list[int]] = []  # indexes into `scans`, per shipment
    expected: dict[str, tuple[str, int]] = {}
    for s, (ship, length) in enumerate(
        zip(seeded, _lengths(rng, unique, len(seeded)), strict=True)
    ):
        at = ship.created_at + timedelta(seconds=rng.randint(3_600, 12 * 3_600))
        ids: list[int] = []
        for step, (milestone, reason) in enumerate(_journey(rng, length)):
            ids.append(len(scans))
            scans.append(Scan(s, step, milestone, reason, at))
            at += timedelta(seconds=rng.randint(1_800, 10 * 3_600))
        journeys.append(ids)
        # The label scan recorded at shipment creation counts as one event.
        last = scans[ids[-1]].milestone if ids else "label_created"
        expected[ship.ref] = (last, len(ids) + 1)

    arrival = sorted(range(len(scans)), key=lambda k: scans[k].occurred_at)
    position = {k: float(p) for p, k in enumerate(arrival)}
    # A late scan is placed after its shipment's next scan, up to two batches later, so
    # some are late within a batch and most across batches (the re-fold path).
    with_successor = [
        k for k in range(len(scans)) if scans[k].step + 1 < len(journeys[scans[k].shipment])
    ]
    late = rng.sample(with_successor, min(len(with_successor), round(total * LATE_RATE)))
    for k in late:
        successor = journeys[scans[k].shipment][scans[k].step + 1]
        position[k] = position[successor] + rng.uniform(0.5, 2 * batch)

    mix = {"late": len(late), "by_tracking_number": 0, "resent": 0, "re_sourced": 0}

    def body(k: int, event_id: str, source: str) -> bytes:
        payload, by_number = _tracking_body(
            rng, seeded[scans[k].shipment], scans[k], event_id, source
        )
        mix["by_tracking_number"] += by_number
        return payload

    entries: list[tuple[float, bytes]] = []
    originals: list[bytes] = []
    for k in range(len(scans)):
        originals.append(body(k, f"trk-{k}", "carrier-webhook"))
        entries.append((position[k], originals[k]))
    for d in range(duplicates if scans else 0):
        k = rng.randrange(len(scans))
        later = position[k] + rng.uniform(0.5, 3 * batch)
        if rng.random() < 0.5:
            # The same webhook delivered twice: the inbox must drop it.
            mix["resent"] += 1
            entries.append((later, originals[k]))
        else:
            # The same scan from a poller under its own id: stored once, by fingerprint.
            mix["re_sourced"] += 1
            entries.append((later, body(k, f"poll-{d}", "carrier-poll")))
    entries.sort(key=lambda e: e[0])
    return [b for _, b in entries], expected, mix


def _tracking_body(
    rng: random.Random, ship: SeedShipment, scan: Scan, event_id: str, source: str
) -> tuple[bytes, bool]:
    """The payload, and whether it names the shipment by tracking number."""
    city, country = CITIES[scan.shipment % len(CITIES)]
    local = scan.occurred_at.astimezone(OFFSETS[scan.shipment % len(OFFSETS)])
    data: dict[str, Any] = {
        "milestone": scan.milestone,
        "reason": scan.reason,
        "raw_code": RAW_CODES[scan.milestone],
        "description": DESCRIPTIONS[scan.milestone],
        "location": {"city": city, "country": country, "facility": f"{city} hub"},
        "occurred_at": local,
    }
    pick = rng.random()
    if pick < 0.8:
        data["shipment_ref"] = ship.ref
    elif pick < 0.95:
        data["carrier"] = ship.carrier.upper()
        data["tracking_number"] = ship.tracking_number
    else:
        data["tracking_number"] = ship.tracking_number
    if scan.milestone in ("picked_up", "exception") or rng.random() < 0.1:
        data["estimated_delivery_at"] = local + timedelta(days=rng.randint(1, 3))
    return envelope(event_id, source, "tracking.event", data), "shipment_ref" not in data


def _check_states(engine: Engine, store_id: int, expected: dict[str, tuple[str, int]]) -> int:
    """Shipments whose stored milestone or event count is not what the stream implies."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(shipments.c.shipment_ref, shipments.c.milestone, shipments.c.event_count).where(
                shipments.c.store_id == store_id
            )
        ).all()
    got = {r.shipment_ref: (r.milestone, r.event_count) for r in rows}
    return sum(1 for ref, want in expected.items() if got.get(ref) != want)


def _floor(engine: Engine, rng: random.Random, count: int, batch: int, shipment_ids: int) -> float:
    md = MetaData()
    Table(
        "bench_floor_events",
        md,
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in tracking_events.columns
        ),
        UniqueConstraint("shipment_id", "fingerprint"),
    )
    md.drop_all(engine)
    md.create_all(engine)
    now = datetime.now(UTC)
    base = now - timedelta(days=20)
    pg = engine.dialect.name == "postgresql"

    def instant(moment: datetime | None) -> object:
        return moment if pg else sqlite_instant(moment)

    # Rows already in the driver's types, written by the driver's own executemany: the
    # cheapest way to put these rows into this database, with no Wismo or Core code.
    rows = [
        (
            rng.randint(1, shipment_ids),
            f"{i}|in_transit|IT",
            "in_transit",
            "none",
            "IT",
            "code",
            DESCRIPTIONS["in_transit"],
            '{"city": "Leeds", "country": "GB", "facility": "Leeds hub"}',
            instant(base + timedelta(seconds=i)),
            "+01:00",
            None,
            "carrier-webhook",
            instant(now),
        )
        for i in range(count)
    ]
    marks = ", ".join(["%s" if pg else "?"] * 13)
    sql = (
        "INSERT INTO bench_floor_events (shipment_id, fingerprint, milestone, reason, raw_code,"
        " mapped_by, description, location, occurred_at, occurred_tz, estimated_delivery_at,"
        f" source, received_at) VALUES ({marks})"
    )
    elapsed = 0.0
    with engine.connect() as conn:
        for i in range(0, count, batch):
            t = time.perf_counter()
            conn.exec_driver_sql(sql, rows[i : i + batch])
            conn.commit()
            elapsed += time.perf_counter() - t
    md.drop_all(engine)
    return count / elapsed
