"""EasyPost `tracker.updated` (and `tracker.created`) webhook Events.

The body is an Event whose `result` is a Tracker: `tracking_code`, `carrier`, `status`,
`est_delivery_date`, `carrier_detail` and `tracking_details[]` (datetime, message, status,
status_detail, tracking_location, est_delivery_date). A detail's `datetime` carries the
scan's local offset when EasyPost could place it, else "Z" (UTC); both are kept as given.
The dedup key is the Event `id`. Other Event types are acknowledged and do nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from wismo.domain.commands import RecordTrackingEvent
from wismo.domain.model import Location
from wismo.ingestion.aggregators.common import (
    PayloadError,
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

PROVIDER = "easypost"
TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})


def event_id(data: dict[str, Any], body: bytes) -> str:
    return text(data.get("id")) or body_hash(body)


class EasyPostParser:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        return parse_with(
            PROVIDER, inbound, event_id, lambda data: read(store_id, data, self._clock())
        )


def read(
    store_id: int, data: dict[str, Any], received_at: datetime
) -> tuple[RecordTrackingEvent, ...]:
    if data.get("object", "Event") != "Event":
        raise PayloadError(["object"], "expected an EasyPost Event")
    if text(data.get("description")) not in TRACKER_EVENTS:
        return ()
    tracker = obj(data.get("result"), ["result"])
    if tracker.get("object", "Tracker") != "Tracker":
        raise PayloadError(["result", "object"], "expected a Tracker")
    number = require_number(tracker.get("tracking_code"), ["result", "tracking_code"])
    carrier = carrier_code(PROVIDER, text(tracker.get("carrier")), number)
    found = tracker.get("carrier_detail")
    detail: dict[str, Any] = found if isinstance(found, dict) else {}
    dest_raw = detail.get("destination_tracking_location")
    dest = _place(dest_raw) if isinstance(dest_raw, dict) else None
    zone = destination_zone(dest)
    scans: list[tuple[Scan, datetime | None]] = []
    for i, raw in enumerate(items(tracker.get("tracking_details"), ["result", "tracking_details"])):
        loc: list[str | int] = ["result", "tracking_details", i]
        entry = obj(raw, loc)
        place_raw = entry.get("tracking_location")
        where = _place(place_raw) if isinstance(place_raw, dict) else None
        occurred_at, tz = instant(entry.get("datetime"), [*loc, "datetime"], where)
        status = text(entry.get("status")) or "unknown"
        sub = text(entry.get("status_detail"))
        scan = Scan(
            occurred_at=occurred_at,
            occurred_tz=tz,
            codes=status_keys(status, sub),
            raw_code=f"{status}/{sub}" if sub else status,
            description=text(entry.get("message")) or text(entry.get("description")),
            location=where,
        )
        scans.append((scan, eta(entry.get("est_delivery_date"), zone)))
    estimate = _estimate(tracker, detail, zone)
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


def _estimate(
    tracker: dict[str, Any], detail: dict[str, Any], zone: ZoneInfo | None
) -> datetime | None:
    """The carrier's local estimate when given (date, and time if any), else the tracker's."""
    local_date = text(detail.get("est_delivery_date_local"))
    local_time = text(detail.get("est_delivery_time_local"))
    if local_date and local_time and zone is not None:
        try:
            naive = datetime.fromisoformat(f"{local_date}T{local_time}")
        except ValueError:
            naive = None
        if naive is not None and naive.tzinfo is None:
            return naive.replace(tzinfo=zone)
    if local_date:
        found = eta(local_date, zone)
        if found is not None:
            return found
    return eta(tracker.get("est_delivery_date"), zone)
