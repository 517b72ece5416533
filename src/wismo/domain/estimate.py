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

Where the merchant promised a delivery date at checkout, each observation also keeps its
promised *lead* (business days from its start day to that date), and a forecast rescales the
history to its own parcel's lead (transit * lead / observed lead): the promise is set from
the distance, so the pooled transit-to-promise ratios answer for near and far parcels alike
(on the Olist walk this beat fixed promise buckets by about 2% MAE, and lanes are mostly
unknown there). The leads are counted less `lead_offset` business days (at least 1): part of
a promise is an allowance that does not grow with distance, and scaling it too overstated
the spread of near parcels and understated far ones. When the caller also notes parcels
under way (`note_in_flight`), each stage's median is moved to that of a Kaplan-Meier
estimate over the last 14 days' cohort, in which the undelivered parcels count as
right-censored (`CensoredCohorts`): in a slowdown the recent deliveries alone are the fast
ones, and slow and fast spells last days to a few weeks.

The point estimate is the median (it minimises absolute error). The window is a pair of
empirical quantiles whose levels are *calibrated on the walk*: each resolved forecast adds
where the delivery fell in the forecast's own distribution (its PIT value,
`PitRecalibrator`), and the window's quantile levels are the levels that held the stated
share of recent deliveries. When transit drifts slower than the recent history says (a peak
season; deliveries still under way are missing from the history), the PIT values pile up
high and the window moves out. Transit is skewed right, so the window does not split the
share it leaves out evenly between its two tails: of a few splits (`window_splits`), the
one giving the narrowest window in the sample is taken; the recalibrated levels hold their
share whichever split it is. `CoverageCalibrator` (adaptive conformal inference on the
level) can trim the result further but is off by default (`calibration_rate` 0): feedback
arrives only on delivery, weeks later, and an integral controller with that lag oscillates.

