"""Order numbers, emails, phones, postal codes, tracking numbers and dates in a message.

A number means what the words before it say: "order 1042", "zip 94107", "tracking
123456789012" (the cue words come from the language data files). Without a cue, only a
shape that cannot be anything else counts: "#1042" and "A-10042" are order numbers, UPS
"1Z..." and "RB123456789GB" tracking numbers, "+44 20 7946 0958" a phone, "SW1A 1AA" a
postcode. So "my zip is 94107" never yields an order number, and a phone or a tracking
number never does either. Passes run in a fixed order and each claims its spans, so a
number is given at most one meaning.

`extract` also returns the message with the entities replaced by placeholder words
(`xorder`, `xemail`...) and remaining digits by `xnum`: the classifier sees "where is
#1042" and "where is #99" as the same sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import phonenumbers

from wismo.conversation.nlu import dates as date_finder
from wismo.conversation.nlu import tracking
from wismo.conversation.nlu.intents import Language, languages

# Longer messages are cut here before anything else looks at them: entities past the first
# two thousand characters are not worth quadratic surprises in regular expressions.
MAX_CHARS = 2000
EXPECTABLE = ("order_number", "email", "phone", "postal_code", "tracking_number")

OrderPatterns = Sequence[str | re.Pattern[str]]


@dataclass(frozen=True, slots=True)
class Entities:
    """What a message named. `phone` is E.164; `dates` are ISO dates in order of mention."""

    order_number: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    tracking_number: str | None = None
    dates: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Every key, None (or [] for dates) when absent."""
        return {
            "order_number": self.order_number,
            "email": self.email,
            "phone": self.phone,
            "postal_code": self.postal_code,
            "tracking_number": self.tracking_number,
            "dates": list(self.dates),
        }


@dataclass(frozen=True, slots=True)
class Extraction:
    entities: Entities
    masked: str  # the text the classifier sees


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    kind: str  # order | email | phone | postal | tracking | date
    value: str


_PLACEHOLDER = {
    "order": " xorder ",
    "email": " xemail ",
    "phone": " xphone ",
    "postal": " xpostal ",
    "tracking": " xtracking ",
}
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![\w-])"
)
_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9]{1,40}(?:-[A-Za-z0-9]{1,40}){0,4}(?![\w])")
_DIGIT_GROUPS = re.compile(r"(?<![\w-])\d{4}(?: \d{4}){4}(?: \d{1,4})?(?![\w])")
_UPS_SPACED = re.compile(r"(?<![\w])1Z(?: ?[0-9A-Z]){16}(?![\w])", re.I)
_CODE_WITH_PREFIX = re.compile(r"[A-Za-z]{1,4}-\d{3,12}")
_POSTAL = re.compile(
    r"""
    (?P<uk>[A-Z]{1,2}[0-9][A-Z0-9]?\ ?[0-9][A-Z]{2})       # UK: SW1A 1AA, M1 1AE
    | (?P<ca>[A-Z][0-9][A-Z]\ ?[0-9][A-Z][0-9])            # Canada: K1A 0B1
    | (?P<nl>[0-9]{4}\ ?[A-Z]{2})                          # Netherlands: 1012 AB
    | (?P<us>[0-9]{5}(?:-[0-9]{4})?)                       # US ZIP (+4); FR, DE, ES, IT
    | (?P<jp>[0-9]{3}-[0-9]{4}) | (?P<pl>[0-9]{2}-[0-9]{3}) # Japan, Poland
    | (?P<four>[0-9]{4})                                   # AU, BE, CH, AT, DK, NO
    | (?P<br>[0-9]{5}-[0-9]{3})                            # Brazil
    """,
    re.VERBOSE | re.IGNORECASE,
)
# A UK or Canadian postcode in full is not anything else, even without a cue.
_POSTAL_DISTINCT = re.compile(
    r"(?<![\w-])(?:[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}|[A-Z][0-9][A-Z] [0-9][A-Z][0-9])(?![\w])",
    re.IGNORECASE,
)
_LINK_PUNCT = re.compile(r"[\s:#.,=()'\"?°-]*")
_WORD = re.compile(r"\w+")
_NEXT_WORD = re.compile(r"[\s,:()-]{0,8}(\w+)")


