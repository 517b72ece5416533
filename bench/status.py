"""`python -m bench status`: the order-status answer by id on a filled database.

The fill writes rows straight into the tables with bulk Core inserts (orders with 1-3
lines, 1-2 shipments each with their current state, some customers, returns and refunds):
ingesting 100,000 orders through the ingestor would take far longer and is measured by
`bench ingest` anyway. Then `StatusService.by_id(store_id, id)` is timed for random orders,
after a warm-up.

Floor: a bare indexed `SELECT * FROM orders WHERE id = :id`, the same number of times on
one open connection, after the same warm-up.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, text

from bench._common import (
    Progress,
    add_database_arguments,
    check_schema,
    database,
    percentile,
    profiled,
)
from bench._events import CARRIERS, CITIES, CURRENCIES
from wismo.bootstrap import Wismo, bootstrap
from wismo.config import Settings
from wismo.storage.stores import create_store
from wismo.storage.tables import (
    customers,
    order_lines,
    orders,
    refunds,
    returns,
    shipment_lines,
    shipments,
)

TARGET_P99_MS = {"sqlite": 5.0}
FILL_CHUNK = 5_000  # orders per transaction during the fill
# Shipment milestones and how often a store of this size has each in flight.
MILESTONE_MIX = (
    ("label_created", 10),
    ("picked_up", 5),
    ("in_transit", 30),
    ("out_for_delivery", 5),
    ("delivered", 40),
    ("delivery_attempt_failed", 3),
    ("exception", 3),
    ("returning_to_sender", 2),
    ("returned_to_sender", 1),
    ("cancelled", 1),
)
REASONS = {
    "delivery_attempt_failed": "recipient_unavailable",
    "exception": "customs_hold",
    "returning_to_sender": "refused",
}
ZONES = ("Europe/London", "Europe/Paris", "America/New_York", None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument("--orders", type=int, default=100_000, help="orders to fill")
    parser.add_argument("--lookups", type=int, default=10_000, help="timed lookups")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed lookups first")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.orders < 1 or args.lookups < 1 or args.warmup < 0:
        raise SystemExit("bench: --orders and --lookups must be positive")
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
    with wismo.engine.begin() as conn:
        store_id = create_store(conn, "bench", "Bench store", "GB", "Europe/London")
    t0 = time.perf_counter()
    counts = _fill(wismo.engine, rng, store_id, args.orders, say)
    say(f"fill: {counts} in {time.perf_counter() - t0:.1f}s")

    def lookup(order_id: int) -> None:
        if wismo.status.by_id(store_id, order_id) is None:
            raise RuntimeError(f"order {order_id} not found")

    for _ in range(args.warmup):
        lookup(rng.randint(1, args.orders))
    ids = [rng.randint(1, args.orders) for _ in range(args.lookups)]
    with profiled(args.profile, say):
        times = _time_each(lookup, ids)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    say(f"by_id: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {len(ids)} lookups")

    floor = _floor(wismo.engine, rng, args.orders, args.lookups, args.warmup)
    floor_p50, floor_p99 = percentile(floor, 50), percentile(floor, 99)
    say(f"floor: p50 {floor_p50:.3f} ms, p99 {floor_p99:.3f} ms (SELECT * FROM orders by id)")

    result: dict[str, Any] = {
        "bench": "status",
        "backend": args.backend,
        "orders": args.orders,
        "lookups": args.lookups,
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "floor_p50_ms": round(floor_p50, 3),
        "floor_p99_ms": round(floor_p99, 3),
        "ratio": round(p99 / floor_p99, 2),
        "mean_ms": round(sum(times) / len(times), 3),
        "rows": counts,
    }
    target = TARGET_P99_MS.get(args.backend)
    if target is not None:
        result["target_p99_ms"] = target
        result["meets_target"] = p99 <= target
    return result


def _time_each(call: Callable[[int], None], ids: list[int]) -> list[float]:
    times: list[float] = []
    for order_id in ids:
        t = time.perf_counter_ns()
        call(order_id)
        times.append((time.perf_counter_ns() - t) / 1e6)
    return times


def _floor(
    engine: Engine, rng: random.Random, n_orders: int, lookups: int, warmup: int
) -> list[float]:
    query = text("SELECT * FROM orders WHERE id = :id")
    with engine.connect() as conn:

        def select_one(order_id: int) -> None:
            if conn.execute(query, {"id": order_id}).first() is None:
                raise RuntimeError(f"order {order_id} not found")

        for _ in range(warmup):
            select_one(rng.randint(1, n_orders))
        return _time_each(select_one, [rng.randint(1, n_orders) for _ in range(lookups)])


def _fill(
    engine: Engine, rng: random.Random, store_id: int, n_orders: int, say: Progress
) -> dict[str, int]:
    """Insert `n_orders` orders with everything the answer reads; ids are assigned here so
    child rows need no RETURNING round trip."""
    counts = dict.fromkeys(
        ("customers", "orders", "order_lines", "shipments", "shipment_lines", "returns", "refunds"),
        0,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    n_customers = max(1, n_orders // 2)
    with engine.begin() as conn:
        rows = [_customer(rng, store_id, c, now) for c in range(1, n_customers + 1)]
        _insert(conn, customers, rows, counts)
    filler = _Filler(rng, store_id, n_customers, now)
    for start in range(1, n_orders + 1, FILL_CHUNK):
        batch = filler.orders(range(start, min(start + FILL_CHUNK, n_orders + 1)))
        with engine.begin() as conn:
            for name, table in (
                ("orders", orders),
                ("order_lines", order_lines),
                ("shipments", shipments),
                ("shipment_lines", shipment_lines),
                ("returns", returns),
                ("refunds", refunds),
            ):
                _insert(conn, table, batch[name], counts)
        if (start // FILL_CHUNK) % 5 == 0:
            say(f"filled {min(start + FILL_CHUNK - 1, n_orders)}/{n_orders} orders")
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Ids were given explicitly; move the sequences past them so later inserts
            # (by the app, or by hand when inspecting with --keep) do not collide.
            for table in (customers, orders, order_lines, shipments, returns, refunds):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                        f" (SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
                    )
                )
        # Fresh statistics, as a live database would have, so plans are the usual ones.
        conn.execute(text("ANALYZE"))
    return counts


def _insert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], counts: dict[str, int]
) -> None:
    if rows:
        conn.execute(table.insert(), rows)
        counts[table.name] += len(rows)


def _customer(rng: random.Random, store_id: int, customer_id: int, now: datetime) -> dict[str, Any]:
    return {
        "id": customer_id,
        "store_id": store_id,
        "external_id": f"C{customer_id:07d}",
        "name": f"Customer {customer_id}",
        "emails": [f"c{customer_id}@example.com"],
        "phones": [f"+4477009{customer_id % 1_000_000:06d}"],
        "language": rng.choice(("en", "en", "fr", "de")),
        "time_zone": rng.choice(ZONES),
        "consent": {"email": True, "sms": rng.random() < 0.5},
        "updated_at": now,
    }


class _Filler:
    """Rows for orders and everything under them, with ids counted here."""

    def __init__(self, rng: random.Random, store_id: int, n_customers: int, now: datetime) -> None:
        self.rng = rng
        self.store_id = store_id
        self.n_customers = n_customers
        self.now = now
        self.ids = {"line": 0, "shipment": 0, "return": 0, "refund": 0}

    def orders(self, order_ids: range) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {
            "orders": [],
            "order_lines": [],
            "shipments": [],
            "shipment_lines": [],
            "returns": [],
            "refunds": [],
        }
        for order_id in order_ids:
            self._order(order_id, out)
        return out

    def _order(self, order_id: int, out: dict[str, list[dict[str, Any]]]) -> None:
        rng, store_id, now, ids = self.rng, self.store_id, self.now, self.ids
        n_customers = self.n_customers
        placed_at = now - timedelta(seconds=rng.randint(3_600, 40 * 86_400))
        currency = rng.choice(CURRENCIES)
        city, country = rng.choice(CITIES)
        customer_id = rng.randint(1, n_customers) if rng.random() < 0.6 else None
        cancelled = rng.random() < 0.02
        promised = (placed_at + timedelta(days=rng.randint(3, 7))).date()
        postal_code = f"{rng.randrange(10_000, 99_999)}"
        out["orders"].append(
            {
                "id": order_id,
                "store_id": store_id,
                "order_number": f"#{100_000 + order_id}",
                "customer_id": customer_id,
                "customer_external_id": f"C{customer_id:07d}" if customer_id else None,
                "email": f"buyer{order_id}@example.com",
                "phone": None,
                "postal_code": postal_code,
                "shipping_address": {
                    "name": "A Customer",
                    "line1": f"{rng.randint(1, 200)} High Street",
                    "city": city,
                    "postal_code": postal_code,
                    "country": country,
                },
                "currency": currency,
                "total_minor": rng.randint(500, 50_000),
                "stage": "cancelled" if cancelled else "confirmed",
                "placed_at": placed_at,
                "confirmed_at": placed_at + timedelta(minutes=5),
                "promised_from_on": promised - timedelta(days=1),
                "promised_to_on": promised,
                "cancelled_at": placed_at + timedelta(hours=1) if cancelled else None,
                "cancel_reason": "customer request" if cancelled else None,
                "source_updated_at": placed_at,
                "created_at": placed_at,
                "updated_at": placed_at,
            }
        )
        refs = [f"L{n}" for n in range(1, rng.randint(1, 3) + 1)]
        quantities = {}
        for ref in refs:
            ids["line"] += 1
            quantities[ref] = rng.randint(1, 3)
            out["order_lines"].append(
                {
                    "id": ids["line"],
                    "order_id": order_id,
                    "line_ref": ref,
                    "sku": f"SKU-{rng.randrange(10_000):05d}",
                    "title": f"Item {rng.randrange(1_000)}",
                    "quantity": quantities[ref],
                    "unit_price_minor": rng.randint(100, 20_000),
                    "image_url": None,
                }
            )
        n_shipments = 1 if len(refs) == 1 or rng.random() < 0.7 else 2
        delivered_any = False
        for k in range(n_shipments):
            ids["shipment"] += 1
            shipment_id = ids["shipment"]
            state = _shipment_state(rng, placed_at, now)
            delivered_any |= state["milestone"] == "delivered"
            carrier = rng.choice(CARRIERS)
            out["shipments"].append(
                {
                    "id": shipment_id,
                    "store_id": store_id,
                    "order_id": order_id,
                    "shipment_ref": f"S{order_id:07d}-{k + 1}",
                    "carrier": carrier,
                    "service_level": "standard",
                    "tracking_number": f"{carrier[:2].upper()}{order_id:09d}{k + 1}",
                    "origin_region": None,
                    "created_at": placed_at + timedelta(hours=6 + k),
                    **state,
                }
            )
            out["shipment_lines"].extend(
                {"shipment_id": shipment_id, "line_ref": ref, "quantity": quantities[ref]}
                for ref in refs[k::n_shipments]
            )
        if delivered_any and rng.random() < 0.1:
            ids["return"] += 1
            return_ref = f"R{order_id:07d}"
            out["returns"].append(
                {
                    "id": ids["return"],
                    "order_id": order_id,
                    "return_ref": return_ref,
                    "state": rng.choice(("requested", "approved", "in_transit", "received")),
                    "reason": "too small",
                    "lines": [{"line_ref": refs[0], "quantity": 1}],
                    "carrier": None,
                    "tracking_number": None,
                    "requested_at": now - timedelta(days=2),
                    "updated_at": now - timedelta(days=1),
                }
            )
            if rng.random() < 0.6:
                ids["refund"] += 1
                processed = rng.random() < 0.5
                out["refunds"].append(
                    {
                        "id": ids["refund"],
                        "order_id": order_id,
                        "refund_ref": f"RF{order_id:07d}",
                        "return_ref": return_ref,
                        "amount_minor": rng.randint(100, 5_000),
                        "currency": currency,
                        "method": "original_payment",
                        "state": "processed" if processed else "pending",
                        "processed_at": now - timedelta(hours=12) if processed else None,
                        "expected_by_on": None,
                        "updated_at": now - timedelta(hours=12),
                    }
                )


def _shipment_state(rng: random.Random, placed_at: datetime, now: datetime) -> dict[str, Any]:
    milestone = rng.choices([m for m, _ in MILESTONE_MIX], [w for _, w in MILESTONE_MIX])[0]
    last = min(now, placed_at + timedelta(hours=rng.randint(8, 120)))
    city, country = rng.choice(CITIES)
    return {
        "milestone": milestone,
        "reason": REASONS.get(milestone, "none"),
        "status_at": last,
        "delivered_at": last if milestone == "delivered" else None,
        "last_event_at": last,
        "last_event_tz": rng.choice(("+01:00", "Z", "-05:00", "Europe/London")),
        "last_location": f"{city} hub, {city}, {country}",
        "last_description": "Latest scan",
        "carrier_eta_at": placed_at + timedelta(days=4) if rng.random() < 0.7 else None,
        "carrier_eta_set_at": placed_at + timedelta(hours=8),
        "event_count": rng.randint(1, 12),
    }
