"""Which delivery estimate the customer sees (pure).

A shipment can have three: the carrier's estimated date, Wismo's own predicted window, and
the merchant's promise at checkout. `choose` applies a preference order (configurable per
deployment, `WISMO_ESTIMATE_PREFERENCE`); the default trusts the party closest to the
parcel: the carrier's date while it is still ahead, else Wismo's window when it was learned
from real deliveries, else the merchant's promise. A carrier date already in the past is
stale (the carrier has not revised it yet), so it is skipped rather than shown; a promise
is shown even when past, because the answer then also says the order is late. The rule is
documented in `docs/delivery-estimates.md`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class EstimateSource(StrEnum):
    CARRIER = "carrier"
    WISMO = "wismo"
    MERCHANT_PROMISE = "merchant_promise"


DEFAULT_PREFERENCE: tuple[EstimateSource, ...] = (
    EstimateSource.CARRIER,
    EstimateSource.WISMO,
    EstimateSource.MERCHANT_PROMISE,
)


def parse_preference(text: str) -> tuple[EstimateSource, ...]:
    """'carrier,wismo,merchant_promise' -> the order; a clear error for an unknown name."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("estimate preference is empty; give e.g. 'carrier,wismo,merchant_promise'")
    known = {s.value: s for s in EstimateSource}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown estimate source {unknown[0]!r}; choose from {', '.join(sorted(known))}"
        )
    if len(set(names)) != len(names):
        raise ValueError("estimate preference names a source twice")
    return tuple(known[n] for n in names)


@dataclass(frozen=True, slots=True)
class Predicted:
    """Wismo's own forecast as stored: a window at a stated confidence."""

    from_on: date
    likely_on: date
    to_on: date
    confidence: float
    basis: str  # the fallback level that answered: lane, service, carrier, all, none


@dataclass(frozen=True, slots=True)
class Shown:
    """The estimate the customer sees."""

    source: EstimateSource
    from_on: date | None
    likely_on: date  # the single date used to track revisions and lateness
    to_on: date
    confidence: float | None = None  # Wismo's windows only


def choose(
    preference: Sequence[EstimateSource],
    *,
    today: date,
    carrier_on: date | None,
    predicted: Predicted | None,
    promised_from_on: date | None,
    promised_to_on: date | None,
) -> Shown | None:
    for source in preference:
        if source is EstimateSource.CARRIER and carrier_on is not None and carrier_on >= today:
            return Shown(source, None, carrier_on, carrier_on)
        if (
            source is EstimateSource.WISMO
            and predicted is not None
            and predicted.basis != "none"
            and predicted.to_on >= today
        ):
            return Shown(
                source,
                predicted.from_on,
                predicted.likely_on,
                predicted.to_on,
                predicted.confidence,
            )
        if source is EstimateSource.MERCHANT_PROMISE and promised_to_on is not None:
            return Shown(source, promised_from_on, promised_to_on, promised_to_on)
    return None
