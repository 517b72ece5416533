"""Delivery-date prediction: business days, fallbacks, windows, re-forecasts (wismo.*.estimate)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from wismo.domain.estimate import (
    HANDOVER,
    ORDER,
    BusinessCalendar,
    DeliveryEstimator,
    Lane,
    TransitModel,
    Window,
)
from wismo.services.estimate import calendar_for

# Friday 15 Nov 2024 is a Brazilian national holiday (Proclamation of the Republic).
BR = calendar_for("BR", None, [2024])
LANE = Lane("correios", "sedex", "SP", "RJ")


def test_business_days_skip_weekends_and_holidays() -> None:
    """Counting and adding business days skips weekends and the destination's holidays."""
    thursday = date(2024, 11, 14)
    assert not BR.is_business_day(date(2024, 11, 15))
    assert BR.add_business_days(thursday, 1) == date(2024, 11, 18)  # Fri holiday, weekend
    assert BR.business_days_between(thursday, date(2024, 11, 19)) == 2
    assert BR.business_days_between(thursday, date(2024, 11, 17)) == 0
    assert BusinessCalendar().add_business_days(thursday, 1) == date(2024, 11, 15)


def test_pickup_cutoff_moves_start_to_next_business_day() -> None:
    """An order after the pickup cut-off, or on a weekend, starts the next business day."""
    cal = BusinessCalendar()
    monday = date(2024, 12, 2)
    assert cal.start_day(datetime(2024, 12, 2, 9, tzinfo=UTC), time(14)) == monday
    assert cal.start_day(datetime(2024, 12, 2, 15, tzinfo=UTC), time(14)) == monday + timedelta(
        days=1
    )
    assert cal.start_day(datetime(2024, 11, 30, 9, tzinfo=UTC), time(14)) == monday


def test_unknown_country_falls_back_to_weekends() -> None:
    """A country the holidays package does not know gives a weekends-only calendar."""
    cal = calendar_for("XX", None, [2024])
    assert cal.holidays == frozenset()
    assert cal.is_business_day(date(2024, 12, 25))
    assert not cal.is_business_day(date(2024, 12, 28))
    assert calendar_for("BR", "ZZ", [2024]).is_business_day(date(2024, 11, 15)) is False


def test_fallback_order_when_lane_has_no_data() -> None:
    """Lane, then carrier+service, then carrier, then everything answers."""
    model = TransitModel(min_observations=3)
    for _ in range(3):
        model.add(ORDER, Lane("ups", "ground", "CA", "NY"), 5)
        model.add(ORDER, Lane("ups", "air", "CA", "NY"), 2)
        model.add(ORDER, Lane("dhl", "x", "CA", "NY"), 9)
    assert model.observations(ORDER, Lane("ups", "ground", "CA", "NY")) == ("lane", [5, 5, 5])
    assert model.observations(ORDER, Lane("ups", "ground", "TX", "NY"))[0] == "service"
    assert model.observations(ORDER, Lane("ups", "next", "TX", "NY")) == (
        "carrier",
        [2, 2, 2, 5, 5, 5],
    )
    assert model.observations(ORDER, Lane("fedex", None, "TX", "NY"))[0] == "all"


def test_windows_contain_stated_share_on_synthetic_data() -> None:
    """On a stationary synthetic history, the windows hold about the stated share."""
    rng = random.Random(7)
    cal = BusinessCalendar()
    estimator = DeliveryEstimator(cutoff=None)
    held = {0.8: 0, 0.95: 0}
    n = 0
    placed = datetime(2024, 1, 1, 10, tzinfo=UTC)
    for i in range(3000):
        placed += timedelta(hours=5)
        transit = max(0, round(rng.gauss(5, 2)))
        delivered_day = cal.add_business_days(cal.start_day(placed, None), transit)
        delivered = datetime.combine(delivered_day, time(12), tzinfo=UTC)
        made = estimator.forecast(LANE, cal, since=placed)
        if made is not None and i > 500:
            n += 1
            for c in held:
                held[c] += made.window(c).contains(delivered_day)
        if made is not None:
            estimator.resolve(made, delivered_day)
        estimator.observe(LANE, cal, placed=placed, delivered=delivered)
    assert 0.75 <= held[0.8] / n <= 0.87
    assert held[0.95] / n >= 0.92


