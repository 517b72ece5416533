"""Dates in a customer's message, as ISO strings, best effort with the standard library.

Understood: ISO dates (2026-03-12), numeric dates (3/12, 12/3/2026, 12.03.2026; month
first for US-style regions, day first elsewhere, and whichever reading is valid when only
one is), named months in the data files' languages ("12 March", "March 12th, 2026",
"12 de marzo"), relative days ("yesterday", "ayer"), "N days ago" / "in N days", and
weekdays ("on Monday": the latest Monday up to today; "next Monday": after today; "last
Monday": before today). A date without a year takes the year that puts it nearest today.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from wismo.conversation.nlu.intents import Language

# Regions that write the month first in numeric dates (3/12 = March 12).
MONTH_FIRST_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI"})

_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "un": 1, "una": 1, "dos": 2}


@dataclass(frozen=True, slots=True)
class Found:
    start: int
    end: int
    on: date


def _alternation(words: Sequence[str]) -> str:
    # Longest first, so "sept" wins over "sep" and "day before yesterday" over "yesterday".
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class _Patterns:
    textual: tuple[re.Pattern[str], ...]
    relative_day: re.Pattern[str] | None
    ago: re.Pattern[str] | None
    ahead: re.Pattern[str] | None
    weekday: re.Pattern[str] | None
    months: dict[str, int]
    weekdays: dict[str, int]
    days: dict[str, int]
    units: dict[str, int]
    past: frozenset[str]
    future: frozenset[str]


_ISO = re.compile(r"(?<![\d-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d-])")
_NUMERIC = re.compile(r"(?<![\d/.])(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?![\d/]|\.\d)")


@cache
def _patterns(langs: tuple[Language, ...]) -> _Patterns:
    months: dict[str, int] = {}
    weekdays: dict[str, int] = {}
    days: dict[str, int] = {}
    units: dict[str, int] = {}
    connectors: list[str] = []
    ago_before: list[str] = []
    ago_after: list[str] = []
    ahead_before: list[str] = []
    past: set[str] = set()
    future: set[str] = set()
    for lang in langs:
        months.update(lang.months)
        weekdays.update(lang.weekdays)
        days.update(lang.days)
        units.update(lang.units)
        connectors += lang.connectors
        ago_before += lang.ago_before
        ago_after += lang.ago_after
        ahead_before += lang.ahead_before
        past.update(lang.past_words)
        future.update(lang.future_words)
    textual: list[re.Pattern[str]] = []
    if months:
        m = _alternation(list(months))
        conn = rf"(?:(?:{_alternation(connectors)})\s+)?" if connectors else ""
        year = rf"(?:,?\s+{conn}(?P<y>\d{{4}}))?"
        textual = [
            re.compile(
                rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th|º|°)?\s+{conn}(?P<m>{m})\.?{year}\b", re.I
            ),
            re.compile(rf"\b(?P<m>{m})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b{year}\b", re.I),
        ]
    number = rf"(?P<n>\d{{1,3}}|{_alternation(list(_NUMBER_WORDS))})"
    unit = rf"(?P<u>{_alternation(list(units))})" if units else None
    return _Patterns(
        textual=tuple(textual),
        relative_day=re.compile(rf"\b(?:{_alternation(list(days))})\b", re.I) if days else None,
        ago=_ago(number, unit, ago_before, ago_after),
        ahead=re.compile(rf"\b(?:{_alternation(ahead_before)})\s+{number}\s+{unit}\b", re.I)
        if unit and ahead_before
        else None,
        weekday=re.compile(rf"\b(?:{_alternation(list(weekdays))})\b", re.I) if weekdays else None,
        months=months,
        weekdays=weekdays,
        days=days,
        units=units,
        past=frozenset(past),
        future=frozenset(future),
    )


def _ago(
    number: str, unit: str | None, before: Sequence[str], after: Sequence[str]
) -> re.Pattern[str] | None:
    """ "hace 3 días" (word before) or "3 days ago" (word after)."""
    if unit is None or not (before or after):
        return None
    alternatives = []
    if before:
        alternatives.append(rf"(?:{_alternation(before)})\s+{number}\s+{unit}")
    if after:
        n2, u2 = number.replace("<n>", "<n2>"), unit.replace("<u>", "<u2>")
        alternatives.append(rf"{n2}\s+{u2}\s+(?:{_alternation(after)})")
    return re.compile(rf"\b(?:{'|'.join(alternatives)})\b", re.I)


def _nearest_year(month: int, day: int, today: date) -> date | None:
    best: date | None = None
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((candidate - today).days) < abs((best - today).days):
            best = candidate
    return best


def _make(year: int | None, month: int, day: int, today: date) -> date | None:
    if year is None:
        return _nearest_year(month, day, today)
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _count(raw: str) -> int:
    return int(raw) if raw.isdigit() else _NUMBER_WORDS[raw.lower()]


def find(text: str, langs: tuple[Language, ...], *, today: date, month_first: bool) -> list[Found]:
    """Dates in `text` with their spans, in order of appearance, overlapping ones dropped."""
    p = _patterns(langs)
    found: list[Found] = []

    def add(start: int, end: int, on: date | None) -> None:
        if on is not None and not any(start < f.end and f.start < end for f in found):
            found.append(Found(start, end, on))

    for match in _ISO.finditer(text):
        y, m, d = (int(g) for g in match.groups())
        add(match.start(), match.end(), _make(y, m, d, today))
    for match in _NUMERIC.finditer(text):
        first, sep, second, year_raw = match.groups()
        if sep != "/" and year_raw is None:
            continue  # "3.5" and "3-5" are quantities and ranges far more often than dates
        a, b = int(first), int(second)
        year = int(year_raw) if year_raw else None
        month, day = (a, b) if month_first else (b, a)
        if month > 12 >= day:
            month, day = day, month
        add(match.start(), match.end(), _make(year, month, day, today))
    for pattern in p.textual:
        for match in pattern.finditer(text):
            year_text = match.group("y")
            add(
                match.start(),
                match.end(),
                _make(
                    int(year_text) if year_text else None,
                    p.months[match.group("m").lower()],
                    int(match.group("d")),
                    today,
                ),
            )
    for start, end, on in _relative(text, p, today):
        add(start, end, on)
    found.sort(key=lambda f: f.start)
    return found


def _relative(text: str, p: _Patterns, today: date) -> Iterator[tuple[int, int, date]]:
    if p.relative_day is not None:
        for match in p.relative_day.finditer(text):
            yield match.start(), match.end(), today + timedelta(days=p.days[match[0].lower()])
    if p.ago is not None:
        for match in p.ago.finditer(text):
            groups = match.groupdict()
            n = groups.get("n") or groups["n2"]
            u = groups.get("u") or groups["u2"]
            span = _count(n) * p.units[u.lower()]
            yield match.start(), match.end(), today - timedelta(days=span)
    if p.ahead is not None:
        for match in p.ahead.finditer(text):
            span = _count(match.group("n")) * p.units[match.group("u").lower()]
            yield match.start(), match.end(), today + timedelta(days=span)
    if p.weekday is not None:
        for match in p.weekday.finditer(text):
            weekday = p.weekdays[match[0].lower()]
            back = (today.weekday() - weekday) % 7
            tense = _tense(text, match.start(), match.end(), p)
            if tense == "future":
                ahead = (weekday - today.weekday()) % 7 or 7
                yield match.start(), match.end(), today + timedelta(days=ahead)
            elif tense == "last":
                yield match.start(), match.end(), today - timedelta(days=back or 7)
            else:
                yield match.start(), match.end(), today - timedelta(days=back)


_WORD = re.compile(r"\w+")


def _tense(text: str, start: int, end: int, p: _Patterns) -> str:
    """ "future", "last" (strictly before today) or "" (up to today), from nearby words.

    The nearest tense word among the six words before wins ("I ordered on Monday, will it
    come by Friday": Monday is past, Friday future); then the two words after ("lunes
    pasado"). Without any, a weekday is taken as the latest one up to today.
    """
    before = _WORD.findall(text[max(0, start - 60) : start].lower())[-6:]
    after = _WORD.findall(text[end : end + 24].lower())[:2]
    for word in [*reversed(before), *after]:
        if word in p.future:
            return "future"
        if word in p.past:
            return "last"
    return ""
