"""Spring GDS XBS API, `TrackShipment` command.

`{"ErrorLevel": 0, "Error": "", "Shipment": {"TrackingNumber", "Service", "Carrier",
"CarrierTrackingNumber", "ConsigneeAddress", "Events": [{"Timestamp": 1704631125,
"DateTime": "2024-01-07 07:38:45", "Country", "City", "State", "Zip", "Code": 9301,
"Description", "CarrierCode", "CarrierDescription"}]}}`. ErrorLevel 0 is success, 1 a
warning (data still sent), 10 an error with the message in `Error`. `Code` is Spring's
normalised event code; the last-mile carrier's own code is shown but not looked up.
`Timestamp` is the Unix instant; without it `DateTime` is local to the event's country.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from wismo.domain.model import Location, zone_label
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant, zone_for

NAME = "spring"
DISPLAY_NAME = "Spring GDS"
ALIASES = ("spring_gds", "springxbs")

_HOME_ZONE = "Europe/Amsterdam"
_NOT_FOUND = re.compile(r"not found|unknown (tracking|shipment)|no shipment|does not exist", re.I)
_UNAUTHORIZED = re.compile(r"api ?key|unauthori[sz]ed|authenticat|not allowed|access denied", re.I)
_RATE_LIMITED = re.compile(r"too many requests|rate limit|throttl", re.I)


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    shipment = data.get("Shipment")
    level = int(data.get("ErrorLevel") or 0)
    if not isinstance(shipment, dict) or (level >= 10 and not shipment.get("Events")):
        _raise_error(str(data.get("Error") or ""), level)
        raise CarrierError("unparseable", "no 'Shipment' in the response")
    return [
        Tracking(
            carrier=NAME,
            tracking_number=str(
                shipment.get("TrackingNumber") or shipment.get("CarrierTrackingNumber") or ""
            ),
            scans=tuple(_scan(event) for event in shipment.get("Events") or []),
            service=shipment.get("Service") or None,
            extra={
                key: str(shipment[field])
                for key, field in (
                    ("last_mile_carrier", "Carrier"),
                    ("carrier_tracking_number", "CarrierTrackingNumber"),
                )
                if shipment.get(field)
            },
        )
    ]


def _scan(event: dict[str, Any]) -> Scan:
    location = Location(
        city=event.get("City") or None,
        region=event.get("State") or None,
        postal_code=event.get("Zip") or None,
        country=str(event.get("Country") or "").upper() or None,
    )
    stamp = event.get("Timestamp")
    if isinstance(stamp, int | float) and stamp > 0:
        instant = datetime.fromtimestamp(stamp, tz=UTC)
        zone = zone_for(location)
        occurred_at = instant.astimezone(zone) if zone else instant
        tz: str | None = zone.key if zone else zone_label(instant)
    else:
        occurred_at, tz = parse_instant(str(event["DateTime"]), location, _HOME_ZONE)
    code = str(event.get("Code") if event.get("Code") is not None else "").strip()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=event.get("Description") or event.get("CarrierDescription") or None,
        location=location if location.describe() else None,
    )


def _raise_error(message: str, level: int) -> None:
    text = message or f"Spring error level {level}"
    if _NOT_FOUND.search(message):
        raise CarrierError("not_found", text)
    if _UNAUTHORIZED.search(message):
        raise CarrierError("unauthorized", text)
    if _RATE_LIMITED.search(message):
        raise CarrierError("rate_limited", text)
    if message or level:
        raise CarrierError("carrier_error", text)