def test_reforecast_after_handover_shrinks_window() -> None:
    """Once handed to the carrier, the remaining transit's window is narrower."""
    rng = random.Random(3)
    cal = BusinessCalendar()
    estimator = DeliveryEstimator(cutoff=None)
    placed = datetime(2024, 3, 4, 10, tzinfo=UTC)
    for _ in range(200):
        handling = rng.randint(0, 6)
        handed = datetime.combine(
            cal.add_business_days(placed.date(), handling), time(10), tzinfo=UTC
        )
        delivered = datetime.combine(
            cal.add_business_days(handed.date(), rng.randint(2, 3)), time(12), tzinfo=UTC
        )
        estimator.observe(LANE, cal, placed=placed, delivered=delivered, handed_over=handed)
    at_order = estimator.forecast(LANE, cal, since=placed, stage=ORDER)
    handed = placed + timedelta(days=2)
    at_handover = estimator.forecast(LANE, cal, since=handed, stage=HANDOVER)
    assert at_order is not None
    assert at_handover is not None
    assert at_handover.window(0.8).width_days < at_order.window(0.8).width_days


def test_out_for_delivery_means_today() -> None:
    """Out for delivery is today, with every stated window one day wide."""
    now = datetime(2024, 12, 3, 8, 30, tzinfo=UTC)
    forecast = DeliveryEstimator().out_for_delivery(now)
    assert forecast.likely == now.date()
    assert all(w.earliest == w.latest == now.date() for w in forecast.windows)


def test_delivery_before_ship_date_is_ignored() -> None:
    """A delivery dated before the order or the handover is bad data and is not learned."""
    cal = BusinessCalendar()
    estimator = DeliveryEstimator()
    placed = datetime(2024, 12, 2, 9, tzinfo=UTC)
    assert not estimator.observe(LANE, cal, placed=placed, delivered=placed - timedelta(days=1))
    assert not estimator.observe(
        LANE,
        cal,
        placed=placed,
        handed_over=placed + timedelta(days=3),
        delivered=placed + timedelta(days=2),
    )
    assert estimator.forecast(LANE, cal, since=placed) is None


def test_elapsed_time_conditions_the_forecast() -> None:
    """A parcel not yet arrived after the usual transit is not predicted in the past."""
    cal = BusinessCalendar()
    estimator = DeliveryEstimator(cutoff=None)
    placed = datetime(2024, 12, 2, 9, tzinfo=UTC)
    for n in (1, 1, 2, 2, 3, 8):
        delivered = datetime.combine(cal.add_business_days(placed.date(), n), time(12), tzinfo=UTC)
        estimator.observe(LANE, cal, placed=placed, delivered=delivered)
    now = datetime(2024, 12, 6, 9, tzinfo=UTC)  # 4 business days in
    made = estimator.forecast(LANE, cal, since=placed, now=now)
    assert made is not None
    assert made.likely == cal.add_business_days(placed.date(), 8)


def test_window_wording() -> None:
    """A window reads like 'Tue 3 - Thu 5 Dec, 90% likely' (with an en dash)."""
    window = Window(date(2024, 12, 3), date(2024, 12, 4), date(2024, 12, 5), 0.9)
    assert window.describe() == "Tue 3 \N{EN DASH} Thu 5 Dec, 90% likely"


def test_segment_narrows_each_level_before_it() -> None:
    """A segment hint is tried before each fallback level; unknown levels are skipped."""
    keys = Lane(origin="SP", destination="RJ", segment="promise:5").fallback_keys()
    assert [k[0] for k in keys] == ["lane", "lane", "all", "all"]
    assert keys[0][-1] == "promise:5"
    assert keys[1][-1] == "RJ"
    assert Lane().fallback_keys() == (("all",),)


def test_windows_move_out_when_transit_drifts_slower() -> None:
    """Deliveries landing late in their forecasts push later windows out (recalibration)."""
    cal = BusinessCalendar()
    estimator = DeliveryEstimator(cutoff=None)
    placed = datetime(2024, 1, 1, 10, tzinfo=UTC)
    for n in range(10):
        delivered = datetime.combine(cal.add_business_days(placed.date(), n), time(12), tzinfo=UTC)
        estimator.observe(LANE, cal, placed=placed, delivered=delivered)
    before = estimator.forecast(LANE, cal, since=placed)
    assert before is not None
    late = cal.add_business_days(before.start, 9)
    for _ in range(100):
        estimator.resolve(before, late, cal)
    after = estimator.forecast(LANE, cal, since=placed)
    assert after is not None
    assert after.window(0.8).earliest > before.window(0.8).earliest
