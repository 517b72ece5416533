"""Raw carrier tracking responses (polled, or pushed by the carrier) as commands.

Format `carrier:<name>`: the body is one tracking response exactly as the carrier's API
returned it. Every tracking number in it becomes scans for the store's shipment with that
carrier and number (resolved by time, since numbers are recycled), plus the carrier's
estimated delivery. A response that is an error (not found, unauthorised) is rejected with
the carrier's message, so it shows in `wismo inbox list`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from wismo.domain.commands import Command, RecordTrackingEvent
from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError
from wismo.ingestion.carriers.normalise import normalise
from wismo.services.ports import Inbound, Parsed, Rejected


def body_id(body: bytes) -> str:
    """A dedup key for payloads without an id: the same response twice is one payload."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


class CarrierResponseParser:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        name = inbound.format.partition(":")[2]
        source = inbound.source or f"carrier:{name}"
        try:
            trackings = registry.parse(name, inbound.body)
        except CarrierError as exc:
            return Rejected(
                [{"loc": ["body"], "msg": str(exc), "type": f"carrier_{exc.kind}"}],
                source,
                inbound.event_id,
            )
        except ValueError as exc:  # orjson and XML errors are ValueErrors
            return Rejected(
                [{"loc": ["body"], "msg": f"unparseable: {exc}", "type": "carrier_unparseable"}],
                source,
                inbound.event_id,
            )
        now = self._clock()
        commands: list[Command] = []
        for tracking in trackings:
            events, _ = normalise(tracking, now, source)
            carrier = registry.carrier(tracking.carrier).NAME
            for index, event in enumerate(events):
                if index == 0 and tracking.estimated_delivery_at is not None:
                    # The carrier's current estimate rides on its latest scan.
                    latest = max(events, key=lambda e: e.occurred_at)
                    latest.estimated_delivery_at = tracking.estimated_delivery_at
                commands.append(
                    RecordTrackingEvent(
                        store_id=store_id,
                        event=event,
                        carrier=carrier,
                        tracking_number=tracking.tracking_number,
                    )
                )
        return Parsed(source, inbound.event_id or body_id(inbound.body), tuple(commands))
