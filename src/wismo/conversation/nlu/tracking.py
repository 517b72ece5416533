"""Does a token look like a parcel tracking number? Shapes of the common carriers' numbers.

`wismo.ingestion.carriers.detect` is the authority on which carrier issued a number (with
check digits); the agent may not import ingestion, and here the question is smaller: is
what the customer typed a tracking number rather than an order number or a phone number.
So this module knows shapes only and is deliberately lenient about check digits: a number
a customer pastes is looked up afterwards, and a mistyped one simply finds nothing.
"""

from __future__ import annotations

import re

# Shapes that cannot be an order number or a phone number whatever the words around them.
_DISTINCT = re.compile(
    r"""
    1Z[0-9A-Z]{16}                      # UPS
    | [A-Z]{2}[0-9]{9}[A-Z]{2}          # UPU S10: Royal Mail, USPS international, La Poste...
    | TB[ACM][0-9]{12}                  # Amazon Logistics
    | J[A-Z]{2,3}[0-9]{9,10}            # DHL Express piece (JJD, JVGL)
    | JJ?D[0-9]{16}                     # Yodel
    | (?:GM|LX|RX|UV)[0-9]{10,38}       # DHL eCommerce
    | YT[0-9]{16}                       # YunExpress
    | C[0-9]{14} | D[0-9]{14}           # OnTrac
    | [0-9]{20,34}                      # USPS IMpb (20-22, 26, 30, 34), FedEx 20/22/34, DPD 28
    """,
    re.VERBOSE,
)
# All-digit shapes that are tracking numbers only when the words around say so or, for the
# longer ones, when nothing says otherwise: FedEx 12 and 15, DHL Express 10 and 11, Canada
# Post 16, DPD 14.
_DIGITS = re.compile(r"[0-9]{10,19}")
_LIKELY_DIGIT_LENGTHS = frozenset({12, 14, 15, 16, 18})


_SEPARATORS = re.compile(r"[\s-]")


def normalise(token: str) -> str:
    return _SEPARATORS.sub("", token).upper()


def is_distinct(token: str) -> bool:
    """A shape only a tracking number has (UPS 1Z, S10 ...XX123456789GB, long digit runs)."""
    return _DISTINCT.fullmatch(normalise(token)) is not None


def is_likely(token: str) -> bool:
    """A digit run of a length carriers use and order numbers rarely do (FedEx 12/15, ...),
    unless it looks like a payment card number (then it is nothing the agent repeats)."""
    value = normalise(token)
    if is_distinct(value):
        return True
    return (
        _DIGITS.fullmatch(value) is not None
        and len(value) in _LIKELY_DIGIT_LENGTHS
        and not looks_like_card(value)
    )


def looks_like_card(digits: str) -> bool:
    """Visa/Mastercard (16 digits, 4 or 5 first) or Amex (15, 34/37) with a valid Luhn sum."""
    shaped = (len(digits) == 16 and digits[0] in "45") or (
        len(digits) == 15 and digits[:2] in ("34", "37")
    )
    if not shaped:
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def is_possible(token: str) -> bool:
    """Could be a tracking number if the customer says it is one (any 8-34 letters/digits
    with at least six digits)."""
    value = normalise(token)
    return (
        8 <= len(value) <= 34
        and value.isalnum()
        and value.isascii()
        and sum(c.isdigit() for c in value) >= 6
    )
