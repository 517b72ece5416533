"""What the sweeper teaches the store's estimator (SQLite and PostgreSQL): the open shipments
it checks are noted as under way, so a slowdown shows before the slow parcels arrive, and
the forecasts of their first checks are resolved when their deliveries are learned, which
calibrates the windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import update

from wismo.bootstrap import Wismo
from wismo.domain.estimate import HANDOVER, ORDER, DeliveryEstimator, Lane, quantile
from wismo.services.estimate import calendar_for
from wismo.services.sweep import Sweeper
from wismo.storage.sweep import SqlSweepRepository
from wismo.storage.tables import shipments
from wismo.testing import FakeClock, encode, order_created, shipment_created, tracking

NOW = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)  # Monday, 09:00 in New York
PROMISE_DAYS = 14  # calendar days from placement: 10 business days, 8 past the allowance
LANE = Lane(carrier="ups", destination="US")  # as the sweeper builds it for these orders
CALENDAR = calendar_for("US", None, range(2025, 2028))


def ingest(w: Wismo, store_id: int, events: list[dict[str, Any]]) -> None:
    results = w.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results


def parcel(
    number: str,
    placed: datetime,
    *,
    picked_up: datetime | None = None,
    delivered: datetime | None = None,
) -> list[dict[str, Any]]:
    promised = (placed + timedelta(days=PROMISE_DAYS)).date().isoformat()
    ref = f"{number}-A"
    events = [
        order_created(number, placed_at=placed, promised=(None, promised)),
        shipment_created(number, ref, created_at=placed + timedelta(minutes=30)),
        tracking("label_created", placed + timedelta(minutes=30), shipment_ref=ref),
    ]
    if picked_up is not None:
        events.append(tracking("picked_up", picked_up, shipment_ref=ref))
    if delivered is not None:
        events.append(tracking("delivered", delivered, shipment_ref=ref))
    return events


def fast_history(count: int = 40) -> list[dict[str, Any]]:
    """Parcels placed 2-6 November, each delivered three business days later: recent enough
    to be in the two-week cohorts on 16 November."""
    events = []
    for i in range(count):
        placed = datetime(2026, 11, 2 + i % 5, 14, tzinfo=UTC)  # Mon-Fri, 09:00 New York
        arrived = CALENDAR.add_business_days(placed.date(), 3)
        events += parcel(
            f"H{i}",
            placed,
            picked_up=placed + timedelta(hours=4),
            delivered=datetime.combine(arrived, placed.time(), UTC) + timedelta(hours=4),
        )
    return events


def slow_open(count: int) -> list[dict[str, Any]]:
    """Parcels placed 4-6 November, picked up the next day, still under way on the 16th."""
    events = []
    for i in range(count):
        placed = datetime(2026, 11, 4 + i % 3, 15, tzinfo=UTC)
        events += parcel(f"S{i}", placed, picked_up=placed + timedelta(days=1))
    return events


def due_now(w: Wismo, now: datetime, *, only: str | None = None) -> None:
    """Every shipment (or only the one with this reference) due at `now`, the rest later."""
    with w.engine.begin() as conn:
        if only is None:
            conn.execute(update(shipments).values(next_check_at=now))
            return
        conn.execute(update(shipments).values(next_check_at=now + timedelta(days=30)))
        conn.execute(
            update(shipments).where(shipments.c.shipment_ref == only).values(next_check_at=now)
        )


def predicted_on(w: Wismo, ref: str) -> date:
    with w.engine.connect() as conn:
        found = conn.execute(shipments.select().where(shipments.c.shipment_ref == ref)).one()
    assert found.predicted_on is not None
    return found.predicted_on  # type: ignore[no-any-return]


def sweeper(w: Wismo) -> Sweeper:
    return Sweeper(SqlSweepRepository(w.engine), w.clock, relearn_seconds=0)


def estimator_of(s: Sweeper, store_id: int) -> DeliveryEstimator:
    found = s.estimator(store_id)
    assert found is not None
    return found


def test_parcels_under_way_move_the_forecast_later(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """40 recent parcels arrived in 3 business days, but 60 placed as early are still under
    way 7 business days in: once the sweeper has checked those, a new parcel's forecast is
    later than from the deliveries alone."""
    new = NOW - timedelta(hours=1)
    ingest(wismo, store_id, fast_history() + slow_open(60) + parcel("N1", new))
    clock.now = NOW

    due_now(wismo, NOW, only="N1-A")
    alone = sweeper(wismo)
    assert alone.sweep().checked == 1
    from_deliveries = predicted_on(wismo, "N1-A")
    assert from_deliveries == date(2026, 11, 19)  # Monday + 3 business days
    assert estimator_of(alone, store_id).cohorts.under_way() == 1  # the new parcel only

    due_now(wismo, NOW)
    checking_all = sweeper(wismo)
    checking_all.sweep()
    estimator = estimator_of(checking_all, store_id)
    # The slow ones at both stages (placed; handed over), and the new one placed.
    assert estimator.cohorts.under_way() == 2 * 60 + 1
    assert predicted_on(wismo, "N1-A") > from_deliveries + timedelta(days=3)


def test_sweeping_again_counts_each_parcel_once(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """30 under way beside 40 delivered is not a majority: the cohort's median stays with
    the deliveries. Counted twice, the 60 would be, and the median would jump past them."""
    ingest(wismo, store_id, fast_history() + slow_open(30))
    clock.now = NOW - timedelta(hours=1)
    due_now(wismo, clock.now)
    sweeper(wismo).sweep()  # records the handovers, so both below learn the same history
    once, often = sweeper(wismo), sweeper(wismo)
    for at in (NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)):
        clock.now = at
        if at == NOW:
            due_now(wismo, at)
            assert once.sweep().checked == 70
        due_now(wismo, at)
        assert often.sweep().checked == 70

    later = NOW.replace(tzinfo=None) + timedelta(hours=8)  # past the cohorts' refresh
    lead = 8
    ratios = []
    for s in (once, often):
        estimator = estimator_of(s, store_id)
        assert estimator.cohorts.under_way() == 2 * 30
        ratios.append(
            (
                estimator.censored_ratio(ORDER, LANE, lead, later),
                estimator.censored_ratio(HANDOVER, LANE, lead, later),
            )
        )
    assert ratios[0] == ratios[1]
    order_ratio, _ = ratios[1]
    assert order_ratio is not None
    assert order_ratio * lead < 4  # the deliveries' 3 business days (from placement)


def test_learned_deliveries_resolve_the_forecasts_of_their_first_checks(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """60 parcels forecast at their first check to arrive in 3 business days take 8: once
    their deliveries are learned, the recalibrator holds their 60 PIT values (all at the
    top) and moves the windows' quantile levels up."""
    placed = NOW - timedelta(hours=1)
    events = fast_history()
    for i in range(60):
        events += parcel(f"P{i}", placed)
    ingest(wismo, store_id, events)
    clock.now = NOW
    due_now(wismo, NOW)
    s = sweeper(wismo)
    assert s.sweep().checked == 100
    estimator = estimator_of(s, store_id)
    assert estimator.recalibrator(ORDER).resolved == 0

    arrived = datetime(2026, 11, 27, 17, tzinfo=UTC)  # 8 business days (Thanksgiving off)
    ingest(
        wismo,
        store_id,
        [tracking("delivered", arrived, shipment_ref=f"P{i}-A") for i in range(60)],
    )
    clock.now = arrived + timedelta(hours=1)
    s.learn([store_id])
    recalibrator = estimator.recalibrator(ORDER)
    assert recalibrator.resolved == 60
    assert recalibrator.level(0.1) == 1.0  # every delivery fell past the whole sample
    assert estimator.recalibrator(HANDOVER).resolved == 0  # never checked after a handover
    s.learn([store_id])
    assert recalibrator.resolved == 60  # resolved once

    # The history now holds 40 fast and 60 slow parcels: the raw 80% window would start
    # with the fast ones, the recalibrated one starts at the most likely day.
    made = estimator.forecast(
        LANE,
        CALENDAR,
        since=datetime.combine(date(2026, 11, 30), time(9)),
        promised=date(2026, 12, 14),
    )
    assert made is not None
    raw_earliest = CALENDAR.add_business_days(made.start, quantile(made.sample, 0.1))
    assert raw_earliest < made.likely
    assert made.window(0.8).earliest == made.likely
