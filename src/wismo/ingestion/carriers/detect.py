"""Which carrier issued a tracking number, from its format and check digit.

The formats and check-digit rules live in `codes/_tracking_numbers.csv` (Wismo's own table,
see the header there). `detect` returns every carrier whose format the number fits, best
first; a number that fits two carriers is ambiguous and both are returned, so callers never
get a guess presented as a fact. Pure: no I/O beyond reading the package data once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from babel import Locale

_SPACES = re.compile(r"\s+")
# CLDR region codes that are not countries (and so never end an S10 number).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


@dataclass(frozen=True, slots=True)
class Format:
    carrier: str  # a Wismo carrier code, or "post" for S10 (resolved from the country)
    name: str
    rank: int
    pattern: re.Pattern[str]
    check: Callable[[str, str], bool] | None  # (sequence, check character) -> valid


def normalise(number: str) -> str:
    """The number as formats are matched: no spaces, letters upper-cased."""
    return _SPACES.sub("", number).upper()


def detect(number: str) -> list[str]:
    """Wismo carrier codes whose formats `number` fits, best first; [] if none does."""
    text = normalise(number)
    if not text or len(text) > 60:
        return []
    tables = _tables()
    found: dict[str, tuple[int, int]] = {}  # carrier -> (rank, order)
    for order, fmt in enumerate(tables.formats):
        match = fmt.pattern.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        if fmt.check is not None and not fmt.check(groups["s"], groups["c"]):
            continue
        carrier = fmt.carrier
        if carrier == "post":
            country = groups["cc"]
            if country not in tables.countries:
                continue
            carrier = tables.posts.get(country, f"post_{country.lower()}")
        best = found.get(carrier)
        if best is None or fmt.rank > best[0]:
            found[carrier] = (fmt.rank, order if best is None else best[1])
    return sorted(found, key=lambda c: (-found[c][0], found[c][1]))


def formats() -> list[Format]:
    return list(_tables().formats)


# --- check-digit algorithms -------------------------------------------------------------


def _digit_value(char: str) -> int:
    return int(char) if char.isdigit() else (ord(char) - 3) % 10


def mod10(
    sequence: str, check: str, even: int, odd: int, *, reverse: bool = False, prepend: str = ""
) -> bool:
    """Weighted sum mod 10 (UPS, USPS, FedEx Ground, OnTrac, Canada Post variants)."""
    if prepend and not sequence.startswith(prepend):
        sequence = prepend + sequence
    chars = sequence[::-1] if reverse else sequence
    total = sum(_digit_value(c) * (odd if i % 2 else even) for i, c in enumerate(chars))
    return (-total) % 10 == int(check)


def luhn(sequence: str, check: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(sequence)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (-total) % 10 == int(check)


def mod7(sequence: str, check: str) -> bool:
    return int(sequence) % 7 == int(check)


def s10(sequence: str, check: str) -> bool:
    """UPU S10: weights 8 6 4 2 3 5 9 7, mod 11 (10 -> 0, 11 -> 5)."""
    total = sum(int(c) * w for c, w in zip(sequence, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    value = 11 - total % 11
    return {10: 0, 11: 5}.get(value, value) == int(check)


def weighted(sequence: str, check: str, weights: tuple[int, ...], m1: int, m2: int) -> bool:
    total = sum(int(c) * w for c, w in zip(sequence, weights, strict=True))
    return total % m1 % m2 == int(check)


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mod37_36(sequence: str, check: str) -> bool:
    """ISO 7064 MOD 37,36 (DPD parcel numbers)."""
    mod = 36
    value = mod
    for char in sequence:
        value += _ALNUM.index(char)
        if value > mod:
            value -= mod
        value *= 2
        if value > mod:
            value -= mod + 1
    value = mod + 1 - value
    if value == mod:
        value = 0
    return _ALNUM[value] == check


def _checker(spec: str) -> Callable[[str, str], bool] | None:
    name, *options = spec.split()
    opts = {o.partition("=")[0]: o.partition("=")[2] for o in options}
    match name:
        case "-":
            return None
        case "mod10":
            even, odd = (int(w) for w in opts["w"].split("."))
            reverse, prepend = "reverse" in opts, opts.get("prepend", "")
            return lambda s, c: mod10(s, c, even, odd, reverse=reverse, prepend=prepend)
        case "weighted":
            weights = tuple(int(w) for w in opts["w"].split("."))
            m1, m2 = (int(m) for m in opts["m"].split("."))
            return lambda s, c: weighted(s, c, weights, m1, m2)
        case "luhn":
            return luhn
        case "mod7":
            return mod7
        case "s10":
            return s10
        case "mod37_36":
            return mod37_36
    raise ValueError(f"unknown checksum {spec!r}")


@dataclass(frozen=True, slots=True)
class _Tables:
    formats: tuple[Format, ...]
    posts: dict[str, str]
    countries: frozenset[str]


def parse_formats(text: str) -> tuple[list[Format], dict[str, str]]:
    """Formats and S10 national posts from the table's text; raises ValueError on a bad row."""
    found: list[Format] = []
    posts: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, rest = line.partition(",")
        try:
            if kind == "post":
                country, carrier = rest.split(",")
                posts[country.strip().upper()] = carrier.strip()
                continue
            if kind != "format":
                raise ValueError(f"unknown row kind {kind!r}")
            carrier, name, rank, spec, pattern = rest.split(",", 4)
            check = _checker(spec.strip())
            compiled = re.compile(pattern)
            needed = {"s", "c"} if check else set()
            if carrier == "post":
                needed.add("cc")
            if not needed <= set(compiled.groupindex):
                raise ValueError(f"pattern lacks groups {sorted(needed)}")
            found.append(Format(carrier.strip(), name.strip(), int(rank), compiled, check))
        except (ValueError, KeyError, re.error) as exc:
            raise ValueError(f"tracking-number formats, line {number}: {exc}") from None
    return found, posts


@cache
def _tables() -> _Tables:
    path = resources.files("wismo.ingestion.carriers").joinpath("codes", "_tracking_numbers.csv")
    found, posts = parse_formats(path.read_text(encoding="utf-8"))
    countries = frozenset(
        code
        for code in map(str, Locale("en").territories)
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )
    return _Tables(tuple(found), posts, countries)
