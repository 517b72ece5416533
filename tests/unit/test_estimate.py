"""Delivery-date prediction: business days, fallbacks, windows, re-forecasts (wismo.*.estimate)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from wismo.domain.estimate import (
    HANDOVER,
    ORDER,
    BusinessCalendar,
    CensoredCohorts,
    DeliveryEstimator,
    Lane,
    TransitModel,
    Window,
    kaplan_meier,
    promised_lead,
    survival_quantile,
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


def test_history_is_rescaled_to_the_promised_lead() -> None:
    """Given a promise, past transits are scaled by the ratio of the promised leads."""
    cal = BusinessCalendar()
    estimator = DeliveryEstimator(cutoff=None, lead_offset=0)
    placed = datetime(2024, 3, 4, 10, tzinfo=UTC)  # Monday
    for n in (4, 5, 6):  # promised 10 business days out, delivered after 4-6
        delivered = datetime.combine(cal.add_business_days(placed.date(), n), time(12), tzinfo=UTC)
        promised = cal.add_business_days(placed.date(), 10)
        estimator.observe(LANE, cal, placed=placed, delivered=delivered, promised=promised)
    near = estimator.forecast(LANE, cal, since=placed, promised=placed.date() + timedelta(days=6))
    assert near is not None  # 4 business days promised: 40% of them is 2
    assert near.sample == (2, 2, 2)
    assert near.likely == cal.add_business_days(placed.date(), 2)
    plain = estimator.forecast(LANE, cal, since=placed)
    assert plain is not None
    assert plain.sample == (4, 5, 6)


def test_kaplan_meier_counts_parcels_under_way() -> None:
    """Censored parcels stay at risk: with half of six still under way at 3, the median is
    the first delivery after the curve falls to a half, not the naive median of 2."""
    curve = kaplan_meier([(1, True), (2, True), (3, False), (3, False), (3, False), (4, True)])
    assert [t for t, _ in curve] == [1, 2, 4]
    assert [s for _, s in curve] == pytest.approx([5 / 6, 4 / 6, 0.0])
    assert survival_quantile(curve, 0.5) == 4
    assert survival_quantile(curve, 0.1) == 1
    assert survival_quantile(kaplan_meier([(1, True), (5, False)]), 0.9) == 1  # out of reach


def test_parcels_under_way_move_the_median_out() -> None:
    """In a slowdown, noting parcels still under way moves the ORDER median later: 60 of
    100 are still travelling after 7 of their 20 promised business days, so the median
    ratio is at least 6.5 / 20 rather than the 4 / 20 the deliveries alone say. A parcel
    placed then, with 13 promised business days left, gets 13 * 0.325 = 4 rather than 3."""
    cal = BusinessCalendar()
    start = datetime(2024, 3, 4, 10, tzinfo=UTC)
    promised = start.date() + timedelta(days=28)  # 20 business days from the start

    def walk(note: bool) -> int:
        estimator = DeliveryEstimator(cutoff=None, lead_offset=0)
        placed = start
        for i in range(40):  # fast parcels already delivered (4 business days)
            delivered = datetime.combine(
                cal.add_business_days(placed.date(), 4), time(12), tzinfo=UTC
            )
            estimator.observe(
                LANE, cal, placed=placed, delivered=delivered, promised=promised, parcel=i
            )
        for i in range(40, 100):  # more placed the same day, still under way a week on
            if note:
                estimator.note_in_flight(i, LANE, cal, since=placed, promised=promised)
        now = placed + timedelta(days=9)  # 7 business days in
        made = estimator.forecast(LANE, cal, since=now, promised=promised)
        assert made is not None
        return made.sample[len(made.sample) // 2]

    assert walk(note=False) == 3
    assert walk(note=True) == 4


def test_lead_offset_is_left_out_of_the_rescaling() -> None:
    """With an offset of 2, a transit of 4 against a promise 10 business days out is 4 per
    8 scalable days, so a parcel promised 6 out (4 scalable) gets 2. A lead at or below the
    offset counts as 1; no lead stays no lead."""
    cal = BusinessCalendar()
    placed = datetime(2024, 3, 4, 10, tzinfo=UTC)  # Monday
    far = cal.add_business_days(placed.date(), 10)
    estimator = DeliveryEstimator(cutoff=None, lead_offset=2)
    delivered = datetime.combine(cal.add_business_days(placed.date(), 4), time(12), tzinfo=UTC)
    for _ in range(3):
        estimator.observe(LANE, cal, placed=placed, delivered=delivered, promised=far)
    near = estimator.forecast(
        LANE, cal, since=placed, promised=cal.add_business_days(placed.date(), 6)
    )
    assert near is not None
    assert near.sample == (2, 2, 2)
    assert promised_lead(cal, placed.date(), far, 2) == 8
    assert promised_lead(cal, placed.date(), cal.add_business_days(placed.date(), 2), 2) == 1
    assert promised_lead(cal, placed.date(), placed.date(), 2) == 0  # no lead stays none
    assert promised_lead(cal, placed.date(), None, 2) is None


def test_windows_lean_to_the_short_side_of_a_skewed_history() -> None:
    """Transit skewed right (mostly 2-3 days, a long tail): the 80% window leaves its 20% out
    of the tail, starting at the bottom, and is narrower than the evenly split one."""
    cal = BusinessCalendar()
    placed = datetime(2024, 3, 4, 10, tzinfo=UTC)
    history = [2] * 40 + [3] * 30 + [4] * 10 + [6, 8, 10, 12, 14, 16, 18, 20, 22, 24] * 2

    def window(splits: int) -> Window:
        estimator = DeliveryEstimator(cutoff=None, window_splits=splits)
        for n in history:
            day = cal.add_business_days(placed.date(), n)
            estimator.observe(
                LANE, cal, placed=placed, delivered=datetime.combine(day, time(12), tzinfo=UTC)
            )
        made = estimator.forecast(LANE, cal, since=placed)
        assert made is not None
        return made.window(0.8)

    even, lean = window(0), window(4)
    assert even.earliest == cal.add_business_days(placed.date(), 2)
    assert lean.earliest == cal.add_business_days(placed.date(), 2)  # already the bottom
    assert lean.latest < even.latest
    assert lean.width_days < even.width_days
    # Still 80% of the history: 2-4 business days hold 80 of the 100 transits.
    assert lean.latest == cal.end_of_business_day(cal.add_business_days(placed.date(), 4))


@pytest.mark.parametrize("stage", [ORDER, HANDOVER])
def test_both_stages_count_parcels_under_way(stage: str) -> None:
    """The censored cohort moves the median at either stage: 40 delivered after 4 of 20
    promised business days, 60 still under way 7 in, so the median ratio is past 6.5 / 20."""
    cal = BusinessCalendar()
    since = datetime(2024, 3, 4, 10, tzinfo=UTC)
    promised = since.date() + timedelta(days=28)  # 20 business days from the start
    estimator = DeliveryEstimator(cutoff=None, lead_offset=0)
    for i in range(40):
        delivered = datetime.combine(cal.add_business_days(since.date(), 4), time(12), tzinfo=UTC)
        estimator.note_in_flight(i, LANE, cal, since=since, stage=stage, promised=promised)
        kwargs = {"handed_over": since} if stage == HANDOVER else {}
        estimator.observe(
            LANE,
            cal,
            placed=since,
            delivered=delivered,
            promised=promised,
            parcel=i,
            **kwargs,
        )
    for i in range(40, 100):
        estimator.note_in_flight(i, LANE, cal, since=since, stage=stage, promised=promised)
    now = since + timedelta(days=9)  # 7 business days in, 13 promised days left
    made = estimator.forecast(LANE, cal, since=now, stage=stage, promised=promised)
    assert made is not None
    assert made.sample[len(made.sample) // 2] == 4  # 13 * 6.5 / 20, not 13 * 4 / 20 = 3


def test_noting_a_parcel_again_keeps_one_record_while_any_cohort_holds_it() -> None:
    """A newer start elsewhere drops the parcel from the shared (carrier, all) cohorts but
    not from its lane's: noted again, it is still counted once there. Counted twice, two of
    three would be under way past the one delivery, and the median would be past them."""
    cal = BusinessCalendar()
    cohorts = CensoredCohorts(min_observations=1)
    here, there = Lane("c", None, "a", "b"), Lane("c", None, "x", "y")
    start = date(2024, 3, 4)
    cohorts.start(ORDER, here, cal, start, 10, transit=2)
    cohorts.start(ORDER, here, cal, start, 10, parcel="p")
    cohorts.start(ORDER, there, cal, start + timedelta(days=15), 10, parcel="q")
    cohorts.start(ORDER, here, cal, start, 10, parcel="p")
    assert cohorts.under_way() == 2
    # On 14 March p has been under way 8 of its 10 promised business days.
    now = datetime.combine(date(2024, 3, 14), time(12))
    assert cohorts.median_ratio(ORDER, here, now) == 0.2
