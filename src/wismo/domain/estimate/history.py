"""The delivery history a forecast is drawn from: lanes, their fallback keys, and the
recent transits learned under each (pure).

`TransitModel` keeps, per stage ("order": from placement; "handover": from handover to the
carrier) and per key, the most recent transit observations. Keys fall back from the most
specific to the most general (`Lane.fallback_keys`): lane (carrier, service, origin ->
destination), then carrier + service, then carrier, then everything (each first narrowed by
an optional `segment` hint); the first key with at least `min_observations` answers.
Learning is adding an observation; a prediction uses only what was added before it, so the
model runs walk-forward as production does.

Where the merchant promised a delivery date at checkout, each observation also keeps its
promised *lead* (business days from its start day to that date), and a forecast rescales the
history to its own parcel's lead (transit * lead / observed lead): the promise is set from
the distance, so the pooled transit-to-promise ratios answer for near and far parcels alike
(on the Olist walk this beat fixed promise buckets by about 2% MAE, and lanes are mostly
unknown there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Every forecast and every learned delivery asks for its lane's keys.
_FALLBACK_KEYS: dict[Lane, tuple[tuple[str | None, ...], ...]] = {}


@dataclass(frozen=True, slots=True)
class Lane:
    """Where a parcel travels. Any part may be unknown (None)."""

    carrier: str | None = None
    service: str | None = None
    origin: str | None = None  # origin region, e.g. the seller's state
    destination: str | None = None  # destination region, e.g. the customer's state
    # A finer hint known when the order is placed, tried before each level: e.g. the
    # merchant's promised lead time in buckets ("promise:5"), which encodes distance.
    segment: str | None = None

    def fallback_keys(self) -> tuple[tuple[str | None, ...], ...]:
        """Most specific first: lane, carrier + service, carrier, everything; each with the
        segment first when there is one. A level whose parts are all unknown is skipped."""
        found = _FALLBACK_KEYS.get(self)
        if found is None:
            if len(_FALLBACK_KEYS) > 50_000:  # bounded; a store has far fewer lanes
                _FALLBACK_KEYS.clear()
            found = _FALLBACK_KEYS[self] = self._fallback_keys()
        return found

    def _fallback_keys(self) -> tuple[tuple[str | None, ...], ...]:
        levels: list[tuple[str | None, ...]] = []
        if self.origin is not None or self.destination is not None:
            levels.append(("lane", self.carrier, self.service, self.origin, self.destination))
        if self.carrier is not None:
            levels.append(("service", self.carrier, self.service))
            levels.append(("carrier", self.carrier))
        levels.append(("all",))
        if self.segment is None:
            return tuple(levels)
        return tuple(key for level in levels for key in ((*level, self.segment), level))


@dataclass(slots=True)
class TransitModel:
    """Recent transit observations (business days) per stage and fallback key, each with the
    lead the merchant promised for it (business days from the start day to the promised
    date) where known."""

    min_observations: int = 30
    recent: int = 400  # keep this many most recent observations per key (the data drift)
    _seen: dict[tuple[str, tuple[str | None, ...]], deque[tuple[int, int | None]]] = field(
        default_factory=dict
    )
    # Sorted (or rescaled) samples by (stage, key, lead), until the next `add`: a sweep
    # forecasts thousands of parcels from the same few keys between two learnings.
    _samples: dict[tuple[str, tuple[str | None, ...], int | None], list[int]] = field(
        default_factory=dict
    )

    # Observations that had a promise, per (stage, key) among those kept: which key answers
    # is then decided by counting, without building any sample.
    _promised: dict[tuple[str, tuple[str | None, ...]], int] = field(default_factory=dict)
    # `basis`' two candidate keys (among promised observations, among all) per stage, lane
    # and `min_observations`, until the next `add`: a sweep asks for the same lanes over
    # and over.
    _bases: dict[
        tuple[str, Lane, int],
        tuple[tuple[str | None, ...] | None, tuple[str | None, ...] | None],
    ] = field(default_factory=dict, compare=False, repr=False)

    def add(self, stage: str, lane: Lane, business_days: int, lead: int | None = None) -> None:
        """Learn one delivered parcel. Negative transit is bad data and is ignored."""
        if business_days < 0:
            return
        if lead is not None and lead < 1:
            lead = None  # a promise for the start day itself says nothing about the scale
        if self._samples:
            self._samples.clear()
        if self._bases:
            self._bases.clear()
        for key in lane.fallback_keys():
            slot = (stage, key)
            seen = self._seen.get(slot)
            if seen is None:
                seen = self._seen[slot] = deque(maxlen=self.recent)
            if len(seen) == self.recent and seen[0][1] is not None:
                self._promised[slot] -= 1  # about to fall out of the deque
            seen.append((business_days, lead))
            if lead is not None:
                self._promised[slot] = self._promised.get(slot, 0) + 1

    def basis(
        self, stage: str, lane: Lane, lead: int | None = None
    ) -> tuple[tuple[str | None, ...], int | None] | None:
        """The fallback key whose observations a forecast uses, and the lead they are rescaled
        to (None: not rescaled); None when nothing was learned for the stage. Two parcels
        with the same basis get the same sample (`observations`)."""
        slot = (stage, lane, self.min_observations)
        keys = self._bases.get(slot)
        if keys is None:
            if len(self._bases) > 50_000:  # bounded; a store has far fewer lanes
                self._bases.clear()
            keys = self._bases[slot] = (
                self._basis(stage, lane, self._promised.get),
                self._basis(stage, lane, lambda found: len(self._seen[found])),
            )
        promised_key, any_key = keys
        if lead is not None and lead >= 1 and promised_key is not None:
            return promised_key, lead
        return (any_key, None) if any_key is not None else None

    def _basis(
        self,
        stage: str,
        lane: Lane,
        count: Callable[[tuple[str, tuple[str | None, ...]]], int | None],
    ) -> tuple[str | None, ...] | None:
        found = None
        for key in lane.fallback_keys():
            slot = (stage, key)
            if slot not in self._seen:
                continue
            n = count(slot)
            if n:
                found = key
                if n >= self.min_observations:
                    return key
        return found

    def observations(
        self, stage: str, lane: Lane, lead: int | None = None
    ) -> tuple[str, list[int]]:
        """The most specific fallback level with enough data, and its observations sorted.
        With too little data everywhere, whatever the most general level has (maybe none).

        Given the parcel's promised `lead`, each observation that had a promise too is
        rescaled to it (transit * lead / its lead): the merchant sets the promise from the
        distance, and transit grows about in proportion to it, so one pooled history of
        transit-to-promise ratios answers for near and far parcels alike."""
        chosen = self.basis(stage, lane, lead)
        if chosen is None:
            return "none", []
        key, used = chosen
        values = self._samples.get((stage, key, used))
        if values is None:
            seen = self._seen[(stage, key)]
            values = _rescaled(seen, used) if used is not None else sorted(t for t, _ in seen)
            self._samples[(stage, key, used)] = values
        return str(key[0]), values


def _rescaled(seen: Iterable[tuple[int, int | None]], lead: int) -> list[int]:
    return sorted(round(t * lead / own) for t, own in seen if own is not None)
