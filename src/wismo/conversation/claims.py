"""Finding checkable claims in free text, English and Spanish: dates, times, amounts,
tracking and order numbers, carriers, places and status words.

Used by `grounding.check` on template output and on arbitrary text (a language model's
rephrasing) alike, so it reads formats people and babel write, not only our own. Each
finder masks what it consumed, so a date is not read again as a tracking number. It knows
nothing of the record: `grounding` decides whether a claim is backed.

Limits, on purpose: a weekday with no date ("on Thursday") or a date with no year is a
claim about any record date that fits, and "12/05/2026" about either reading of it; a
status word in a clause with a negation or a hedge ("not delivered", "once it is
delivered", "llegará") is not a claim, and one that is is checked against the statuses of
the whole order, not of the package the sentence names; places are capitalised words after
"in/at/from/near/en/desde", so a lower-case or unintroduced place is not seen; numbers with
no currency, and item names, are not checked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import get_currency_name, get_currency_symbol

from wismo.services.status import CARRIER_NAMES

MASK = "\x00"  # neither a word character nor a space: a masked span joins nothing
_LANGS = ("en", "es")
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "MXN", "JPY", "CHF", "SEK")


@dataclass(frozen=True, slots=True)
class Claim:
    """One checkable statement: `kind` says which of the fields below matter."""

    kind: str  # date | time | amount | tracking_number | order_number | carrier | place | status
    text: str  # as written
    exact: tuple[date, ...] = ()  # date: candidates, one of which must be on record
    year: int | None = None  # date parts, when there is no exact candidate
    month: int | None = None
    day: int | None = None
    weekday: int | None = None  # Monday = 0
    hour: int = 0
    minute: int = 0
    amount: Decimal = Decimal(0)
    currencies: frozenset[str] = frozenset()
    token: str = ""  # normalised number, carrier name or place
    codes: frozenset[str] = frozenset()  # status: any of these on record backs the word
    grouped: bool = False  # a tracking number read out in groups, maybe after a carrier name


def normalise(text: str) -> str:
    """Casefolded, accents and punctuation dropped, single spaces."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", bare).split())


def normalise_number(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text).upper()


def find_claims(
    text: str,
    *,
    quoted: Iterable[str] = (),
    currencies: Iterable[str] = (),
    today: date | None = None,
) -> list[Claim]:
    """Every claim in `text`; `quoted` strings (record text such as item titles) are read
    as verbatim record data and not searched."""
    s = _Text(re.sub(r"[\u00a0\u202f\u2009]", " ", text))
    for q in sorted({q for q in quoted if len(q.strip()) >= 3}, key=len, reverse=True):
        s.mask_all(re.compile(re.escape(q), re.IGNORECASE))
    claims: list[Claim] = []
    claims += _amounts(s, frozenset(currencies))
    claims += _dates(s, today)
    claims += _times(s)
    claims += _order_numbers(s)
    claims += _tracking_numbers(s)
    claims += _carriers(s)
    claims += _places(s)
    claims += _statuses(s.text)
    return claims


