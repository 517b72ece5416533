"""Synthetic canonical events (schema v1): orders, shipments and single scans.

Shared by the benchmarks that need a store with orders and shipments before they measure
something else; the data is varied enough to take the validator's ordinary paths
(addresses, promises, several lines), not a degenerate minimum.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from wismo.services.ingest import Ingestor

CARRIERS = ("ups", "dhl", "fedex", "usps", "royalmail", "dpd")
CITIES = (
    ("Leeds", "GB"),
    ("Bristol", "GB"),
    ("Lyon", "FR"),
    ("Hamburg", "DE"),
    ("Chicago", "US"),
    ("Toronto", "CA"),
)
# Carriers report local time with an offset; a realistic mix exercises the zone handling.
OFFSETS = (*(timezone(timedelta(hours=h)) for h in (0, 1, 2, -5, -6, 10)), UTC)
CURRENCIES = ("GBP", "EUR", "USD")


@dataclass(frozen=True, slots=True)
class SeedShipment:
    ref: str
    order_number: str
    carrier: str
    tracking_number: str
    created_at: datetime


def envelope(event_id: str, source: str, type_: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {"version": 1, "id": event_id, "source": source, "type": type_, "data": data}
    )


def seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def order_data(rng: random.Random, number: str, placed_at: datetime) -> dict[str, Any]:
    lines = [
        {
            "line_ref": f"L{n}",
            "title": f"Item {rng.randrange(1000)}",
            "quantity": rng.randint(1, 3),
            "sku": f"SKU-{rng.randrange(10_000):05d}",
            "unit_price": f"{rng.randint(100, 20_000) / 100:.2f}",
        }
        for n in range(1, rng.randint(1, 3) + 1)
    ]
    city, country = rng.choice(CITIES)
    promised = (placed_at + timedelta(days=rng.randint(3, 7))).date()
    return {
        "order_number": number,
        "placed_at": seconds(placed_at),
        "currency": rng.choice(CURRENCIES),
        "status": "confirmed",
        "lines": lines,
        "email": f"customer{rng.randrange(1_000_000)}@example.com",
        "shipping_address": {
            "name": "A Customer",
            "line1": f"{rng.randint(1, 200)} High Street",
            "city": city,
            "postal_code": f"{rng.randrange(10_000, 99_999)}",
            "country": country,
        },
        "promised_delivery": {
            "from_on": (promised - timedelta(days=1)).isoformat(),
            "to_on": promised.isoformat(),
        },
    }


def seed_events(
    rng: random.Random, shipment_count: int, start: datetime, span: timedelta
) -> tuple[list[bytes], list[bytes], list[SeedShipment]]:
    """order.created and shipment.created events: 1 or 2 shipments per order."""
    orders: list[bytes] = []
    shipment_events: list[bytes] = []
    seeded: list[SeedShipment] = []
    n = 0
    while len(seeded) < shipment_count:
        n += 1
        number = f"BO-{n:07d}"
        placed_at = start + span * rng.random()
        data = order_data(rng, number, placed_at)
        orders.append(envelope(f"order-{n}", "oms", "order.created", data))
        per_order = 1 if rng.random() < 0.7 else 2
        for k in range(min(per_order, shipment_count - len(seeded))):
            carrier = rng.choice(CARRIERS)
            ref = f"SHP-{n:07d}-{k + 1}"
            created_at = seconds(placed_at + timedelta(hours=rng.uniform(2, 30)))
            tracking_number = f"{carrier[:2].upper()}{n:09d}{k + 1}"
            lines = data["lines"] if per_order == 1 else data["lines"][k::per_order]
            shipment_events.append(
                envelope(
                    f"shipment-{n}-{k + 1}",
                    "oms",
                    "shipment.created",
                    {
                        "order_number": number,
                        "shipment_ref": ref,
                        "carrier": carrier,
                        "tracking_number": tracking_number,
                        "service_level": "standard",
                        "lines": [
                            {"line_ref": ln["line_ref"], "quantity": ln["quantity"]} for ln in lines
                        ],
                        "created_at": created_at,
                        "estimated_delivery_at": created_at + timedelta(days=3),
                    },
                )
            )
            seeded.append(SeedShipment(ref, number, carrier, tracking_number, created_at))
    return orders, shipment_events, seeded


def ingest_all(ingestor: Ingestor, store_id: int, bodies: list[bytes], batch: int) -> None:
    """Ingest setup data; anything but "processed" means the setup itself is wrong."""
    for i in range(0, len(bodies), batch):
        results = ingestor.ingest(store_id, bodies[i : i + batch])
        bad = [r for r in results if r.status != "processed"]
        if bad:
            raise RuntimeError(f"setup event not processed: {bad[0]}")
