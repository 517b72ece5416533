"""What a delivery forecast answers: its most likely date and its windows (pure).

Kept apart from the learning: the sweep, the benchmarks and the wording read and store
these values and need none of the history behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


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
