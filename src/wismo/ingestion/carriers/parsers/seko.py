"""SEKO Logistics / Omni Parcel tracking (`/labels/statusv2`).

A list of consignments: `[{"ConsignmentNo", "Status", "Tracking", "Events": [{"EventDT":
"2021-03-01T21:47:50.643", "Code": carrier code or null, "OmniCode": "OP-1", "Description",
"Location": "SAN BERNARDINO,CA,US", "Part": 1}]}]`. OmniCodes are SEKO's own normalised
codes and are what the table maps. Errors: `{"Errors": [{"Property", "Message", "Key"}]}`
or `{"Message": "Authorization has been denied for this request."}`.

`EventDT` has no offset: it is local to the event's location ("CITY,STATE,COUNTRY"). An
event without a location takes the zone of the consignment's other events.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant, zone_for

NAME = "seko"
DISPLAY_NAME = "SEKO Logistics"
ALIASES = ("seko_logistics", "omniparcel", "seko_omniparcel")

# Consignments with no located event at all: SEKO's platform clock (New Zealand).
_HOME_ZONE = "Pacific/Auckland"
_UNAUTHORIZED = re.compile(r"authori[sz]ation has been denied|unauthori[sz]ed|api.?key", re.I)
_NOT_FOUND = re.compile(r"not found|no consignment|invalid consignment|does not exist", re.I)
_RATE_LIMITED = re.compile(r"too many requests|rate limit|throttl", re.I)


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if isinstance(data, dict):
        if "ConsignmentNo" in data:
            data = [data]
        else:
            _raise_error(data)
            raise CarrierError("unparseable", "expected a list of consignments")
    if not isinstance(data, list) or not all(isinstance(c, dict) for c in data):
        raise CarrierError("unparseable", "expected a list of consignments")
    return [_tracking(consignment) for consignment in data]


def _tracking(consignment: dict[str, Any]) -> Tracking:
    events = consignment.get("Events") or []
    located = [_location(str(e.get("Location") or "")) for e in events]
    fallback = next(
        (loc.country for loc in located if loc is not None and zone_for(loc) is not None),
        None,
    )
    home = zone_for(Location(country=fallback)) if fallback else None
    default = home.key if home is not None else _HOME_ZONE
    return Tracking(
        carrier=NAME,
        tracking_number=str(consignment.get("ConsignmentNo") or ""),
        scans=tuple(_scan(e, loc, default) for e, loc in zip(events, located, strict=True)),
        extra={"status": str(consignment["Status"]).strip()} if consignment.get("Status") else {},
    )


def _location(text: str) -> Location | None:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    if len(parts) >= 3 and len(parts[-1]) == 2:
        return Location(city=", ".join(parts[:-2]), region=parts[-2], country=parts[-1].upper())
    if len(parts) == 2 and len(parts[-1]) == 2:
        return Location(city=parts[0], country=parts[-1].upper())
    return Location(city=", ".join(parts))


def _scan(event: dict[str, Any], location: Location | None, default_zone: str) -> Scan:
    occurred_at, tz = parse_instant(str(event["EventDT"]), location, default_zone)
    omni = str(event.get("OmniCode") or "").strip()
    carrier_code = str(event.get("Code") or "").strip()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(omni,) if omni else (),
        raw_code=omni or carrier_code or None,
        description=str(event.get("Description") or "").strip() or None,
        location=location,
    )


def _raise_error(data: dict[str, Any]) -> None:
    errors = data.get("Errors") or []
    messages = [str(e.get("Message") or e.get("Key") or "") for e in errors if isinstance(e, dict)]
    message = "; ".join(m for m in messages if m) or str(data.get("Message") or "")
    if _UNAUTHORIZED.search(message):
        raise CarrierError("unauthorized", message)
    if _RATE_LIMITED.search(message):
        raise CarrierError("rate_limited", message)
    if _NOT_FOUND.search(message):
        raise CarrierError("not_found", message)
    if message:
        raise CarrierError("carrier_error", message)
