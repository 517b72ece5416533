"""The agent's reply templates (`templates/<language>.yaml`) and per-channel formats.

Dates, money and percentages come from babel through `services.i18n.Translator`, in the
customer's locale and the answer's zone, as on the tracking page; statuses, problems and
next steps come from the same catalogues the page uses. Only what a conversation says
differently lives in the templates here. Voice gets its own forms: dates spoken in full
("Thursday the 5th of December", "jueves 5 de diciembre"), money with the currency's name,
tracking numbers in groups, no symbols.
"""

from __future__ import annotations

import string
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from babel.dates import format_date
from babel.numbers import format_currency

from wismo.services.i18n import Translator

TEMPLATE_LANGUAGES = ("en", "es")
_DIR = Path(__file__).parent / "templates"
# Channels render in one of three styles; the terminal, e-mail and the web widget read like
# chat.
STYLES = {
    "chat": "chat",
    "web": "chat",
    "widget": "chat",
    "terminal": "chat",
    "email": "chat",
    "sms": "sms",
    "voice": "voice",
}
SMS_LIMIT = 320
Segment = tuple[int, str]  # (priority: 1 essential, 2 useful, 3 detail; SMS drops 3 first)


@lru_cache(maxsize=len(TEMPLATE_LANGUAGES))
def templates(language: str) -> dict[str, dict[str, Any]]:
    loaded = yaml.safe_load((_DIR / f"{language}.yaml").read_text(encoding="utf-8"))
    return {section: dict(keys or {}) for section, keys in (loaded or {}).items()}


def language_of(*candidates: str | None) -> str:
    """The first candidate we have templates for, else English (`fr` reads English here)."""
    for c in candidates:
        base = (c or "").strip().replace("_", "-").split("-")[0].lower()
        if base in TEMPLATE_LANGUAGES:
            return base
    return "en"


def style_of(channel: str) -> str:
    try:
        return STYLES[channel]
    except KeyError:
        raise ValueError(f"channel: unknown channel {channel!r}") from None


class Texts:
    """Template text for one language and style; a missing key or channel falls back to
    chat's text, then to English."""

    def __init__(self, language: str, style: str) -> None:
        self.language = language
        self.style = style

    def raw(self, section: str, key: str) -> str | None:
        for lang in dict.fromkeys((self.language, "en")):
            value = templates(lang).get(section, {}).get(key)
            if isinstance(value, dict):
                value = value.get(self.style, value.get("chat"))
            if isinstance(value, str):
                return value
        return None

    def __call__(self, section: str, key: str, **values: object) -> str:
        text = self.raw(section, key)
        if text is None:
            raise ValueError(f"{section}.{key}: no such template")
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
        missing = names - values.keys()
        if missing:
            raise ValueError(f"{section}.{key}: missing slot(s) {', '.join(sorted(missing))}")
        return text.format(**values)


class Formats:
    """Dates, money, places and numbers as one channel shows them."""

    def __init__(self, t: Translator, texts: Texts) -> None:
        self.t = t
        self.texts = texts
        self.voice = texts.style == "voice"

    def day(self, day: date) -> str:
        return self.spoken(day) if self.voice else self.t.short_date(day)

    def when(self, moment: datetime, zone: tzinfo | None = None) -> str:
        """An instant: a date and time in writing, the date alone when spoken."""
        if self.voice:
            return self.spoken(moment.astimezone(zone or self.t.zone).date())
        return self.t.when(moment, zone)

    def window(self, from_on: date | None, to_on: date) -> str:
        return self.t.window(from_on, to_on)

    def spoken(self, day: date) -> str:
        locale = self.t.locale
        return self.texts(
            "date",
            "voice",
            weekday=format_date(day, "EEEE", locale=locale),
            month=format_date(day, "MMMM", locale=locale),
            day=day.day,
            ordinal=_ordinal(day.day),
        )

    def money(self, amount: Decimal, currency: str) -> str:
        if self.voice:
            return format_currency(amount, currency, locale=self.t.locale, format_type="name")
        return self.t.money(amount, currency)

    def place(self, location: str) -> str:
        """Spoken, a carrier's upper-case place reads as words, short codes as letters."""
        if not self.voice:
            return location
        return " ".join(w.capitalize() if len(w) > 3 else w for w in location.split())

    def tracking(self, number: str) -> str:
        """Read out in groups of three, so a listener can write it down."""
        if not self.voice:
            return number
        bare = "".join(number.split()).upper()
        groups = [bare[i : i + 3] for i in range(0, len(bare), 3)]
        if len(groups) > 1 and len(groups[-1]) == 1:
            groups[-2:] = [groups[-2] + groups[-1]]
        return " ".join(groups)

    def order(self, number: str) -> str:
        return number.lstrip("#") if self.voice else number


def render(lines: list[list[Segment]], style: str) -> str:
    """Chat: one line each; voice: one paragraph; SMS: one paragraph within the limit,
    dropping details, then useful parts, then cutting at a word."""
    lines = [line for line in lines if line]
    if style == "chat":
        return "\n".join(" ".join(s for _, s in line) for line in lines)
    flat = [s for line in lines for s in line]
    if style == "voice":
        return " ".join(s for _, s in flat)
    text = ""
    for level in (3, 2, 1):
        text = " ".join(s for p, s in flat if p <= level)
        if len(text) <= SMS_LIMIT:
            return text
    return text[: SMS_LIMIT - 1].rsplit(" ", 1)[0] + "…"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def mask_contact(contact: str) -> str:
    """An e-mail or phone on file, shown enough to recognise: `j***@e***.com`, `***0100`."""
    contact = contact.strip()
    if "@" in contact:
        local, _, domain = contact.partition("@")
        host, dot, tld = domain.rpartition(".")
        if not dot:
            host, tld = domain, ""
        return f"{local[:1]}***@{host[:1]}***{dot}{tld}"
    digits = [c for c in contact if c.isdigit()]
    return "***" + "".join(digits[-4:])