class _Text:
    def __init__(self, text: str) -> None:
        self.text = text

    def take(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """Matches in the current text; each is masked once the caller has read it."""
        for m in list(pattern.finditer(self.text)):
            yield m
            self.mask(m.start(), m.end())

    def mask(self, start: int, end: int) -> None:
        self.text = self.text[:start] + MASK * (end - start) + self.text[end:]

    def mask_all(self, pattern: re.Pattern[str]) -> None:
        for _ in self.take(pattern):
            pass


def _alternation(names: Iterable[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))


# --- money -------------------------------------------------------------------------------

_NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"


@lru_cache(maxsize=32)
def _currency_words(extra: frozenset[str]) -> tuple[dict[str, frozenset[str]], re.Pattern[str]]:
    words: dict[str, set[str]] = {}
    for code in (*COMMON_CURRENCIES, *sorted(extra)):
        words.setdefault(code.casefold(), set()).add(code)
        for lang in _LANGS:
            for count in (1, 2):
                name = get_currency_name(code, count, locale=lang).casefold()
                words.setdefault(name, set()).add(code)
                words.setdefault(name.split()[-1] if lang == "en" else name.split()[0], set())
            words.setdefault(get_currency_symbol(code, locale=lang).casefold(), set()).add(code)
    dollars = {c for c in (*COMMON_CURRENCIES, *extra) if "$" in get_currency_symbol(c, "en")}
    for generic, codes in (
        ("$", dollars),
        ("dollar", dollars),
        ("dollars", dollars),
        ("dólar", dollars),
        ("dólares", dollars),
        ("euro", {"EUR"}),
        ("euros", {"EUR"}),
        ("pound", {"GBP"}),
        ("pounds", {"GBP"}),
        ("libra", {"GBP"}),
        ("libras", {"GBP"}),
    ):
        words.setdefault(generic, set()).update(codes)
    frozen = {w: frozenset(c) for w, c in words.items() if c}
    cur = rf"(?<![A-Za-z])(?:{_alternation(frozen)})(?![A-Za-z])"
    pattern = re.compile(
        rf"(?P<c1>{cur})\s?(?P<n1>{_NUM})(?!\d)|(?<![\d.,])(?P<n2>{_NUM})\s?(?P<c2>{cur})",
        re.IGNORECASE,
    )
    return frozen, pattern


def _decimal(number: str) -> Decimal | None:
    last = max(number.rfind("."), number.rfind(","))
    if last >= 0 and len(number) - last - 1 in (1, 2):
        whole, fraction = number[:last], number[last + 1 :]
    else:
        whole, fraction = number, ""
    digits = re.sub(r"[.,]", "", whole) + ("." + fraction if fraction else "")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _amounts(s: _Text, extra: frozenset[str]) -> list[Claim]:
    words, pattern = _currency_words(extra)
    out = []
    for m in s.take(pattern):
        number = m.group("n1") or m.group("n2")
        currency = (m.group("c1") or m.group("c2")).casefold()
        value = _decimal(number)
        if value is not None:
            out.append(
                Claim(
                    "amount", m.group(0), amount=value, currencies=words.get(currency, frozenset())
                )
            )
    return out


# --- dates -------------------------------------------------------------------------------


def _calendar_names(kind: str) -> dict[str, int]:
    names: dict[str, int] = {}
    for lang in _LANGS:
        data = getattr(Locale.parse(lang), kind)
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in data[context][width].items():
                    names[name.casefold().rstrip(".")] = int(number)
                    names[normalise(name)] = int(number)
    return names


_MONTHS = {**_calendar_names("months"), "sept": 9, "setiembre": 9}
_WEEKDAYS = {
    **_calendar_names("days"),
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_FULL_WEEKDAYS = {
    n: d
    for lang in _LANGS
    for d, name in Locale.parse(lang).days["format"]["wide"].items()
    for n in (name.casefold(), normalise(name))
}
_MON = _alternation(_MONTHS)
_WD = _alternation(_WEEKDAYS)
_ORD = r"(?:st|nd|rd|th|º|°)?"
_LEAD_WD = rf"(?:\b(?P<wd>{_WD})\.?,?\s+(?:the\s+|el\s+)?)?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4}|\d{2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b"),
    re.compile(
        rf"{_LEAD_WD}(?:\bthe\s+|\bel\s+)?\b(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+|de\s+)?"
        rf"(?P<mn>{_MON})\b\.?(?:,?\s+(?:of\s+|de\s+|del\s+)?(?P<y>\d{{4}})\b)?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"{_LEAD_WD}\b(?P<mn>{_MON})\b\.?\s+(?:the\s+)?(?P<d>\d{{1,2}}){_ORD}\b(?![:\d])"
        rf"(?:,?\s+(?P<y>\d{{4}})\b)?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?P<wd>{_WD})\.?,?\s+(?:the\s+|el\s+|d[ií]a\s+)?(?P<d>\d{{1,2}}){_ORD}\b"
        r"(?![:\d])(?!\s*[ap]\.?\s?m\b)",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)|d[ií]a\s+(?P<d2>\d{1,2}))\b", re.I),
]
_BARE_WEEKDAY = re.compile(rf"\b(?P<wd>{_alternation(_FULL_WEEKDAYS)})\b", re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b(?P<w>today|tonight|tomorrow|yesterday|hoy|ayer|pasado\s+mañana)\b"
    r"|(?<!\bla\s)(?<!\bde\s)(?<!\besta\s)(?<!\buna\s)\b(?P<m>mañana)\b",
    re.IGNORECASE,
)
_RELATIVE_DAYS = {
    "today": 0,
    "tonight": 0,
    "hoy": 0,
    "tomorrow": 1,
    "mañana": 1,
    "yesterday": -1,
    "ayer": -1,
}


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _dates(s: _Text, today: date | None) -> list[Claim]:
    out = []
    for i, pattern in enumerate(_DATE_PATTERNS):
        for m in s.take(pattern):
            parts = m.groupdict()
            wd = _WEEKDAYS.get((parts.get("wd") or "").casefold().rstrip("."))
            year = int(parts["y"]) if parts.get("y") else None
            if year is not None and year < 100:
                year += 2000
            if i == 1:  # a/b/y: month first in the US, day first in Spain; either may be meant
                a, b = int(parts["a"]), int(parts["b"])
                found = {_valid(year or 0, a, b), _valid(year or 0, b, a)} - {None}
                out.append(Claim("date", m.group(0), exact=tuple(d for d in found if d)))
                continue
            month = _MONTHS.get(parts["mn"].casefold()) if parts.get("mn") else None
            if month is None and parts.get("m"):
                month = int(parts["m"])
            day = parts.get("d") or parts.get("d2")
            out.append(
                Claim(
                    "date",
                    m.group(0),
                    year=year,
                    month=month,
                    day=int(day) if day else None,
                    weekday=wd,
                )
            )
    for m in s.take(_BARE_WEEKDAY):
        out.append(Claim("date", m.group(0), weekday=_FULL_WEEKDAYS[m.group("wd").casefold()]))
    for m in s.take(_RELATIVE):
        word = " ".join(m.group(0).casefold().split())
        if today is None:
            continue  # nothing to resolve it against: not checked
        shift = 2 if word.startswith("pasado") else _RELATIVE_DAYS[word]
        out.append(Claim("date", m.group(0), exact=(today + timedelta(days=shift),)))
    return out


