"""Shippo `track_updated` webhooks: `{"event": "track_updated", "test", "data": <track>}`.

The track has `carrier` (a Shippo token such as "usps", "dhl_express"), `tracking_number`,
`eta`, `address_to`, `tracking_status` (the latest) and `tracking_history[]`, each with
`status` (PRE_TRANSIT, TRANSIT, DELIVERED, RETURNED, FAILURE, UNKNOWN), `substatus.code`,
`status_details`, `status_date` and `location`. Shippo sends no event id: the dedup key is
a hash of the body, so a redelivered webhook is a duplicate. Other events do nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from wismo.domain.commands import RecordTrackingEvent
from wismo.domain.model import Location
from wismo.ingestion.aggregators.common import (
    body_hash,
    carrier_code,
    commands,
    destination_zone,
    eta,
    instant,
    items,
    location,
    obj,
    parse_with,
    require_number,
    status_keys,
    text,
)
from wismo.ingestion.carriers.base import Scan
from wismo.services.ports import Inbound, Parsed, Rejected

PROVIDER = "shippo"


def event_id(data: dict[str, Any], body: bytes) -> str:
    return body_hash(body)


class ShippoParser:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        return parse_with(
            PROVIDER, inbound, event_id, lambda data: read(store_id, data, self._clock())
        )


def read(
    store_id: int, data: dict[str, Any], received_at: datetime
) -> tuple[RecordTrackingEvent, ...]:
    if text(data.get("event")) != "track_updated":
        return ()
    track = obj(data.get("data"), ["data"])
    number = require_number(track.get("tracking_number"), ["data", "tracking_number"])
    carrier = carrier_code(PROVIDER, text(track.get("carrier")), number)
    address_to = track.get("address_to")
    dest = _place(address_to) if isinstance(address_to, dict) else None
    zone = destination_zone(dest)
    entries: list[tuple[list[str | int], Any]] = [
        (["data", "tracking_history", i], raw)
        for i, raw in enumerate(items(track.get("tracking_history"), ["data", "tracking_history"]))
    ]
    if track.get("tracking_status") is not None:
        entries.append((["data", "tracking_status"], track["tracking_status"]))
    scans: list[tuple[Scan, datetime | None]] = []
    seen: set[tuple[datetime, str]] = set()
    for loc, raw in entries:
        entry = obj(raw, loc)
        place_raw = entry.get("location")
        where = _place(place_raw) if isinstance(place_raw, dict) else None
        occurred_at, tz = instant(
            entry.get("status_date"), [*loc, "status_date"], where, zone.key if zone else None
        )
        status = (text(entry.get("status")) or "UNKNOWN").upper()
        substatus = entry.get("substatus")
        sub = text(substatus.get("code")) if isinstance(substatus, dict) else None
        raw_code = f"{status}/{sub}" if sub else status
        if (occurred_at, raw_code) in seen:
            continue  # the latest status is usually also the last history entry
        seen.add((occurred_at, raw_code))
        sub_text = text(substatus.get("text")) if isinstance(substatus, dict) else None
        scan = Scan(
            occurred_at=occurred_at,
            occurred_tz=tz,
            codes=status_keys(status, sub),
            raw_code=raw_code,
            description=text(entry.get("status_details")) or sub_text,
            location=where,
        )
        scans.append((scan, None))
    estimate = eta(track.get("eta"), zone)
    return commands(
        store_id,
        PROVIDER,
        carrier=carrier,
        tracking_number=number,
        scans=scans,
        estimate=estimate,
        received_at=received_at,
    )


def _place(raw: dict[str, Any]) -> Location | None:
    return location(raw.get("city"), raw.get("state"), raw.get("zip"), raw.get("country"))