@dataclass(frozen=True, slots=True)
class _Cues:
    pattern: re.Pattern[str] | None
    kind_of: dict[str, str]  # cue word or phrase -> kind
    links: frozenset[str]
    copulas: frozenset[str]
    units: frozenset[str]


@cache
def _cues(langs: tuple[Language, ...]) -> _Cues:
    kind_of: dict[str, str] = {}
    links: set[str] = set()
    copulas: set[str] = set()
    units: set[str] = set()
    for lang in langs:
        for kind, words in lang.cues.items():
            if kind == "link":
                links.update(words)
            elif kind == "copula":
                copulas.update(words)
            else:
                kind_of.update(dict.fromkeys(words, kind))
        units.update(lang.units)
    alternation = "|".join(re.escape(w) for w in sorted(kind_of, key=len, reverse=True))
    pattern = re.compile(rf"\b(?:{alternation})\b", re.I) if alternation else None
    return _Cues(pattern, kind_of, frozenset(links), frozenset(copulas), frozenset(units))


@cache
def _store_patterns(patterns: tuple[str | re.Pattern[str], ...]) -> tuple[re.Pattern[str], ...]:
    compiled: list[re.Pattern[str]] = []
    for p in patterns:
        if isinstance(p, re.Pattern):
            compiled.append(p)
            continue
        try:
            compiled.append(re.compile(p))
        except re.error as exc:
            raise ValueError(f"order pattern {p!r}: {exc}") from None
    return tuple(compiled)


def compile_order_patterns(patterns: OrderPatterns) -> tuple[re.Pattern[str], ...]:
    """The store's order-number formats, compiled; ValueError names a bad one."""
    return _store_patterns(tuple(patterns))


@dataclass(slots=True)
class _Claims:
    text: str
    spans: list[_Span] = field(default_factory=list)

    def free(self, start: int, end: int) -> bool:
        return not any(start < s.end and s.start < end for s in self.spans)

    def claim(self, start: int, end: int, kind: str, value: str) -> bool:
        if start >= end or not self.free(start, end):
            return False
        self.spans.append(_Span(start, end, kind, value))
        return True

    def first(self, kind: str) -> str | None:
        found = sorted((s for s in self.spans if s.kind == kind), key=lambda s: s.start)
        return found[0].value if found else None

    def blanked(self) -> str:
        """The text with claimed spans blotted out, same length, so offsets still hold."""
        chars = list(self.text)
        for s in self.spans:
            chars[s.start : s.end] = "~" * (s.end - s.start)
        return "".join(chars)


