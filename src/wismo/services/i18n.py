"""Customer-facing text in the customer's language, with dates, money and percentages
formatted by babel (CLDR) in their locale and time zone.

English comes from `wording` (one source for the status texts every channel shows); other
languages from `catalogue`. Channels call `translator(lang)` and never branch on language.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_interval
from babel.numbers import format_currency, format_percent

from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import RefundState, ReturnState
from wismo.services import catalogue, wording

LANGUAGES = ("en", "fr", "es")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español"}
DEFAULT_LANGUAGE = "en"


def _english() -> dict[str, str]:
    out = dict(catalogue.PAGE_EN)
    out.update({f"status.{m.value}": t for m, t in wording.STATUS_TEXT.items()})
    out.update({f"problem.{r.value}": t for r, t in wording.PROBLEM_TEXT.items()})
    out.update({f"problem.m.{m.value}": t for m, t in wording.MILESTONE_PROBLEM_TEXT.items()})
    out.update({f"next.{m.value}.{r.value}": t for (m, r), t in wording.NEXT_STEP.items()})
    out["next.default"] = wording.DEFAULT_DELAY_STEP
    out.update({f"return.{s.value}": t for s, t in wording.RETURN_TEXT.items()})
    out.update({f"refund.{s.value}": t for s, t in wording.REFUND_TEXT.items()})
    return out


_EN = _english()
_CATALOGUES = {"en": _EN, "fr": {**_EN, **catalogue.FR}, "es": {**_EN, **catalogue.ES}}


def negotiate(*candidates: str | None, accept_language: str | None = None) -> str:
    """The first supported language among explicit candidates (`?lang=`, the customer's
    own), then the browser's `Accept-Language` by quality, else English."""
    for c in candidates:
        found = _base(c)
        if found:
            return found
    for tag in _accepted(accept_language or ""):
        found = _base(tag)
        if found:
            return found
    return DEFAULT_LANGUAGE


def _base(tag: str | None) -> str | None:
    if not tag:
        return None
    base = tag.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def _accepted(header: str) -> Iterable[str]:
    weighted = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        weighted.append((-q, i, tag))
    return [tag for _, _, tag in sorted(weighted)]


class Translator:
    """Text and formats for one language and one time zone."""

    def __init__(self, language: str, time_zone: str = "UTC") -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self.locale = _locale(self.language)
        try:
            self.zone = ZoneInfo(time_zone)
        except (ValueError, KeyError):
            self.zone = ZoneInfo("UTC")
        self._texts = _CATALOGUES[self.language]

    def __call__(self, key: str, **values: object) -> str:
        text = self._texts.get(key, key)
        return text.format(**values) if values else text

    def status(self, milestone: Milestone) -> str:
        return self(f"status.{milestone.value}")

    def problem(self, milestone: Milestone, reason: Reason) -> str | None:
        key = f"problem.{reason.value}" if reason is not Reason.NONE else f"problem.m.{milestone}"
        return self(key) if key in self._texts else None

    def next_step(self, milestone: Milestone, reason: Reason, carrier: str) -> str | None:
        for key in (f"next.{milestone.value}.{reason.value}", f"next.{milestone.value}.none"):
            if key in self._texts:
                return self(key, carrier=carrier)
        return self("next.default", carrier=carrier) if reason is not Reason.NONE else None

    def return_state(self, state: ReturnState) -> str:
        return self(f"return.{state.value}")

    def refund_state(self, state: RefundState) -> str:
        return self(f"refund.{state.value}")

    def short_date(self, day: date) -> str:
        return format_date(day, "EEE d MMM", locale=self.locale)

    def long_date(self, day: date) -> str:
        return format_date(day, "long", locale=self.locale)

    def when(self, moment: datetime, zone: tzinfo | None = None) -> str:
        """An instant in the given zone (the carrier's, where known), else the reader's."""
        tz = zone or self.zone
        return format_datetime(moment.astimezone(tz), "EEE d MMM, HH:mm", locale=self.locale)

    def window(self, from_on: date | None, to_on: date) -> str:
        if from_on is None or from_on == to_on:
            return self.short_date(to_on)
        return format_interval(from_on, to_on, "MMMEd", locale=self.locale)

    def percent(self, share: float) -> str:
        return format_percent(share, locale=self.locale)

    def money(self, amount: Decimal, currency: str) -> str:
        return format_currency(amount, currency, locale=self.locale)


@lru_cache(maxsize=8)
def _locale(language: str) -> Locale:
    return Locale.parse(language)
