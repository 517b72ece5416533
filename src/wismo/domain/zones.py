"""Time zones from stored names and carrier-reported labels (pure, cached).

A zone name comes from a customer or store record; a label comes from a carrier and may be
an IANA name ("Europe/Paris"), a fixed offset ("+01:00") or "Z". Both are data, so neither
may raise: an unknown or malformed one falls back (to the given zone, then UTC), because one
bad row must not break an answer, a page or a sweep.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAY = timedelta(days=1)


@lru_cache(maxsize=512)
def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The named zone, else `fallback`, else UTC (as a ZoneInfo, so it keeps its key)."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                # ValueError: a malformed key ("../x"); OSError: a directory ("America").
                continue
    return ZoneInfo("UTC")


@lru_cache(maxsize=1024)
def reported_zone(label: str | None, fallback: str | None = None) -> tzinfo | None:
    """The zone a carrier reported; `fallback`'s zone when the label is absent or unusable,
    None when there is no fallback either (the caller keeps the instant as it is)."""
    if label:
        if label == "Z":
            return UTC
        if len(label) == 6 and label[0] in "+-" and label[3] == ":":
            digits = label[1:3] + label[4:6]
            if digits.isascii() and digits.isdigit():
                offset = timedelta(hours=int(label[1:3]), minutes=int(label[4:6]))
                if offset < _DAY:
                    return timezone(offset if label[0] == "+" else -offset)
        else:
            try:
                return ZoneInfo(label)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                pass  # not a zone this machine knows: the fallback below
    return zone(fallback) if fallback else None
