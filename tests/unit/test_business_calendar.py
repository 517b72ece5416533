"""The business-day calendar's shortcuts agree with counting day by day."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from wismo.domain.estimate import BusinessCalendar
from wismo.services.estimate import calendar_for

CALENDARS = (
    calendar_for("US", "NY", range(2024, 2030)),
    calendar_for("BR", "SP", range(2024, 2030)),
    calendar_for("XX", None, range(2024, 2030)),  # unknown country: weekends only
    BusinessCalendar([date(2026, 12, 24), date(2026, 12, 25)], frozenset({4, 5})),
)


def walk(calendar: BusinessCalendar, day: date, n: int) -> date:
    day = calendar.next_business_day(day)
    for _ in range(n):
        day = calendar.next_business_day(day + timedelta(days=1))
    return day


@settings(max_examples=400)
@given(
    st.sampled_from(CALENDARS),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 6, 30)),
    st.integers(min_value=0, max_value=80),
)
def test_add_business_days_equals_the_walk(calendar: BusinessCalendar, day: date, n: int) -> None:
    found = calendar.add_business_days(day, n)
    assert found == walk(calendar, day, n)
    assert calendar.is_business_day(found)
    assert calendar.business_days_between(calendar.next_business_day(day), found) == n


def test_thanksgiving_and_the_weekend_are_skipped() -> None:
    us = calendar_for("US", None, range(2026, 2027))
    # Wed 25 Nov 2026 + 2 business days: Thu 26 is Thanksgiving, then Fri 27, Mon 30.
    assert us.add_business_days(date(2026, 11, 25), 2) == date(2026, 11, 30)