# --- times, numbers, carriers ------------------------------------------------------------

_TIMES = [
    re.compile(r"\b(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)\b(?:\s*(?P<ap>[ap])\.?\s?m\b\.?)?", re.I),
    re.compile(r"\b(?P<h>1[0-2]|0?[1-9])\s*(?P<ap>[ap])\.?\s?m\b\.?", re.IGNORECASE),
]


def _times(s: _Text) -> list[Claim]:
    out = []
    for pattern in _TIMES:
        for m in s.take(pattern):
            hour, minute = int(m.group("h")), int(m.groupdict().get("mi") or 0)
            ap = (m.group("ap") or "").lower()
            if ap and hour <= 12:
                hour = hour % 12 + (12 if ap == "p" else 0)
            out.append(Claim("time", m.group(0), hour=hour, minute=minute))
    return out


_ORDER_NUMBERS = [
    re.compile(r"#\s?(?P<n>[A-Za-z0-9][A-Za-z0-9-]*)"),
    re.compile(
        r"\b(?:order|pedido)(?:\s+(?:number|no\.?|n[úu]mero|nº|n\.º))?\s+"
        r"(?P<n>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{3,})\b",
        re.IGNORECASE,
    ),
]
_TRACKING = re.compile(r"\b(?=[A-Za-z]*\d)[A-Za-z0-9]{8,}\b")
# Read out for the phone in groups ("1Z9 99A A10 ..."): upper-case and digits only, so
# ordinary words never join a group.
_GROUPED = re.compile(r"\b[A-Z0-9]{1,4}(?: [A-Z0-9]{1,4}){2,}\b")


def _order_numbers(s: _Text) -> list[Claim]:
    return [
        Claim("order_number", m.group(0), token=normalise_number(m.group("n")))
        for pattern in _ORDER_NUMBERS
        for m in s.take(pattern)
    ]


def _tracking_numbers(s: _Text) -> list[Claim]:
    out = [
        Claim("tracking_number", m.group(0), token=normalise_number(m.group(0)))
        for m in s.take(_TRACKING)
    ]
    for m in list(_GROUPED.finditer(s.text)):
        joined = normalise_number(m.group(0))
        if len(joined) >= 8 and any(c.isdigit() for c in joined):
            s.mask(m.start(), m.end())
            out.append(Claim("tracking_number", m.group(0), token=joined, grouped=True))
    return out


_CARRIERS = re.compile(
    r"(?<![\w])(?:"
    + _alternation({*CARRIER_NAMES.values(), *(n.upper() for n in CARRIER_NAMES.values())})
    + r")(?![\w])"
)


def _carriers(s: _Text) -> list[Claim]:
    return [Claim("carrier", m.group(0), token=normalise(m.group(0))) for m in s.take(_CARRIERS)]


# --- places ------------------------------------------------------------------------------

_CAP = r"[A-ZÁÉÍÓÚÑÜ][\w'.-]*"
_PLACES = re.compile(
    r"(?<![\w])(?:[Ii]n|[Aa]t|[Ff]rom|[Nn]ear|[Ee]n|[Dd]esde|[Cc]erca de)\s+"
    rf"(?P<p>{_CAP}(?:(?:,\s*|\s+){_CAP})*)"
)
# Capitalised words after "in"/"at" that are not places.
_NOT_PLACES = frozenset(
    normalise(w)
    for w in (  # noqa: SIM905 -- a word list reads best as words
        "English Spanish French Español Inglés Francés The This That These Those Our Your My "
        "Customer Customers Support Package Packages Order Orders Pedido Paquete Paquetes I "
        "We You It Nuestro Nuestra Tu Su Christmas Navidad Total"
    ).split()
)


