"""`python -m bench sweep --open 1000000 --due 10000`: one sweep of the due shipments.

Fills a database with `--open` open shipments (each with its order) of which `--due` are
due for a check, in the mix a store sees: labels waiting for a first scan, parcels in
transit (some stalled), out for delivery, some past their promised date; a due parcel the
carrier has is given two hub scans and, one in two, a scan at the post office that delivers it
(the arrival check reads them). The store also has
`--history` delivered shipments, which the sweeper learns before the timed part (a
long-running sweeper learns once, then only new deliveries). The timed part is one
`Sweeper.sweep()` of all due shipments: forecasts, exception rules, timeline entries and
the next check written back.

The same is done again with `--baseline-open` (default 100,000) open shipments and the same
due ones: the sweeper reads only due rows through the `next_check_at` index, so the two
times should be close. Each sweep is repeated `--repeat` times (the due rows are made due
again and their entries removed in between) and the median is reported.

Last line: JSON with `seconds` (at `--open`), `seconds_open_100000` (at the baseline size),
and `ratio` (their quotient).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, text

from bench._common import Progress, add_database_arguments, check_schema, database, profiled
from wismo.bootstrap import Wismo, bootstrap, make_sweeper
from wismo.config import Settings
from wismo.storage import bulk
from wismo.storage import stores as store_db
from wismo.testing import FakeClock

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday
CARRIERS = ("ups", "fedex", "usps", "dhl")
SERVICES = ("ground", "express", None)
REGIONS = ("CA", "NY", "TX", "FL", "WA", "IL")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--open", type=int, default=1_000_000, help="open shipments")
    parser.add_argument("--due", type=int, default=10_000, help="of which due now")
    parser.add_argument(
        "--baseline-open", type=int, default=100_000, help="open shipments of the baseline run"
    )
    parser.add_argument("--history", type=int, default=5_000, help="delivered shipments")
    parser.add_argument("--repeat", type=int, default=3, help="sweeps timed per size")
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> dict[str, Any]:
    say = Progress()
    if args.due > args.baseline_open or args.baseline_open > args.open:
        raise SystemExit("bench: need --due <= --baseline-open <= --open")
    big = _measure(args, args.open, say)
    base = _measure(args, args.baseline_open, say)
    return {
        "seconds": round(big["seconds"], 3),
        f"seconds_open_{args.baseline_open}": round(base["seconds"], 3),
        "ratio": round(big["seconds"] / base["seconds"], 3),
        "due": args.due,
        "open": args.open,
        "per_shipment_us": round(big["seconds"] / args.due * 1e6, 1),
        "findings": big["findings"],
        "revisions": big["revisions"],
        "backend": args.backend,
    }


def _measure(args: argparse.Namespace, open_count: int, say: Progress) -> dict[str, Any]:
    with database(args.backend, args.keep, say) as url:
        clock = FakeClock(NOW)
        w = bootstrap(Settings(database_url=url), clock=clock)
        try:
            check_schema(w.engine, say)
            started = time.perf_counter()
            due_ids = _fill(w, open_count, args.due, args.history, args.seed)
            filled = time.perf_counter() - started
            say(f"{open_count:,} open ({args.due:,} due) filled in {filled:.1f}s")
            sweeper = make_sweeper(w, batch_size=args.due)
            with w.engine.connect() as conn:
                store_ids = [int(r[0]) for r in conn.exec_driver_sql("SELECT id FROM stores")]
            sweeper.learn(store_ids)
            times: list[float] = []
            counts: dict[str, int] = {}
            for attempt in range(args.repeat):
                if attempt:
                    _make_due_again(w.engine, due_ids)
                with profiled(args.profile if attempt == 0 else None, say):
                    started = time.perf_counter()
                    report = sweeper.sweep(limit=args.due)
                    times.append(time.perf_counter() - started)
                if report.checked != args.due:
                    raise SystemExit(f"bench: swept {report.checked}, expected {args.due}")
                counts = {"findings": report.findings, "revisions": report.revisions}
                say(
                    f"sweep {attempt + 1}: {report.checked:,} checked in {times[-1]:.3f}s,"
                    f" {report.findings:,} findings, {report.revisions:,} revisions"
                )
            return {"seconds": statistics.median(times), **counts}
        finally:
            w.close()


def _fill(w: Wismo, open_count: int, due: int, history: int, seed: int) -> list[int]:
    """Orders and shipments written straight to the tables (the ingestion path has its own
    benchmark); returns the ids of the due shipments."""
    rng = random.Random(seed)
    with w.engine.begin() as conn:
        store_id = store_db.create_store(conn, "bench", "Bench", "US", "America/New_York")
    pg = w.engine.dialect.name == "postgresql"

    def instant(moment: datetime | None) -> Any:
        return moment if pg else bulk.sqlite_instant(moment)

    def day(moment: datetime | None) -> Any:
        if moment is None:
            return None
        return moment.date() if pg else moment.date().isoformat()

    total = open_count + history
    due_positions = set(rng.sample(range(open_count), due))
    order_rows: list[tuple[Any, ...]] = []
    shipment_rows: list[tuple[Any, ...]] = []
    scan_rows: list[tuple[Any, ...]] = []
    due_ids: list[int] = []
    for i in range(total):
        ident = i + 1
        delivered = i >= open_count
        placed = NOW - timedelta(days=rng.uniform(0.5, 12 if not delivered else 90))
        if delivered:
            placed -= timedelta(days=14)
        promised = placed + timedelta(days=rng.choice((4, 5, 7)))
        address = orjson.dumps({"country": "US", "region": rng.choice(REGIONS)}).decode()
        order_rows.append(
            (
                ident,
                store_id,
                f"B{ident}",
                address,
                "USD",
                "confirmed",
                instant(placed),
                day(promised),
                instant(placed),
                instant(placed),
            )
        )
        created = placed + timedelta(hours=rng.uniform(2, 30))
        handed = created + timedelta(hours=rng.uniform(3, 40))
        if delivered:
            milestone, last, handed_over = (
                "delivered",
                handed + timedelta(days=rng.uniform(1, 6)),
                handed,
            )
            delivered_at: datetime | None = last
            next_check = None
        else:
            milestone = rng.choices(
                ("label_created", "in_transit", "out_for_delivery", "picked_up"),
                weights=(2, 6, 1, 1),
            )[0]
            if milestone == "label_created":
                last, handed_over = created, None
            else:
                last = min(NOW - timedelta(hours=1), handed + timedelta(days=rng.uniform(0, 5)))
                handed_over = handed
            delivered_at = None
            is_due = i in due_positions
            next_check = (
                NOW - timedelta(minutes=rng.uniform(1, 600))
                if is_due
                else (NOW + timedelta(hours=rng.uniform(1, 96)))
            )
            if is_due:
                due_ids.append(ident)
                if handed_over is not None:
                    scan_rows.extend(_scans(rng, ident, handed, last, instant))
        shipment_rows.append(
            (
                ident,
                store_id,
                ident,
                f"S{ident}",
                rng.choice(CARRIERS),
                rng.choice(SERVICES),
                f"TRK{ident:012d}",
                rng.choice(REGIONS),
                instant(created),
                milestone,
                "none",
                instant(last),
                instant(delivered_at),
                instant(last),
                "+00:00",
                1,
                instant(next_check),
                instant(handed_over),
            )
        )
    with w.engine.begin() as conn:
        ph = "%s" if pg else "?"
        _many(
            conn,
            "INSERT INTO orders (id, store_id, order_number, shipping_address, currency, stage,"
            " placed_at, promised_to_on, created_at, updated_at) VALUES"
            f" ({', '.join([ph] * 10)})",
            order_rows,
        )
        _many(
            conn,
            "INSERT INTO shipments (id, store_id, order_id, shipment_ref, carrier, service_level,"
            " tracking_number, origin_region, created_at, milestone, reason, status_at,"
            " delivered_at, last_event_at, last_event_tz, event_count, next_check_at,"
            f" handed_over_at) VALUES ({', '.join([ph] * 18)})",
            shipment_rows,
        )
        _many(
            conn,
            "INSERT INTO tracking_events (shipment_id, fingerprint, milestone, reason, mapped_by,"
            " description, location, occurred_at, source, received_at) VALUES"
            f" ({', '.join([ph] * 10)})",
            scan_rows,
        )
        if pg:
            conn.exec_driver_sql("SELECT setval('orders_id_seq', (SELECT max(id) FROM orders))")
            conn.exec_driver_sql(
                "SELECT setval('shipments_id_seq', (SELECT max(id) FROM shipments))"
            )
    with w.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return due_ids


def _scans(
    rng: random.Random,
    shipment_id: int,
    handed: datetime,
    last: datetime,
    instant: Callable[[datetime | None], Any],
) -> list[tuple[Any, ...]]:
    """In-transit scans of a due parcel, for the sweeper's arrival check to read: two hub
    scans on the way, and for half the parcels a scan at the post office that delivers it."""
    texts = [("Departed facility", "Columbus"), ("Arrived at sort facility", "Pittsburgh")]
    if rng.random() < 0.5:
        texts.append(("Arrived at Post Office", "Fairfax"))
    step = (last - handed) / (len(texts) + 1)
    return [
        (
            shipment_id,
            f"bench|{n}",
            "in_transit",
            "none",
            "source",
            text,
            orjson.dumps({"city": city, "country": "US"}).decode(),
            instant(handed + step * (n + 1)),
            "bench",
            instant(handed + step * (n + 1)),
        )
        for n, (text, city) in enumerate(texts)
    ]


def _many(conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
    for start in range(0, len(rows), 50_000):
        conn.exec_driver_sql(sql, rows[start : start + 50_000])


def _make_due_again(engine: Engine, ids: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM shipment_timeline"))
        conn.execute(text("DELETE FROM notifications"))
        bulk.execute_in_list(
            conn,
            "UPDATE shipments SET next_check_at = ?, predicted_on = NULL, estimate_on = NULL,"
            " carrier_eta_seen_on = NULL, open_findings = NULL, arrived_at = NULL"
            " WHERE id {ids}",
            ids,
            bulk.sqlite_instant(NOW - timedelta(minutes=1))
            if engine.dialect.name == "sqlite"
            else NOW - timedelta(minutes=1),
        )
