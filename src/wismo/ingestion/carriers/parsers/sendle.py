"""Sendle tracking API (`/api/tracking/{ref}`).

`{"state": "Delivered", "status": {"description", "last_changed_at"}, "origin": {"country"},
"destination": {"country"}, "scheduling": {"delivered_on", "estimated_delivery_date_minimum",
...}, "tracking_events": [{"event_type": "Pickup", "scan_time": "...Z", "description",
"reason", "location", "local_scan_time", "display_time": "...-04:00"}]}`. The event type is
the code. Errors: `{"error": "not_found" | "unauthorised" | ..., "error_description"}`.
`scan_time` is UTC; without it `display_time` (with offset) is used.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant, zone_for

NAME = "sendle"
DISPLAY_NAME = "Sendle"
ALIASES = ("sendle_au", "sendle_us")

_HOME_ZONE = "Australia/Sydney"
_KINDS = {
    "not_found": "not_found",
    "unauthorised": "unauthorized",
    "unauthorized": "unauthorized",
    "invalid_token": "unauthorized",
    "forbidden": "unauthorized",
    "payment_required": "carrier_error",
    "too_many_requests": "rate_limited",
    "rate_limited": "rate_limited",
    "rate_limit_exceeded": "rate_limited",
}
# Placeholders the API fills in when it has no place for an event.
_NO_PLACE = frozenset({"", "location", "origin location", "destination location"})


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    if "tracking_events" not in data:
        _raise_error(data)
        raise CarrierError("unparseable", "no 'tracking_events' in the response")
    country = str((data.get("destination") or {}).get("country") or "").upper() or None
    number = str(
        data.get("sendle_reference") or data.get("tracking_number") or data.get("ref") or ""
    )
    return [
        Tracking(
            carrier=NAME,
            tracking_number=number,
            scans=tuple(_scan(e, country) for e in data["tracking_events"] or []),
            estimated_delivery_at=_estimate(data.get("scheduling") or {}, country),
            extra={"state": str(data["state"])} if data.get("state") else {},
        )
    ]


def _estimate(scheduling: dict[str, Any], country: str | None) -> datetime | None:
    text = str(
        scheduling.get("estimated_delivery_date_maximum")
        or scheduling.get("estimated_delivery_date_minimum")
        or ""
    )
    try:
        day = datetime.strptime(text[:10], "%Y-%m-%d").date()  # noqa: DTZ007 - zone below
    except ValueError:
        return None
    zone = zone_for(Location(country=country), _HOME_ZONE) or ZoneInfo(_HOME_ZONE)
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def _scan(event: dict[str, Any], country: str | None) -> Scan:
    place = str(event.get("location") or "").strip()
    location = None if place.lower() in _NO_PLACE else _location(place, country)
    when = event.get("scan_time") or event.get("display_time") or event.get("local_scan_time")
    occurred_at, tz = parse_instant(str(when), location, _HOME_ZONE)
    display = str(event.get("display_time") or "")
    if display and event.get("scan_time"):
        # Same instant; keep the local offset Sendle shows when it gives one.
        shown, shown_tz = parse_instant(display, location, _HOME_ZONE)
        if shown == occurred_at:
            occurred_at, tz = shown, shown_tz
    code = str(event.get("event_type") or "").strip()
    description = str(event.get("description") or "").strip()
    reason = str(event.get("reason") or "").strip()
    if reason and reason.lower() not in description.lower():
        description = f"{description} ({reason})" if description else reason
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=description or None,
        location=location,
    )


def _location(place: str, country: str | None) -> Location:
    city, _, region = place.rpartition(",")
    if city and len(region.strip()) in (2, 3) and region.strip().isalpha():
        return Location(city=city.strip(), region=region.strip().upper(), country=country)
    return Location(city=place, country=country)


def _raise_error(data: dict[str, Any]) -> None:
    error = str(data.get("error") or "").strip().lower()
    message = str(data.get("error_description") or data.get("message") or error)
    if error:
        raise CarrierError(_KINDS.get(error, "carrier_error"), message)
