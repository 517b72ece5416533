"""The simulation's output: canonical events, each with the moment it reaches Wismo."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

# Sources send whole seconds; sub-second noise would only make fixtures harder to read.
_JSON = orjson.OPT_OMIT_MICROSECONDS


@dataclass(frozen=True, slots=True)
class SimEvent:
    arrive_at: datetime
    seq: int  # generation order, which breaks ties in arrival time deterministically
    source: str
    body: bytes
    order_number: str | None = None
    note: str = ""  # what happened, in a few words, for the feeder's log line
    weight: int = 0  # how much a watcher cares; 0 is not worth a mention


@dataclass(slots=True)
class SimOrder:
    """What the simulation decided about an order, to pick examples worth showing."""

    number: str
    placed_at: datetime
    country: str
    packages: int = 0
    tags: list[str] = field(default_factory=list)


class Stream:
    """Collects emitted events; generated ids are unique across sources."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[SimEvent] = []
        self._counter = 0

    def emit(
        self,
        arrive_at: datetime,
        source: str,
        type_: str,
        data: dict[str, Any],
        *,
        order: str | None = None,
        note: str = "",
        weight: int = 0,
        event_id: str | None = None,
    ) -> None:
        self._counter += 1
        prefix = source.rsplit(":", maxsplit=1)[-1]
        envelope = {
            "version": 1,
            "id": event_id or f"{prefix}-{self._counter:06d}",
            "source": source,
            "type": type_,
            "data": data,
        }
        body = orjson.dumps(envelope, option=_JSON)
        self.events.append(SimEvent(arrive_at, self._counter, source, body, order, note, weight))

    def shop(self, at: datetime, type_: str, data: dict[str, Any], order: str, note: str) -> None:
        """An event from the shop platform, whose webhooks take a few seconds."""
        latency = timedelta(seconds=self.rng.uniform(2, 40))
        self.emit(
            at + latency, "shop", type_, data, order=order, note=note, weight=3 if note else 0
        )
