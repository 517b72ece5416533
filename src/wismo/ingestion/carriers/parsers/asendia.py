"""Asendia tracking API (`/api/customers/{id}/tracking/{number}`).

Either `{"trackingNumber", "trackingEvents": [{"id", "code": "PU", "time": "...Z",
"locationName", "carrierEventDescription", "locationCountry"}]}` or the bare list of those
events. Errors are RFC 7807 problems: `{"type", "title", "status": 404, "detail"}`. Times
are UTC ("Z"); a time without an offset is local to the event's country.
"""

from __future__ import annotations

from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "asendia"
DISPLAY_NAME = "Asendia"
ALIASES = ("asendia_eu", "asendia_sync")

_HOME_ZONE = "Europe/Zurich"


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if isinstance(data, list):
        number = str(next((e.get("trackingNumber") for e in data if isinstance(e, dict)), ""))
        return [_tracking(number or "", data)] if data else []
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object or list")
    if "trackingEvents" not in data:
        _raise_problem(data)
        raise CarrierError("unparseable", "no 'trackingEvents' in the response")
    return [_tracking(str(data.get("trackingNumber") or ""), data["trackingEvents"] or [])]


def _tracking(number: str, events: list[Any]) -> Tracking:
    if not all(isinstance(e, dict) for e in events):
        raise CarrierError("unparseable", "tracking events must be objects")
    return Tracking(carrier=NAME, tracking_number=number, scans=tuple(_scan(e) for e in events))


def _scan(event: dict[str, Any]) -> Scan:
    location = Location(
        city=event.get("locationName") or None,
        country=str(event.get("locationCountry") or "").upper() or None,
    )
    occurred_at, tz = parse_instant(str(event["time"]), location, _HOME_ZONE)
    code = str(event.get("code") or "").strip()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=event.get("carrierEventDescription") or event.get("description") or None,
        location=location if location.describe() else None,
    )


def _raise_problem(data: dict[str, Any]) -> None:
    status = str(data.get("status") or "")
    message = str(data.get("detail") or data.get("title") or data.get("message") or "")
    if status in ("401", "403"):
        raise CarrierError("unauthorized", message or "Asendia refused the credentials")
    if status == "404":
        raise CarrierError("not_found", message or "tracking number not found")
    if status == "429":
        raise CarrierError("rate_limited", message or "too many requests")
    if status or message:
        raise CarrierError("carrier_error", message or f"Asendia error {status}")