def _places(s: _Text) -> list[Claim]:
    out = []
    for m in _PLACES.finditer(s.text):
        token = normalise(m.group("p").split(",")[0])
        first = token.split()[0] if token else ""
        if first and first not in _NOT_PLACES and first not in _MONTHS and first not in _WEEKDAYS:
            out.append(Claim("place", m.group("p").rstrip(".,"), token=token))
    return out


# --- status words ------------------------------------------------------------------------

# Pseudo-codes next to milestone codes in `Facts.statuses`: `return:<state>`,
# `refund:<state>`, `reason:<reason>`, and `delayed` (late, likely late, or a problem).
TRANSIT = frozenset(
    {
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "exception",
        "delivery_attempt_failed",
        "available_for_pickup",
        "expired",
        "returning_to_sender",
        "return:in_transit",
        "return:inspected",
    }
)
COLLECTED = TRANSIT | {"delivered", "returned_to_sender"}
RETURNED = frozenset(
    {
        "returned_to_sender",
        "returning_to_sender",
        "return:in_transit",
        "return:received",
        "return:inspected",
        "return:closed",
    }
)
CANCELLED = frozenset({"cancelled", "return:cancelled", "refund:cancelled"})
CUSTOMS = frozenset({"reason:customs_hold", "reason:held_for_payment"})

_STATUS_WORDS: list[tuple[str, frozenset[str]]] = [
    (r"out for delivery|en reparto", frozenset({"out_for_delivery"})),
    (r"delivered|entregad[oa]s?", frozenset({"delivered"})),
    (r"in transit|on (?:its|the|their) way|en (?:camino|tr[áa]nsito)", TRANSIT),
    (r"(?:collected|picked up) by|recogid[oa]s? por", COLLECTED),
    (r"returned|devuelt[oa]s?", RETURNED),
    (r"cancell?ed|cancelad[oa]s?", CANCELLED),
    (
        r"ready (?:to collect|for (?:pickup|collection))|available for (?:pickup|collection)"
        r"|(?:list[oa]|disponibles?) para (?:recoger|recogida)",
        frozenset({"available_for_pickup"}),
    ),
    (r"delivery attempt|attempted|intento de entrega", frozenset({"delivery_attempt_failed"})),
    (r"customs|aduanas?", CUSTOMS),
    (r"weather|mal tiempo", frozenset({"reason:weather"})),
    (r"damaged|dañad[oa]s?", frozenset({"reason:damaged"})),
    (r"lost|perdid[oa]s?|extraviad[oa]s?", frozenset({"reason:lost"})),
    (
        r"delayed|delays?|late|later than (?:promised|expected)|retrasad[oa]s?|retrasos?"
        r"|más tarde de lo (?:que )?prometi(?:do|mos)",
        frozenset({"delayed"}),
    ),
    (r"refunded|reembolsad[oa]s?", frozenset({"refund:processed"})),
]
_STATUS = [(re.compile(rf"\b(?:{p})\b", re.IGNORECASE), codes) for p, codes in _STATUS_WORDS]
_CLAUSES = re.compile(
    r"[.;:!?\n,()\[\]\u2013\u2014\u00b7]|\b(?:but|and|then|so|pero|y|luego|así que)\b", re.I
)
# A clause with one of these states no status: a negation ("not delivered", "sin
# entregar") or a condition, expectation or future ("once it is delivered", "llegará").
_NEGATION = re.compile(
    r"\b(?:not|no|never|nothing|none|without|yet to|nunca|ningún|ninguna|ninguno|nada|sin"
    r"|tampoco|aún no|todavía no)\b|n't\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:once|when|whenever|if|until|unless|after|before|will|would|should|could|can|may"
    r"|might|must|usually|normally|often|likely|expect|expected|expects|soon|hope|probably"
    r"|whether|cuando|si|una vez|en cuanto|hasta que|antes de|después de|suele|suelen"
    r"|normalmente|probablemente|previsto|prevista|esperamos|puede|pueden|podría|podrían"
    r"|\w+r(?:á|án|ás|é|ía|ían))\b|'ll\b",
    re.IGNORECASE,
)


def _statuses(text: str) -> list[Claim]:
    out = []
    for clause in _CLAUSES.split(text):
        if not clause.strip() or _NEGATION.search(clause) or _HEDGE.search(clause):
            continue
        for pattern, codes in _STATUS:
            for m in pattern.finditer(clause):
                out.append(Claim("status", m.group(0), codes=codes))
    return out
