"""Parcels still under way, counted as right-censored so a slowdown shows before the slow
parcels arrive (pure).

When the caller also notes parcels under way (`DeliveryEstimator.note_in_flight`), each
stage's median is moved to that of a Kaplan-Meier estimate over the last 14 days' cohort, in
which the undelivered parcels count as right-censored (`CensoredCohorts`): in a slowdown the
recent deliveries alone are the fast ones, and slow and fast spells last days to a few
weeks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from wismo.domain.estimate.calendar import BusinessCalendar
from wismo.domain.estimate.history import Lane


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
