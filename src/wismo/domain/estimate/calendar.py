"""Business days of a destination's calendar, the unit all transit is counted in (pure).

Transit time is counted in *business days* of the destination's calendar (`BusinessCalendar`:
weekends plus public holidays, which the caller supplies). A parcel's clock starts on its
*start day*: the day it was placed (or handed to the carrier) if that is a business day and
before the pickup cut-off time, else the next business day. Its transit is the number of
business days after the start day up to and including the delivery day (0 = delivered on
the start day); a delivery on a weekend or holiday counts as the business day before it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

WEEKEND = frozenset({5, 6})  # Saturday, Sunday (date.weekday())


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
