"""Business-day calendars from public holidays (the `holidays` package).

`calendar_for("BR", "SP", years)` is the destination's calendar: weekends plus national and,
where the package knows the subdivision, regional public holidays. A country the package does
not know (or an unknown subdivision) falls back to weekends only; a subdivision it does not
know falls back to the country's national holidays.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import holidays

from wismo.domain.estimate import BusinessCalendar


def calendar_for(
    country: str | None, subdivision: str | None = None, years: Iterable[int] = ()
) -> BusinessCalendar:
    """The business-day calendar of a destination (country code, optional region code)."""
    return _calendar(
        (country or "").upper(), (subdivision or "").upper() or None, tuple(sorted(set(years)))
    )


@lru_cache(maxsize=256)
def _calendar(country: str, subdivision: str | None, years: tuple[int, ...]) -> BusinessCalendar:
    if not country or not years:
        return BusinessCalendar()
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=years)
    except NotImplementedError:  # the package does not know the subdivision, or the country
        if subdivision is None:
            return BusinessCalendar()
        return _calendar(country, None, years)
    return BusinessCalendar(found.keys())
