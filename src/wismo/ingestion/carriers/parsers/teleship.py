"""Teleship tracking API (`/api/tracking/{trackingNumber}`).

`{"status": "in_transit", "trackingNumber", "shipmentId", "estimatedDelivery": "...Z",
"shipTo": {"address": {"country"}}, "firstMile": {...}, "lastMile": {...}, "events": [
{"timestamp": "...Z", "code": "picked_up", "description", "location": "London, GB"}]}`.
Errors: `{"messages": [{"code": 404, "message", "details": [...]}]}`. Times are UTC.
"""

from __future__ import annotations

from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "teleship"
DISPLAY_NAME = "Teleship"
ALIASES = ("teleship_uk",)

_HOME_ZONE = "Europe/London"


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    if "events" not in data:
        _raise_error(data)
        raise CarrierError("unparseable", "no 'events' in the response")
    estimate = str(data.get("estimatedDelivery") or "")
    last_mile = data.get("lastMile") or {}
    return [
        Tracking(
            carrier=NAME,
            tracking_number=str(data.get("trackingNumber") or data.get("shipmentId") or ""),
            scans=tuple(_scan(event) for event in data["events"] or []),
            estimated_delivery_at=parse_instant(estimate, None, _HOME_ZONE)[0]
            if estimate
            else None,
            extra={
                key: str(last_mile[field])
                for key, field in (
                    ("last_mile_carrier", "carrier"),
                    ("last_mile_tracking", "trackingNumber"),
                )
                if last_mile.get(field)
            },
        )
    ]


def _location(text: str) -> Location | None:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) >= 2 and len(parts[-1]) == 2 and parts[-1].isalpha():
        region = parts[-2] if len(parts) >= 3 else None
        return Location(city=parts[0], region=region, country=parts[-1].upper())
    return Location(facility=text.strip()) if text.strip() else None


def _scan(event: dict[str, Any]) -> Scan:
    location = _location(str(event.get("location") or ""))
    occurred_at, tz = parse_instant(str(event["timestamp"]), location, _HOME_ZONE)
    code = str(event.get("code") or "").strip()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=event.get("description") or None,
        location=location,
    )


def _raise_error(data: dict[str, Any]) -> None:
    messages = data.get("messages") or data.get("errors") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    status = str(first.get("code") or data.get("status") or data.get("statusCode") or "")
    message = str(first.get("message") or data.get("message") or data.get("error") or "")
    if status in ("401", "403"):
        raise CarrierError("unauthorized", message or "Teleship refused the credentials")
    if status == "404":
        raise CarrierError("not_found", message or "tracking number not found")
    if status == "429":
        raise CarrierError("rate_limited", message or "too many requests")
    if status or message:
        raise CarrierError("carrier_error", message or f"Teleship error {status}")
