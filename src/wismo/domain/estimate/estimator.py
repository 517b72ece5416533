"""The delivery estimator: learns from deliveries and forecasts a parcel's date and windows
from the history, the censored cohorts and the calibrators (pure).

The point estimate is the median (it minimises absolute error). A forecast made after the
start day can be conditioned on the time elapsed (only transits at least that long count);
out for delivery means today.

The promised leads are counted less `lead_offset` business days (at least 1): part of a
promise is an allowance that does not grow with distance, and scaling it too overstated the
spread of near parcels and understated far ones.

Transit is skewed right, so a window does not split the share it leaves out evenly between
its two tails: of a few splits (`window_splits`), the one giving the narrowest window in the
sample is taken; the recalibrated levels hold their share whichever split it is.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from wismo.domain.estimate.calendar import BusinessCalendar
from wismo.domain.estimate.calibration import CoverageCalibrator, PitRecalibrator, pit, quantile
from wismo.domain.estimate.cohorts import CensoredCohorts
from wismo.domain.estimate.forecast import Forecast, Window
from wismo.domain.estimate.history import Lane, TransitModel

ORDER = "order"  # stage: from the order being placed
HANDOVER = "handover"  # stage: from the parcel being handed to the carrier
# Stage: from the parcel reaching the facility that delivers it (`wismo.domain.arrival`).
# What is left is the last mile, whatever the distance, so the merchant's promise does not
# rescale it: `observe` and the sweeper give this stage no lead.
ARRIVAL = "arrival"


def promised_lead(
    calendar: BusinessCalendar, start: date, promised: date | None, offset: int = 0
) -> int | None:
    """Business days from the start day to the promised date, less `offset` but at least 1
    when there are any (None without a promise; 0 for a promise on or before the start)."""
    if promised is None:
        return None
    lead = calendar.business_days_between(start, promised)
    return lead if lead < 1 else max(1, lead - offset)


@dataclass(slots=True)
class DeliveryEstimator:
    """The transit model plus one calibrator per stage and confidence."""

    confidences: tuple[float, ...] = (0.8, 0.95)
    cutoff: time | None = time(14, 0)
    model: TransitModel = field(default_factory=TransitModel)
    calibration_rate: float = 0.0
    cohorts: CensoredCohorts = field(default_factory=CensoredCohorts)
    censored_stages: frozenset[str] = frozenset({ORDER, HANDOVER})
    # Business days of a promise that do not scale with the distance (see the module's doc);
    # 1-3 all did about as well on the Olist walk, 4 was worse.
    lead_offset: int = 2
    # How many ways the share a window leaves out is split between its tails (0: evenly).
    # More splits narrow the windows further but pick up the sample's noise: 10 let the 80%
    # window's coverage fall to 0.78 on the Olist walk, 4 kept it at 0.79-0.80.
    window_splits: int = 4
    _censoring: bool = False  # parcels under way have been noted: the cohorts are unbiased
    _calibrators: dict[tuple[str, float], CoverageCalibrator] = field(default_factory=dict)
    _recalibrators: dict[str, PitRecalibrator] = field(default_factory=dict)

    def observe(
        self,
        lane: Lane,
        calendar: BusinessCalendar,
        *,
        placed: datetime,
        delivered: datetime,
        handed_over: datetime | None = None,
        promised: date | None = None,
        parcel: Hashable | None = None,
        arrived: datetime | None = None,
    ) -> bool:
        """Learn one delivered parcel; False (and nothing learned) for bad data: a delivery
        before the order was placed or before it was handed to the carrier. `promised` is
        the delivery date the merchant promised at checkout, if any; `parcel` the id it was
        noted under (`note_in_flight`); `arrived` when it reached the facility that delivers
        it (learned as the ARRIVAL stage when it lies between placement and delivery)."""
        if delivered < placed or (handed_over is not None and delivered < handed_over):
            return False
        delivered_day = delivered.date()
        stages = [(ORDER, placed)]
        if handed_over is not None and handed_over >= placed:
            stages.append((HANDOVER, handed_over))
        if arrived is not None and placed <= arrived <= delivered:
            stages.append((ARRIVAL, arrived))
        for stage, since in stages:
            start = calendar.start_day(since, self.cutoff)
            transit = calendar.business_days_between(start, delivered_day)
            lead = (
                None
                if stage == ARRIVAL
                else promised_lead(calendar, start, promised, self.lead_offset)
            )
            self.model.add(stage, lane, transit, lead)
            noted = parcel is not None and self.cohorts.deliver(parcel, stage, transit)
            if not noted and lead is not None:
                self.cohorts.start(stage, lane, calendar, start, lead, transit=transit)
        return True

    def censored_ratio(
        self, stage: str, lane: Lane, lead: int | None, at: datetime
    ) -> float | None:
        """The median transit-to-promise ratio of the censored cohort at `at` that a
        forecast with this `lead` is moved to; None when it is not moved (no parcels noted
        under way, no lead, the stage not censored, too few deliveries in the cohort)."""
        if not (self._censoring and lead and stage in self.censored_stages):
            return None
        return self.cohorts.median_ratio(stage, lane, at)

    def _uncensored(self, ratio: float, lead: int, seen: list[int]) -> list[int]:
        """`seen` moved to the cohort's median `ratio`: the deliveries keep the shape of
        the distribution (the cohort cannot see its tail yet), the cohort, which counts the
        parcels still under way, sets the median."""
        middle = quantile(seen, 0.5)
        if middle < 1:
            return seen
        # Scaled, not shifted: a slowdown stretches the tail too, and shifting left the
        # windows short (coverage_95 0.90 on the Olist walk from March 2018).
        scale = ratio * lead / middle
        return sorted(round(v * scale) for v in seen)

    @property
    def censoring(self) -> bool:
        """Whether forecasts also depend on parcels noted as under way (per lane)."""
        return self._censoring

    def note_in_flight(
        self,
        parcel: Hashable,
        lane: Lane,
        calendar: BusinessCalendar,
        *,
        since: datetime,
        stage: str = ORDER,
        promised: date | None = None,
    ) -> None:
        """A parcel is under way from `since` (placed, or handed to the carrier): until its
        delivery is observed under the same `parcel` id, later forecasts count it as
        censored (`CensoredCohorts`). Without a promise it takes no part."""
        self._censoring = True
        start = calendar.start_day(since, self.cutoff)
        lead = promised_lead(calendar, start, promised, self.lead_offset)
        if lead is not None:
            self.cohorts.start(stage, lane, calendar, start, lead, parcel=parcel)

    def forecast(
        self,
        lane: Lane,
        calendar: BusinessCalendar,
        *,
        since: datetime,
        stage: str = ORDER,
        now: datetime | None = None,
        promised: date | None = None,
    ) -> Forecast | None:
        """Forecast from `since` (placement for ORDER, handover for HANDOVER). With `now`
        later than the start day, the forecast is conditioned on the parcel not having
        arrived yet: only transits longer than the business days already elapsed count.
        With the merchant's `promised` date, the history is rescaled to the lead it leaves
        from the start day (`TransitModel.observations`). None when nothing has been
        learned for the stage yet."""
        start = calendar.start_day(since, self.cutoff)
        lead = promised_lead(calendar, start, promised, self.lead_offset)
        basis, seen = self.model.observations(stage, lane, lead)
        if lead and seen:
            ratio = self.censored_ratio(stage, lane, lead, now or since)
            if ratio is not None:
                seen = self._uncensored(ratio, lead, seen)
        if now is not None and now.date() > start:
            elapsed = calendar.business_days_between(start, now.date())
            longer = seen[bisect.bisect_left(seen, elapsed) :]  # `seen` is sorted
            seen = longer or [elapsed]
        if not seen:
            return None
        today = now.date() if now is not None else None

        def date_after(n: int) -> date:
            day = calendar.add_business_days(start, n)
            return max(day, today) if today is not None else day

        recalibrate = self.recalibrator(stage).level
        likely = date_after(quantile(seen, 0.5))
        windows = []
        for confidence in self.confidences:
            low, high = self._levels(
                seen, recalibrate, *self.calibrator(stage, confidence).bounds()
            )
            earliest = min(date_after(quantile(seen, recalibrate(low))), likely)
            latest = date_after(quantile(seen, recalibrate(high)))
            latest = max(calendar.end_of_business_day(latest), likely)
            windows.append(Window(earliest, likely, latest, confidence, basis))
        return Forecast(stage, start, likely, tuple(windows), tuple(seen))

    def _levels(
        self, seen: Sequence[int], recalibrate: Callable[[float], float], low: float, high: float
    ) -> tuple[float, float]:
        """The nominal quantile levels of a window holding `high - low`: of the splits of the
        rest between the two tails, the one whose window is narrowest in `seen` (the even
        split, given as `low` and `high`, on a tie)."""
        if self.window_splits <= 0:
            return low, high
        mass = high - low
        spare = 1.0 - mass
        best = (low, high)
        narrowest = quantile(seen, recalibrate(high)) - quantile(seen, recalibrate(low))
        for k in range(self.window_splits + 1):
            below = spare * k / self.window_splits
            width = quantile(seen, recalibrate(below + mass)) - quantile(seen, recalibrate(below))
            if width < narrowest:
                best, narrowest = (below, below + mass), width
        return best

    def out_for_delivery(self, now: datetime) -> Forecast:
        """Out for delivery means today, whatever the history says."""
        today = now.date()
        windows = tuple(
            Window(today, today, today, c, "out_for_delivery") for c in self.confidences
        )
        return Forecast("out_for_delivery", today, today, windows)

    def calibrator(self, stage: str, confidence: float) -> CoverageCalibrator:
        found = self._calibrators.get((stage, confidence))
        if found is None:
            found = CoverageCalibrator(confidence, rate=self.calibration_rate)
            self._calibrators[(stage, confidence)] = found
        return found

    def recalibrator(self, stage: str) -> PitRecalibrator:
        found = self._recalibrators.get(stage)
        if found is None:
            found = self._recalibrators[stage] = PitRecalibrator()
        return found

    def resolve(
        self, forecast: Forecast, delivered: date, calendar: BusinessCalendar | None = None
    ) -> None:
        """Tell the calibrators whether the forecast's windows held the actual delivery and,
        given the calendar, where the delivery fell in the forecast's distribution."""
        if calendar is not None and forecast.sample:
            actual = calendar.business_days_between(forecast.start, delivered)
            self.recalibrator(forecast.stage).add(pit(forecast.sample, actual))
        for window in forecast.windows:
            self.calibrator(forecast.stage, window.confidence).resolve(window.contains(delivered))
