"""Wismo's own delivery-date prediction, learned from a store's delivery history (pure).

Transit time is counted in *business days* of the destination's calendar (`BusinessCalendar`:
weekends plus public holidays, which the caller supplies). A parcel's clock starts on its
*start day*: the day it was placed (or handed to the carrier) if that is a business day and
before the pickup cut-off time, else the next business day. Its transit is the number of
business days after the start day up to and including the delivery day (0 = delivered on
the start day); a delivery on a weekend or holiday counts as the business day before it.

`TransitModel` keeps, per stage ("order": from placement; "handover": from handover to the
carrier) and per key, the most recent transit observations. Keys fall back from the most
specific to the most general (`Lane.fallback_keys`): lane (carrier, service, origin ->
destination), then carrier + service, then carrier, then everything (each first narrowed by
an optional `segment` hint); the first key with at least `min_observations` answers.
Learning is adding an observation; a prediction uses only what was added before it, so the
model runs walk-forward as production does. A forecast made after the start day can be
conditioned on the time elapsed (only transits at least that long count); out for delivery
means today.

The point estimate is the median (it minimises absolute error). The window is a pair of
empirical quantiles whose levels are *calibrated on the walk*: each resolved forecast adds
where the delivery fell in the forecast's own distribution (its PIT value,
`PitRecalibrator`), and the window's quantile levels are the levels that held the stated
share of recent deliveries. When transit drifts slower than the recent history says (a peak
season; deliveries still under way are missing from the history), the PIT values pile up
high and the window moves out. `CoverageCalibrator` (adaptive conformal inference on the
level) can trim the result further but is off by default (`calibration_rate` 0): feedback
arrives only on delivery, weeks later, and an integral controller with that lag oscillates.

Error, everywhere in Wismo, is the absolute number of calendar days between the predicted
and the actual delivery date in the customer's local calendar.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

WEEKEND = frozenset({5, 6})  # Saturday, Sunday (date.weekday())
ORDER = "order"  # stage: from the order being placed
HANDOVER = "handover"  # stage: from the parcel being handed to the carrier


class BusinessCalendar:
    """Business days: not a weekend day and not one of `holidays`."""

    def __init__(self, holidays: Iterable[date] = (), weekend: frozenset[int] = WEEKEND) -> None:
        self.holidays = frozenset(holidays)
        self.weekend = weekend
        if len(weekend) >= 7:
            raise ValueError("a calendar needs at least one working weekday")

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """`day` itself when it is a business day, else the first one after it."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def previous_business_day(self, day: date) -> date:
        """`day` itself when it is a business day, else the last one before it."""
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return day

    def add_business_days(self, day: date, n: int) -> date:
        """The `n`-th business day after `day` (n = 0: `day` rolled forward to one)."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = self.next_business_day(day)
        for _ in range(n):
            day = self.next_business_day(day + timedelta(days=1))
        return day

    def end_of_business_day(self, day: date) -> date:
        """The last calendar day that counts as business day `day`: `day` plus the weekend
        and holidays right after it (a Saturday delivery counts as Friday's)."""
        while not self.is_business_day(day + timedelta(days=1)):
            day += timedelta(days=1)
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in (start, end]; 0 when end <= start."""
        count = 0
        day = start + timedelta(days=1)
        while day <= end:
            if self.is_business_day(day):
                count += 1
            day += timedelta(days=1)
        return count

    def start_day(self, at: datetime, cutoff: time | None) -> date:
        """The day a parcel's clock starts: `at`'s day if a business day and before the
        cut-off, else the next business day."""
        day = at.date()
        if cutoff is not None and at.time() >= cutoff:
            day += timedelta(days=1)
        return self.next_business_day(day)


@dataclass(frozen=True, slots=True)
class Lane:
    """Where a parcel travels. Any part may be unknown (None)."""

    carrier: str | None = None
    service: str | None = None
    origin: str | None = None  # origin region, e.g. the seller's state
    destination: str | None = None  # destination region, e.g. the customer's state
    # A finer hint known when the order is placed, tried before each level: e.g. the
    # merchant's promised lead time in buckets ("promise:5"), which encodes distance.
    segment: str | None = None

    def fallback_keys(self) -> tuple[tuple[str | None, ...], ...]:
        """Most specific first: lane, carrier + service, carrier, everything; each with the
        segment first when there is one. A level whose parts are all unknown is skipped."""
        levels: list[tuple[str | None, ...]] = []
        if self.origin is not None or self.destination is not None:
            levels.append(("lane", self.carrier, self.service, self.origin, self.destination))
        if self.carrier is not None:
            levels.append(("service", self.carrier, self.service))
            levels.append(("carrier", self.carrier))
        levels.append(("all",))
        if self.segment is None:
            return tuple(levels)
        return tuple(key for level in levels for key in ((*level, self.segment), level))


@dataclass(frozen=True, slots=True)
class Window:
    """A delivery window stated with a confidence, and its single most likely date."""

    earliest: date
    likely: date
    latest: date
    confidence: float
    basis: str = ""  # which fallback level answered ("lane", "service", "carrier", "all")

    @property
    def width_days(self) -> int:
        return (self.latest - self.earliest).days

    def contains(self, day: date) -> bool:
        return self.earliest <= day <= self.latest

    def describe(self) -> str:
        """E.g. 'Tue 3 - Thu 5 Dec, 90% likely' (en dash; English, the wording layer localises)."""
        share = f"{round(self.confidence * 100)}% likely"
        if self.earliest == self.latest:
            return f"{_day(self.earliest, month=True)}, {share}"
        same_month = (self.earliest.year, self.earliest.month) == (
            self.latest.year,
            self.latest.month,
        )
        first = _day(self.earliest, month=not same_month)
        return f"{first} \N{EN DASH} {_day(self.latest, month=True)}, {share}"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(day: date, *, month: bool) -> str:
    text = f"{_WEEKDAYS[day.weekday()]} {day.day}"
    return f"{text} {_MONTHS[day.month - 1]}" if month else text


def quantile(sorted_values: Sequence[int], q: float) -> int:
    """The empirical q-quantile of sorted integers (lower nearest rank; q clamped to [0, 1])."""
    if not sorted_values:
        raise ValueError("no values")
    q = min(1.0, max(0.0, q))
    index = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) - 1e-9)))
    return sorted_values[index]


@dataclass(slots=True)
class TransitModel:
    """Recent transit observations (business days) per stage and fallback key."""

    min_observations: int = 30
    recent: int = 400  # keep this many most recent observations per key (the data drift)
    _seen: dict[tuple[str, tuple[str | None, ...]], deque[int]] = field(default_factory=dict)

    def add(self, stage: str, lane: Lane, business_days: int) -> None:
        """Learn one delivered parcel. Negative transit is bad data and is ignored."""
        if business_days < 0:
            return
        for key in lane.fallback_keys():
            seen = self._seen.get((stage, key))
            if seen is None:
                seen = self._seen[(stage, key)] = deque(maxlen=self.recent)
            seen.append(business_days)

    def observations(self, stage: str, lane: Lane) -> tuple[str, list[int]]:
        """The most specific fallback level with enough data, and its observations sorted.
        With too little data everywhere, whatever the most general level has (maybe none)."""
        found: tuple[str, list[int]] = ("none", [])
        for key in lane.fallback_keys():
            seen = self._seen.get((stage, key))
            if seen:
                found = (str(key[0]), sorted(seen))
                if len(seen) >= self.min_observations:
                    return found
        return found


@dataclass(slots=True)
class CoverageCalibrator:
    """Adaptive conformal inference on the quantile level of a stated window.

    The window for confidence c is [Q((1 - l) / 2), Q((1 + l) / 2)] of the transit
    distribution; after each resolved prediction, l += rate * (missed - (1 - c)), so the
    long-run share of deliveries inside the windows converges to c whatever the drift.
    """

    confidence: float
    rate: float = 0.01
    level: float = -1.0  # starts at `confidence`

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence < 1.0:
            raise ValueError("confidence must be in (0, 1)")
        if self.level < 0.0:
            self.level = self.confidence

    def bounds(self) -> tuple[float, float]:
        level = min(1.0, max(0.0, self.level))
        return (1.0 - level) / 2.0, (1.0 + level) / 2.0

    def resolve(self, covered: bool) -> None:
        missed = 0.0 if covered else 1.0
        self.level += self.rate * (missed - (1.0 - self.confidence))
        self.level = min(1.2, max(0.0, self.level))  # bounded: a long streak must not stick


@dataclass(slots=True)
class PitRecalibrator:
    """Quantile recalibration from where recent deliveries fell in their forecasts.

    Each resolved forecast adds its PIT value: the share of the forecast's transit sample
    below the actual transit (ties count half). When the history drifts (transit getting
    slower than the recent deliveries say, as in a peak season), the PIT values pile up
    near 1; `level(q)` maps a nominal quantile level to the level that, in the recent
    resolved forecasts, held a share q of deliveries below it.
    """

    recent: int = 500
    min_resolved: int = 50
    _pits: deque[float] = field(default_factory=deque)  # in the order they were added
    _ordered: list[float] = field(default_factory=list)  # the same values, sorted

    def add(self, pit: float) -> None:
        pit = min(1.0, max(0.0, pit))
        self._pits.append(pit)
        bisect.insort(self._ordered, pit)
        while len(self._pits) > self.recent:
            del self._ordered[bisect.bisect_left(self._ordered, self._pits.popleft())]

    def level(self, q: float) -> float:
        if len(self._ordered) < self.min_resolved:
            return q
        q = min(1.0, max(0.0, q))
        return self._ordered[min(len(self._ordered) - 1, int(q * len(self._ordered)))]


def pit(sample: Sequence[int], actual: int) -> float:
    """The mid-rank PIT value of `actual` in `sample` (0.5 for an empty sample)."""
    if not sample:
        return 0.5
    below = sum(1 for v in sample if v < actual)
    equal = sum(1 for v in sample if v == actual)
    return (below + equal / 2.0) / len(sample)


@dataclass(frozen=True, slots=True)
class Forecast:
    """A point estimate and its windows, from one moment in a parcel's life."""

    stage: str
    start: date
    likely: date
    windows: tuple[Window, ...]
    sample: tuple[int, ...] = ()  # the transit sample (business days) the forecast used

    def window(self, confidence: float) -> Window:
        for window in self.windows:
            if abs(window.confidence - confidence) < 1e-9:
                return window
        raise KeyError(confidence)


@dataclass(slots=True)
class DeliveryEstimator:
    """The transit model plus one calibrator per stage and confidence."""

    confidences: tuple[float, ...] = (0.8, 0.95)
    cutoff: time | None = time(14, 0)
    model: TransitModel = field(default_factory=TransitModel)
    calibration_rate: float = 0.0
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
    ) -> bool:
        """Learn one delivered parcel; False (and nothing learned) for bad data: a delivery
        before the order was placed or before it was handed to the carrier."""
        if delivered < placed or (handed_over is not None and delivered < handed_over):
            return False
        delivered_day = delivered.date()
        start = calendar.start_day(placed, self.cutoff)
        self.model.add(ORDER, lane, calendar.business_days_between(start, delivered_day))
        if handed_over is not None and handed_over >= placed:
            start = calendar.start_day(handed_over, self.cutoff)
            self.model.add(HANDOVER, lane, calendar.business_days_between(start, delivered_day))
        return True

    def forecast(
        self,
        lane: Lane,
        calendar: BusinessCalendar,
        *,
        since: datetime,
        stage: str = ORDER,
        now: datetime | None = None,
    ) -> Forecast | None:
        """Forecast from `since` (placement for ORDER, handover for HANDOVER). With `now`
        later than the start day, the forecast is conditioned on the parcel not having
        arrived yet: only transits longer than the business days already elapsed count.
        None when nothing has been learned for the stage yet."""
        basis, seen = self.model.observations(stage, lane)
        start = calendar.start_day(since, self.cutoff)
        if now is not None and now.date() > start:
            elapsed = calendar.business_days_between(start, now.date())
            longer = [v for v in seen if v >= elapsed]
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
            low, high = self.calibrator(stage, confidence).bounds()
            earliest = min(date_after(quantile(seen, recalibrate(low))), likely)
            latest = date_after(quantile(seen, recalibrate(high)))
            latest = max(calendar.end_of_business_day(latest), likely)
            windows.append(Window(earliest, likely, latest, confidence, basis))
        return Forecast(stage, start, likely, tuple(windows), tuple(seen))

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
