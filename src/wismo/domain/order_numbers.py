"""How customers type order numbers, and the spellings a store may have stored.

Customers drop the "#", change case and leave out or add separators ("nw20417" for
"NW-20417", "#1042" for "1042"). A lookup tries a few spellings in a fixed order of
preference in one query, never a fuzzy match: a near miss must not open someone else's
order.
"""

from __future__ import annotations

import re

_PREFIXED = re.compile(r"^([A-Za-z]{1,6})[\s._/-]*(\d{2,})$")


def spellings(typed: str) -> tuple[str, ...]:
    """Candidate stored spellings of an order number as typed, most literal first."""
    raw = typed.strip()
    bare = raw.lstrip("#").strip()
    found: list[str] = []
    for candidate in (bare, raw, bare.upper()):
        if candidate and candidate not in found:
            found.append(candidate)
    match = _PREFIXED.match(bare)
    if match:
        letters, digits = match.group(1).upper(), match.group(2)
        for candidate in (f"{letters}-{digits}", f"{letters}{digits}"):
            if candidate not in found:
                found.append(candidate)
    return tuple(found[:5])
