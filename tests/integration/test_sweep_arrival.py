"""Re-forecasting from the parcel's arrival at the facility that delivers it (SQLite and
PostgreSQL): the sweeper records when a scan shows it, learns the last mile from the store's
deliveries, and forecasts from the arrival once it has."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from wismo.bootstrap import Wismo, make_sweeper
from wismo.domain.estimate import ARRIVAL
from wismo.services.store_models import lane_of
from wismo.storage.tables import shipments
from wismo.testing import FakeClock, encode, order_created, shipment_created, tracking

START = datetime(2026, 10, 5, 14, tzinfo=UTC)  # a Monday, 10:00 in New York
ADDRESS = {"city": "Fairfax", "postal_code": "22031", "country": "US", "region": "VA"}


def ingest(w: Wismo, store_id: int, *events: dict[str, Any]) -> None:
    results = w.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results


def arrived_at(w: Wismo, ref: str) -> datetime | None:
    with w.engine.connect() as conn:
        value = conn.execute(
            select(shipments.c.arrived_at).where(shipments.c.shipment_ref == ref)
        ).scalar_one()
    return value if value is None else value.astimezone(UTC)


def history(w: Wismo, store_id: int, count: int = 40) -> None:
    """Delivered parcels: picked up on the day they were placed, at the post office two
    business days later, delivered the business day after that."""
    events: list[dict[str, Any]] = []
    for i in range(count):
        placed = START + timedelta(days=7 * (i // 5) + i % 5 % 2)  # Mondays and Tuesdays
        ref = f"H{i}-A"
        events += [
            order_created(f"H{i}", placed_at=placed, shipping_address=ADDRESS),
            shipment_created(f"H{i}", ref, created_at=placed + timedelta(hours=1)),
            # Before the 14:00 pickup cut-off in New York, summer time or not.
            tracking("picked_up", placed + timedelta(hours=2), shipment_ref=ref),
            tracking(
                "in_transit",
                placed + timedelta(days=1, hours=2),
                shipment_ref=ref,
                description="Departed facility",
                city="Philadelphia",
            ),
            tracking(
                "in_transit",
                placed + timedelta(days=2, hours=3),
                shipment_ref=ref,
                description="Arrived at Post Office",
                city="Fairfax",
            ),
            tracking("delivered", placed + timedelta(days=3, hours=2), shipment_ref=ref),
        ]
    ingest(w, store_id, *events)


def test_the_first_scan_at_the_destination_is_recorded(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    history(wismo, store_id, count=5)
    clock.now = START + timedelta(days=30)
    make_sweeper(wismo).sweep(limit=100)
    # The post office's scan, not the earlier one in Philadelphia.
    assert arrived_at(wismo, "H0-A") == START + timedelta(days=2, hours=3)


def swept_in_transit(
    w: Wismo, store_id: int, clock: FakeClock, number: str, scans: list[tuple[float, str, str]]
) -> tuple[datetime, datetime | None]:
    """An order picked up, then in-transit scans (days after placement, text, town), swept
    an hour after the last: when it was placed, and the arrival the sweeper recorded."""
    placed = START + timedelta(days=28)
    ref = f"{number}-A"
    ingest(
        w,
        store_id,
        order_created(number, placed_at=placed, shipping_address=ADDRESS),
        shipment_created(number, ref, created_at=placed),
        tracking("picked_up", placed + timedelta(hours=4), shipment_ref=ref),
        *(
            tracking(
                "in_transit",
                placed + timedelta(days=days),
                shipment_ref=ref,
                description=text,
                city=town,
            )
            for days, text, town in scans
        ),
    )
    clock.now = placed + timedelta(days=max(days for days, _, _ in scans), hours=1)
    make_sweeper(w).sweep(limit=100)
    return placed, arrived_at(w, ref)


def test_a_scan_in_the_destination_town_counts_whatever_its_text(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    placed, arrived = swept_in_transit(
        wismo,
        store_id,
        clock,
        "P1",
        [(1, "Arrived at facility", "Baltimore"), (2, "Processed at facility", "FAIRFAX")],
    )
    assert arrived == placed + timedelta(days=2)


def test_hub_scans_elsewhere_are_not_an_arrival(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    _, arrived = swept_in_transit(
        wismo,
        store_id,
        clock,
        "N1",
        [
            (1, "Arrived at sort facility", "Baltimore"),
            (1.25, "In transit to destination facility", "Baltimore"),
        ],
    )
    assert arrived is None


def test_forecast_from_the_arrival_once_the_last_mile_is_learned(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    history(wismo, store_id)
    clock.now = START + timedelta(days=60)
    make_sweeper(wismo).sweep(limit=1000)  # records the history's arrivals

    # A parcel placed on a Monday, picked up, at the post office on Friday.
    placed = datetime(2026, 12, 7, 14, tzinfo=UTC)
    ingest(
        wismo,
        store_id,
        order_created("4001", placed_at=placed, shipping_address=ADDRESS),
        shipment_created("4001", "4001-A", created_at=placed + timedelta(hours=1)),
        tracking("picked_up", placed + timedelta(hours=4), shipment_ref="4001-A"),
    )
    clock.now = placed + timedelta(hours=5)
    sweeper = make_sweeper(wismo)  # learns the deliveries, now with their arrivals
    sweeper.sweep(limit=100)
    answer = wismo.status.by_number(store_id, "4001")
    assert answer is not None
    before = answer.packages[0].estimate
    assert before is not None
    assert before.likely_on == date(2026, 12, 10)  # from the pickup: 3 business days

    friday = datetime(2026, 12, 11, 15, tzinfo=UTC)
    ingest(
        wismo,
        store_id,
        tracking(
            "in_transit",
            friday,
            shipment_ref="4001-A",
            description="Arrived at Post Office",
            city="Fairfax",
        ),
    )
    clock.now = friday + timedelta(hours=1)
    sweeper.sweep(limit=100)
    assert arrived_at(wismo, "4001-A") == friday
    answer = wismo.status.by_number(store_id, "4001")
    assert answer is not None
    after = answer.packages[0].estimate
    assert after is not None
    # The last mile the history shows: the next business day after the arrival, Monday.
    assert after.likely_on == date(2026, 12, 14)
    estimator = sweeper.estimator(store_id)
    assert estimator is not None
    assert estimator.model.basis(ARRIVAL, lane_of("ups", None, None, "US", "VA")) is not None