def extract(
    text: str,
    *,
    order_patterns: OrderPatterns = (),
    default_region: str = "US",
    today: date,
    expecting: str | None = None,
) -> Extraction:
    """Entities and the masked text of `text` (cut to `MAX_CHARS` first)."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS])
    langs = languages()
    cues = _cues(langs)
    region = default_region.upper()
    claims = _Claims(text)
    for match in _EMAIL.finditer(text):
        claims.claim(match.start(), match.end(), "email", match[0].lower())
    for pattern in compile_order_patterns(order_patterns):
        for match in pattern.finditer(claims.blanked()):
            start, end = match.span(1) if pattern.groups else match.span()
            value = text[start:end].strip().lstrip("#").strip()
            if value:
                claims.claim(start, end, "order", value)
    for found in date_finder.find(
        claims.blanked(),
        langs,
        today=today,
        month_first=region in date_finder.MONTH_FIRST_REGIONS,
    ):
        claims.claim(found.start, found.end, "date", found.on.isoformat())
    if any(c.isdigit() for c in text):  # every pass below looks for numbers
        _after_cues(claims, cues)
        _before_cues(claims, cues)
        _tracking_shapes(claims)
        _phones(claims, cues, region)
        _other_shapes(claims)
    if expecting is not None:
        _expected(claims, expecting, region)
    elif claims.first("order") is None:
        _lone_token(claims)
    return Extraction(_entities(claims), _mask(claims))


def _entities(claims: _Claims) -> Entities:
    return Entities(
        order_number=claims.first("order"),
        email=claims.first("email"),
        phone=claims.first("phone"),
        postal_code=claims.first("postal"),
        tracking_number=claims.first("tracking"),
        dates=tuple(
            dict.fromkeys(
                s.value for s in sorted(claims.spans, key=lambda s: s.start) if s.kind == "date"
            )
        ),
    )


def _mask(claims: _Claims) -> str:
    parts: list[str] = []
    at = 0
    for span in sorted(claims.spans, key=lambda s: s.start):
        parts.append(claims.text[at : span.start])
        parts.append(_PLACEHOLDER.get(span.kind, claims.text[span.start : span.end]))
        at = span.end
    parts.append(claims.text[at:])
    return re.sub(r"\d+", " xnum ", "".join(parts))


def _gap_end(text: str, start: int, links: frozenset[str]) -> tuple[int, bool]:
    """Where the value after a cue starts, skipping link words ("number", "is", "no.")
    and punctuation; and whether a '#' or a number word was among them."""
    at = start
    strong = False
    for _ in range(5):
        punct = _LINK_PUNCT.match(text, at)
        if punct is not None:
            strong = strong or "#" in punct[0]
            at = punct.end()
        word = _WORD.match(text, at)
        if word is None or word[0].lower() not in links or any(c.isdigit() for c in word[0]):
            break
        strong = strong or word[0].lower() in {"number", "no", "nr", "num", "número", "numero"}
        at = word.end()
    return at, strong


def _after_cues(claims: _Claims, cues: _Cues) -> None:
    if cues.pattern is None:
        return
    text = claims.blanked()
    for cue in cues.pattern.finditer(text):
        kind = cues.kind_of[cue[0].lower()]
        at, strong = _gap_end(text, cue.end(), cues.links)
        if kind == "postal":
            match = _POSTAL.match(text, at)
            if match is not None and _ends_word(text, match.end()):
                claims.claim(match.start(), match.end(), "postal", _postal_value(match))
            continue
        if kind == "tracking":
            spaced = _DIGIT_GROUPS.match(text, at) or _UPS_SPACED.match(text, at)
            if spaced is not None:
                claims.claim(
                    spaced.start(), spaced.end(), "tracking", tracking.normalise(spaced[0])
                )
                continue
        token = _TOKEN.match(text, at)
        if token is None or not any(c.isdigit() for c in token[0]):
            continue
        value = token[0]
        if kind == "tracking" and tracking.is_possible(value):
            claims.claim(token.start(), token.end(), "tracking", tracking.normalise(value))
        elif kind == "order" and not tracking.is_distinct(value):
            next_word = _NEXT_WORD.match(text, token.end())
            if next_word is not None and next_word[1].lower() in cues.units:
                continue  # "my order 10 days ago"
            if len(value) >= 3 or strong:
                start = (
                    token.start() - 1
                    if text[token.start() - 1 : token.start()] == "#"
                    else token.start()
                )
                claims.claim(start, token.end(), "order", value)


def _before_cues(claims: _Claims, cues: _Cues) -> None:
    """ "1042 is my order number": a value followed by link words and an order cue."""
    if cues.pattern is None:
        return
    text = claims.blanked()
    for token in _candidates(text):
        value = token[0]
        if len(value) < 3 or tracking.is_distinct(value):
            continue
        gap = _NEXT_WORD.match(text, token.end())
        if gap is None or gap[1].lower() not in cues.copulas:
            continue
        at, _ = _gap_end(text, token.end(), cues.links)
        cue = cues.pattern.match(text, at)
        if cue is not None and cues.kind_of[cue[0].lower()] == "order":
            claims.claim(token.start(), token.end(), "order", value)


def _ends_word(text: str, end: int) -> bool:
    return end >= len(text) or not (text[end].isalnum() or text[end] == "-")


def _postal_value(match: re.Match[str]) -> str:
    value = re.sub(r"\s+", "", match[0]).upper()
    if match.group("uk") or match.group("ca"):
        return f"{value[:-3]} {value[-3:]}"
    if match.group("nl"):
        return f"{value[:4]} {value[4:]}"
    return value


def _tracking_shapes(claims: _Claims) -> None:
    text = claims.blanked()
    for pattern in (_DIGIT_GROUPS, _UPS_SPACED):
        for match in pattern.finditer(text):
            if tracking.is_distinct(match[0]):
                claims.claim(match.start(), match.end(), "tracking", tracking.normalise(match[0]))
    for token in _candidates(text):
        hashed = text[token.start() - 1 : token.start()] == "#"
        if not hashed and tracking.is_likely(token[0]):
            claims.claim(token.start(), token.end(), "tracking", tracking.normalise(token[0]))


def _phones(claims: _Claims, cues: _Cues, region: str) -> None:
    text = claims.blanked()
    if sum(c.isdigit() for c in text) < 7:
        return  # no phone number is shorter; and the matcher is the slowest pass
    # The matcher never raises: unparsable candidates and unknown regions find nothing.
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        raw = match.raw_string
        digits = sum(c.isdigit() for c in raw)
        before = text[max(0, match.start - 40) : match.start]
        cue = _nearest_cue(before, cues)
        if not (raw.startswith(("+", "00")) or cue == "phone" or (digits >= 10 and cue is None)):
            continue
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        claims.claim(match.start, match.end, "phone", e164)


def _nearest_cue(before: str, cues: _Cues) -> str | None:
    if cues.pattern is None:
        return None
    found = list(cues.pattern.finditer(before))
    return cues.kind_of[found[-1][0].lower()] if found else None


def _other_shapes(claims: _Claims) -> None:
    text = claims.blanked()
    for match in _POSTAL_DISTINCT.finditer(text):
        postal = _POSTAL.fullmatch(match[0])
        if postal is not None and (postal.group("uk") or postal.group("ca")):
            claims.claim(match.start(), match.end(), "postal", _postal_value(postal))
    for token in _candidates(text):
        value = token[0]
        if text[token.start() - 1 : token.start()] == "#":
            claims.claim(token.start() - 1, token.end(), "order", value)
        elif _CODE_WITH_PREFIX.fullmatch(value):
            claims.claim(token.start(), token.end(), "order", value)


def _lone_token(claims: _Claims) -> None:
    """A message that is nothing but one code ("1042", "A10042") answers "which order?"."""
    text = claims.blanked()
    tokens = _TOKEN.findall(text)
    stripped = text.strip().lstrip("#").strip().rstrip(".!?")
    if len(tokens) != 1 or tokens[0] != stripped or claims.spans:
        return
    value = tokens[0]
    if 2 <= len(value) <= 20 and any(c.isdigit() for c in value):
        start = text.index(value)
        claims.claim(start, start + len(value), "order", value)


def _expected(claims: _Claims, expecting: str, region: str) -> None:
    """The agent asked for one thing: an unclaimed value of that shape is the answer."""
    kind = {
        "order_number": "order",
        "postal_code": "postal",
        "phone": "phone",
        "tracking_number": "tracking",
        "email": "email",
    }.get(expecting)
    if kind is None:
        raise ValueError(f"expecting: one of {', '.join(EXPECTABLE)}, not {expecting!r}")
    if claims.first(kind) is not None:
        return
    text = claims.blanked()
    if kind == "postal":
        for match in _POSTAL.finditer(text):
            if _ends_word(text, match.end()) and (
                match.start() == 0 or not text[match.start() - 1].isalnum()
            ):
                claims.claim(match.start(), match.end(), "postal", _postal_value(match))
                return
        return
    if kind == "phone":
        for phone in phonenumbers.PhoneNumberMatcher(text, region):
            e164 = phonenumbers.format_number(phone.number, phonenumbers.PhoneNumberFormat.E164)
            if claims.claim(phone.start, phone.end, "phone", e164):
                return
        return
    for token in _candidates(text):
        value = token[0]
        if kind == "tracking" and tracking.is_possible(value):
            claims.claim(token.start(), token.end(), "tracking", tracking.normalise(value))
            return
        if kind == "order" and 2 <= len(value) <= 30:
            claims.claim(token.start(), token.end(), "order", value)
            return


def _candidates(text: str) -> Iterable[re.Match[str]]:
    return (t for t in _TOKEN.finditer(text) if any(c.isdigit() for c in t[0]))