Error, everywhere in Wismo, is the absolute number of calendar days between the predicted
and the actual delivery date in the customer's local calendar.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
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
        # Holidays that fall on working weekdays, as day ordinals: counting business days
        # is then arithmetic plus a bisection, cheap enough to run per in-flight parcel.
        self._workday_holidays = sorted(
            d.toordinal() for d in self.holidays if d.weekday() not in weekend
        )
        # Forecasts ask for the same few (start day, n) pairs over and over.
        self._added: dict[tuple[date, int], date] = {}
        self._week_prefix = [0] * 8  # working weekdays among the first i weekdays (Mon = 0)
        for i in range(7):
            self._week_prefix[i + 1] = self._week_prefix[i] + (i not in weekend)

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
        found = self._added.get((day, n))
        if found is not None:
            return found
        if len(self._added) > 100_000:  # bounded: a long-running sweeper sees every day
            self._added.clear()
        found = self._added[(day, n)] = self._add_business_days(day, n)
        return found

    def _add_business_days(self, day: date, n: int) -> date:
        day = self.next_business_day(day)
        if n == 0:
            return day
        # Whole weeks first: holidays only remove business days, so the day that many weeks
        # on has at most the target index; walk on from there (a few days), not n days.
        target = self.business_day_index(day) + n
        day += timedelta(days=7 * (n // self._week_prefix[7]))
        index = self.business_day_index(day)
        while index < target:
            day += timedelta(days=1)
            if self.is_business_day(day):
                index += 1
        return day

    def end_of_business_day(self, day: date) -> date:
        """The last calendar day that counts as business day `day`: `day` plus the weekend
        and holidays right after it (a Saturday delivery counts as Friday's)."""
        while not self.is_business_day(day + timedelta(days=1)):
            day += timedelta(days=1)
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in (start, end]; 0 when end <= start."""
        return max(0, self.business_day_index(end) - self.business_day_index(start))

    def business_day_index(self, day: date) -> int:
        """Business days from the calendar's epoch up to and including `day`: differences
        of two indexes count the business days between them."""
        n = day.toordinal()  # ordinal 1 (1 Jan of year 1) is a Monday
        weeks, rest = divmod(n, 7)
        working = weeks * self._week_prefix[7] + self._week_prefix[rest]
        return working - bisect.bisect_right(self._workday_holidays, n)

    def start_day(self, at: datetime, cutoff: time | None) -> date:
        """The day a parcel's clock starts: `at`'s day if a business day and before the
        cut-off, else the next business day."""
        day = at.date()
        if cutoff is not None and at.time() >= cutoff:
            day += timedelta(days=1)
        return self.next_business_day(day)


# Every forecast and every learned delivery asks for its lane's keys.
_FALLBACK_KEYS: dict[Lane, tuple[tuple[str | None, ...], ...]] = {}


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
        found = _FALLBACK_KEYS.get(self)
        if found is None:
            if len(_FALLBACK_KEYS) > 50_000:  # bounded; a store has far fewer lanes
                _FALLBACK_KEYS.clear()
            found = _FALLBACK_KEYS[self] = self._fallback_keys()
        return found

    def _fallback_keys(self) -> tuple[tuple[str | None, ...], ...]:
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
    """Recent transit observations (business days) per stage and fallback key, each with the
    lead the merchant promised for it (business days from the start day to the promised
    date) where known."""

    min_observations: int = 30
    recent: int = 400  # keep this many most recent observations per key (the data drift)
    _seen: dict[tuple[str, tuple[str | None, ...]], deque[tuple[int, int | None]]] = field(
        default_factory=dict
    )
    # Sorted (or rescaled) samples by (stage, key, lead), until the next `add`: a sweep
    # forecasts thousands of parcels from the same few keys between two learnings.
    _samples: dict[tuple[str, tuple[str | None, ...], int | None], list[int]] = field(
        default_factory=dict
    )

    # Observations that had a promise, per (stage, key) among those kept: which key answers
    # is then decided by counting, without building any sample.
    _promised: dict[tuple[str, tuple[str | None, ...]], int] = field(default_factory=dict)
    # `basis`' two candidate keys (among promised observations, among all) per stage, lane
    # and `min_observations`, until the next `add`: a sweep asks for the same lanes over
    # and over.
    _bases: dict[
        tuple[str, Lane, int],
        tuple[tuple[str | None, ...] | None, tuple[str | None, ...] | None],
    ] = field(default_factory=dict, compare=False, repr=False)

    def add(self, stage: str, lane: Lane, business_days: int, lead: int | None = None) -> None:
        """Learn one delivered parcel. Negative transit is bad data and is ignored."""
        if business_days < 0:
            return
        if lead is not None and lead < 1:
            lead = None  # a promise for the start day itself says nothing about the scale
        if self._samples:
            self._samples.clear()
        if self._bases:
            self._bases.clear()
        for key in lane.fallback_keys():
            slot = (stage, key)
            seen = self._seen.get(slot)
            if seen is None:
                seen = self._seen[slot] = deque(maxlen=self.recent)
            if len(seen) == self.recent and seen[0][1] is not None:
                self._promised[slot] -= 1  # about to fall out of the deque
            seen.append((business_days, lead))
            if lead is not None:
                self._promised[slot] = self._promised.get(slot, 0) + 1

    def basis(
        self, stage: str, lane: Lane, lead: int | None = None
    ) -> tuple[tuple[str | None, ...], int | None] | None:
        """The fallback key whose observations a forecast uses, and the lead they are rescaled
        to (None: not rescaled); None when nothing was learned for the stage. Two parcels
        with the same basis get the same sample (`observations`)."""
        slot = (stage, lane, self.min_observations)
        keys = self._bases.get(slot)
        if keys is None:
            if len(self._bases) > 50_000:  # bounded; a store has far fewer lanes
                self._bases.clear()
            keys = self._bases[slot] = (
                self._basis(stage, lane, self._promised.get),
                self._basis(stage, lane, lambda found: len(self._seen[found])),
            )
        promised_key, any_key = keys
        if lead is not None and lead >= 1 and promised_key is not None:
            return promised_key, lead
        return (any_key, None) if any_key is not None else None

    def _basis(
        self,
        stage: str,
        lane: Lane,
        count: Callable[[tuple[str, tuple[str | None, ...]]], int | None],
    ) -> tuple[str | None, ...] | None:
        found = None
        for key in lane.fallback_keys():
            slot = (stage, key)
            if slot not in self._seen:
                continue
            n = count(slot)
            if n:
                found = key
                if n >= self.min_observations:
                    return key
        return found

    def observations(
        self, stage: str, lane: Lane, lead: int | None = None
    ) -> tuple[str, list[int]]:
        """The most specific fallback level with enough data, and its observations sorted.
        With too little data everywhere, whatever the most general level has (maybe none).

        Given the parcel's promised `lead`, each observation that had a promise too is
        rescaled to it (transit * lead / its lead): the merchant sets the promise from the
        distance, and transit grows about in proportion to it, so one pooled history of
        transit-to-promise ratios answers for near and far parcels alike."""
        chosen = self.basis(stage, lane, lead)
        if chosen is None:
            return "none", []
        key, used = chosen
        values = self._samples.get((stage, key, used))
        if values is None:
            seen = self._seen[(stage, key)]
            values = _rescaled(seen, used) if used is not None else sorted(t for t, _ in seen)
            self._samples[(stage, key, used)] = values
        return str(key[0]), values


def _rescaled(seen: Iterable[tuple[int, int | None]], lead: int) -> list[int]:
    return sorted(round(t * lead / own) for t, own in seen if own is not None)


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

    @property
    def resolved(self) -> int:
        """How many resolved forecasts it holds (it acts from `min_resolved` on)."""
        return len(self._pits)

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
class _Parcel:
    start: date
    lead: int  # promised business days from the start day
    calendar: BusinessCalendar
    transit: int | None = None  # business days, once delivered
    noted: tuple[Hashable, str] | None = None  # (parcel, stage) it was noted under
    held: int = 0  # cohorts (fallback keys) holding it


def kaplan_meier(
    observations: Iterable[tuple[float, bool]],
) -> list[tuple[float, float]]:
    """The Kaplan-Meier survival curve of (time, delivered) observations, where a parcel not
    delivered yet is right-censored at the time it has been under way: the steps (time,
    share still under way after it), one per distinct delivery time. A censored time equal
    to a delivery time counts as at risk at that delivery."""
    ordered = sorted(observations, key=lambda o: (o[0], not o[1]))
    curve: list[tuple[float, float]] = []
    at_risk = len(ordered)
    surviving = 1.0
    i = 0
    while i < len(ordered):
        at, delivered, gone = ordered[i][0], 0, 0
        while i < len(ordered) and ordered[i][0] == at:
            delivered += ordered[i][1]
            gone += 1
            i += 1
        if delivered:
            surviving *= 1.0 - delivered / at_risk
            curve.append((at, surviving))
        at_risk -= gone
    return curve


def survival_quantile(curve: Sequence[tuple[float, float]], q: float) -> float:
    """The first time by which a share q has been delivered; past the curve's reach (the
    rest still under way), its last delivery time."""
    if not curve:
        raise ValueError("no deliveries")
    for at, surviving in curve:
        if surviving <= 1.0 - q + 1e-12:
            return at
    return curve[-1][0]


@dataclass(slots=True)
class CensoredCohorts:
    """Parcels started in the last `days` days per stage and fallback key, delivered or
    still under way, as transit-to-promise ratios.

    Two weeks: shorter cohorts have too few deliveries to place a median, and in longer ones
    a slow spell that began a week ago is diluted (on the Olist walk, 14 days cut the MAE by
    1-6% against 30 and 10).

    A history of completed deliveries alone is biased fast when transit slows down: the
    slow parcels of the same weeks have not arrived yet. Counting the parcels still under
    way as right-censored (at the time they have been travelling) and estimating the ratio
    distribution by Kaplan-Meier removes that bias. Only parcels with a promise take part
    (the ratio needs the lead); the curve is recomputed at most every `refresh`. The cohort
    cannot see its own tail (nothing in it is older than `days`), so only its median is
    used (`median_ratio`); the spread comes from the completed deliveries.
    """

    days: int = 14
    min_observations: int = 30
    refresh: timedelta = timedelta(hours=6)
    _parcels: dict[tuple[str, tuple[str | None, ...]], deque[_Parcel]] = field(default_factory=dict)
    _in_flight: dict[tuple[Hashable, str], _Parcel] = field(default_factory=dict)
    _curves: dict[
        tuple[str, tuple[str | None, ...]],
        tuple[datetime, tuple[int, list[tuple[float, float]], float]],
    ] = field(default_factory=dict)

    def start(
        self,
        stage: str,
        lane: Lane,
        calendar: BusinessCalendar,
        start: date,
        lead: int,
        *,
        parcel: Hashable | None = None,
        transit: int | None = None,
    ) -> None:
        """A parcel under way from `start` (or, with `transit`, one already delivered)."""
        if lead < 1:
            return
        if parcel is not None and (parcel, stage) in self._in_flight:
            return  # noted twice: the first start stands
        record = _Parcel(start, lead, calendar, transit)
        if parcel is not None and transit is None:
            record.noted = (parcel, stage)
            self._in_flight[record.noted] = record
        oldest = start - timedelta(days=self.days)
        for key in lane.fallback_keys():
            parcels = self._parcels.get((stage, key))
            if parcels is None:
                parcels = self._parcels[(stage, key)] = deque()
            parcels.append(record)
            record.held += 1
            while parcels and parcels[0].start < oldest:
                self._drop(parcels.popleft())

    def deliver(self, parcel: Hashable, stage: str, transit: int) -> bool:
        """The noted parcel arrived; False when it was not under way at this stage."""
        record = self._in_flight.pop((parcel, stage), None)
        if record is None:
            return False
        record.transit = transit
        return True

    def _drop(self, record: _Parcel) -> None:
        """One cohort let the record go. It is forgotten once none holds it: until then it
        is still the parcel's record, and noting the parcel again must not add a second."""
        record.held -= 1
        noted = record.noted
        if record.held <= 0 and noted is not None and self._in_flight.get(noted) is record:
            del self._in_flight[noted]

    def under_way(self) -> int:
        """Noted parcels (per stage) not delivered yet and still in some cohort."""
        return len(self._in_flight)

    def median_ratio(self, stage: str, lane: Lane, now: datetime) -> float | None:
        """The median transit-to-promise ratio at the most specific fallback level with at
        least `min_observations` deliveries in its cohort; None if there is none."""
        for key in lane.fallback_keys():
            found = self._curve(stage, key, now)
            if found is not None and found[0] >= self.min_observations:
                _, curve, longest = found
                if curve[-1][1] > 0.5:  # most still under way: the median is past them all
                    return longest
                return survival_quantile(curve, 0.5)
        return None

    def _curve(
        self, stage: str, key: tuple[str | None, ...], now: datetime
    ) -> tuple[int, list[tuple[float, float]], float] | None:
        """Deliveries in the cohort, its survival curve, and the longest time observed."""
        parcels = self._parcels.get((stage, key))
        if not parcels:
            return None
        cached = self._curves.get((stage, key))
        if cached is not None and timedelta(0) <= now - cached[0] < self.refresh:
            return cached[1] if cached[1][1] else None
        today = now.date()
        oldest = today - timedelta(days=self.days)
        observations: list[tuple[float, bool]] = []
        for p in parcels:
            if p.start < oldest or p.start > today:
                continue
            if p.transit is not None:
                observations.append((p.transit / p.lead, True))
            else:  # under way: its transit is at least the business days gone by
                gone = p.calendar.business_days_between(p.start, today)
                observations.append(((gone - 0.5) / p.lead, False))
        deliveries = sum(1 for _, delivered in observations if delivered)
        curve = kaplan_meier(observations)
        longest = max((t for t, _ in observations), default=0.0)
        self._curves[(stage, key)] = (now, (deliveries, curve, longest))
        return (deliveries, curve, longest) if curve else None


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
    ) -> bool:
        """Learn one delivered parcel; False (and nothing learned) for bad data: a delivery
        before the order was placed or before it was handed to the carrier. `promised` is
        the delivery date the merchant promised at checkout, if any; `parcel` the id it was
        noted under (`note_in_flight`)."""
        if delivered < placed or (handed_over is not None and delivered < handed_over):
            return False
        delivered_day = delivered.date()
        stages = [(ORDER, placed)]
        if handed_over is not None and handed_over >= placed:
            stages.append((HANDOVER, handed_over))
        for stage, since in stages:
            start = calendar.start_day(since, self.cutoff)
            transit = calendar.business_days_between(start, delivered_day)
            lead = promised_lead(calendar, start, promised, self.lead_offset)
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
