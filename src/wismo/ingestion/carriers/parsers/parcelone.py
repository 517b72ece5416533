"""ParcelOne tracking API (`/tracking/{cep}/{number}`).

`{"status": 200, "success": 1, "results": {"TrackingID", "CarrierIDLMC", "StatusCode",
"EstimatedDelivery", "Events": [{"DateTime": "2024-01-15T14:30:00", "Location":
"Munich, Germany", "Status", "StatusCode": "DELIVERED", "Description"}]}}`. Errors have
`success: 0` and an HTTP-like `status` with a `message`. Event times have no offset: they
are local to the event's country (named in `Location`), else German time.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "parcelone"
DISPLAY_NAME = "Parcel.One"
ALIASES = ("parcel_one", "parcel.one")

_HOME_ZONE = "Europe/Berlin"
_COUNTRIES = {
    "GERMANY": "DE",
    "DEUTSCHLAND": "DE",
    "AUSTRIA": "AT",
    "ÖSTERREICH": "AT",
    "SWITZERLAND": "CH",
    "SCHWEIZ": "CH",
    "FRANCE": "FR",
    "NETHERLANDS": "NL",
    "BELGIUM": "BE",
    "POLAND": "PL",
    "ITALY": "IT",
    "SPAIN": "ES",
    "DENMARK": "DK",
    "CZECH REPUBLIC": "CZ",
    "UNITED KINGDOM": "GB",
    "UNITED STATES": "US",
    "USA": "US",
}


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    results = data.get("results")
    if not results or str(data.get("success", 1)) == "0":
        _raise_error(data)
        raise CarrierError("unparseable", "no 'results' in the response")
    items = results if isinstance(results, list) else [results]
    return [_tracking(item) for item in items if isinstance(item, dict)]


def _tracking(result: dict[str, Any]) -> Tracking:
    extra = {
        key: str(result[field])
        for key, field in (("last_mile_carrier", "CarrierIDLMC"), ("signed_by", "SignedBy"))
        if result.get(field)
    }
    return Tracking(
        carrier=NAME,
        tracking_number=str(result.get("TrackingID") or result.get("CarrierTrackingID") or ""),
        scans=tuple(_scan(event) for event in result.get("Events") or []),
        estimated_delivery_at=_day(str(result.get("EstimatedDelivery") or "")),
        extra=extra,
    )


def _day(text: str) -> datetime | None:
    try:
        day = datetime.strptime(text[:10], "%Y-%m-%d").date()  # noqa: DTZ007 - zone below
    except ValueError:
        return None
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(_HOME_ZONE))


def _location(text: str) -> Location | None:
    if not text.strip():
        return None
    place, _, last = text.rpartition(",")
    country = _COUNTRIES.get(last.strip().upper())
    if country:
        return Location(city=place.strip() or None, country=country)
    if len(last.strip()) == 2 and last.strip().isalpha() and place:
        return Location(city=place.strip(), country=last.strip().upper())
    return Location(facility=text.strip())


def _scan(event: dict[str, Any]) -> Scan:
    location = _location(str(event.get("Location") or ""))
    occurred_at, tz = parse_instant(str(event["DateTime"]), location, _HOME_ZONE)
    code = str(event.get("StatusCode") or "").strip()
    description = event.get("Description") or event.get("Status") or None
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=description,
        location=location,
    )


def _raise_error(data: dict[str, Any]) -> None:
    status = str(data.get("status") or "")
    message = str(data.get("message") or data.get("detail") or data.get("title") or "")
    if status in ("401", "403"):
        raise CarrierError("unauthorized", message or "ParcelOne refused the credentials")
    if status == "404" or "not found" in message.lower():
        raise CarrierError("not_found", message or "tracking number not found")
    if status == "429":
        raise CarrierError("rate_limited", message or "too many requests")
    if (status and status != "200") or (message and str(data.get("success")) == "0"):
        raise CarrierError("carrier_error", message or f"ParcelOne error {status}")
