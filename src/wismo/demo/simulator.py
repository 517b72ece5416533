"""A simulated online retailer, Northwind Outfitters, as a stream of canonical events.

`Simulation(seed, now, orders)` invents the store's last three weeks, and the week after
`now`, from one seeded `random.Random`: the same seed and `now` give byte-identical events.
Each event carries the moment it reaches Wismo: `history()` is everything that arrived up
to `now`, in arrival order; the rest waits in a schedule that `due(until)` releases as
simulated time passes.

The stream is deliberately imperfect, as real feeds are: webhook retries repeat an event id,
carrier polls report a scan again under a new id, some scans arrive a day late, a few
warehouse messages lag behind the carrier's first scans (so those scans must wait for their
shipment), and an old order snapshot is sometimes redelivered after a newer one.
"""

from __future__ import annotations

import bisect
import random
from datetime import UTC, datetime, timedelta

from wismo.demo import catalog as cat
from wismo.demo.shop import Shop
from wismo.demo.stream import SimEvent, SimOrder, Stream
from wismo.demo.tracking import zone

__all__ = ["SimEvent", "SimOrder", "Simulation"]

# Relative order volume by hour of the day in the store's zone: quiet nights, busy evenings.
_HOUR_WEIGHT = (
    *(1, 0.6, 0.3, 0.2, 0.2, 0.3, 0.6, 1, 1.4, 1.6, 1.7, 1.8),
    *(2, 1.9, 1.8, 1.8, 1.9, 2.1, 2.4, 2.6, 2.6, 2.3, 1.8, 1.3),
)


class Simulation:
    def __init__(
        self,
        seed: int,
        now: datetime,
        orders: int = 400,
        *,
        days: float = 21,
        horizon_days: float = 7,
    ) -> None:
        if now.utcoffset() is None:
            raise ValueError("now must carry a time zone")
        self.now = now.astimezone(UTC)
        rng = random.Random(seed)
        self._rng = rng
        span, ahead = timedelta(days=days), timedelta(days=horizon_days)
        # Orders in history stop a little before `now` so their first events have arrived.
        past = sorted(
            self._placed(self.now - span, span - timedelta(minutes=15)) for _ in range(orders)
        )
        # New orders keep coming while the demo runs, at the same rate.
        more = round(orders * horizon_days / days)
        future = sorted(self._placed(self.now + timedelta(minutes=1), ahead) for _ in range(more))
        stream = Stream(rng)
        shop = Shop(stream)
        placed = past + future
        made = [shop.order(f"NW{1001 + i}", at) for i, at in enumerate(placed)]
        self.orders: list[SimOrder] = made[:orders]
        self._events = sorted(stream.events, key=lambda e: (e.arrive_at, e.seq))
        self._arrivals = [e.arrive_at for e in self._events]
        self._released = bisect.bisect_right(self._arrivals, self.now)

    def history_events(self) -> list[SimEvent]:
        return self._events[: bisect.bisect_right(self._arrivals, self.now)]

    def history(self) -> list[bytes]:
        """Every event that reached Wismo up to `now`, in arrival order."""
        return [e.body for e in self.history_events()]

    def due_events(self, until: datetime) -> list[SimEvent]:
        end = max(bisect.bisect_right(self._arrivals, until), self._released)
        batch = self._events[self._released : end]
        self._released = end
        return batch

    def due(self, until: datetime) -> list[bytes]:
        """Scheduled events arriving after the previous release, up to `until`."""
        return [e.body for e in self.due_events(until)]

    def upcoming(self, until: datetime) -> list[SimEvent]:
        """The events `due(until)` would release, without releasing them."""
        return self._events[self._released : bisect.bisect_right(self._arrivals, until)]

    @property
    def pending(self) -> int:
        """Events still waiting in the schedule."""
        return len(self._events) - self._released

    def _placed(self, start: datetime, span: timedelta) -> datetime:
        store = zone(cat.STORE_ZONE)
        while True:
            moment = start + span * self._rng.random()
            if self._rng.random() * 2.6 < _HOUR_WEIGHT[moment.astimezone(store).hour]:
                return moment.replace(microsecond=0)
