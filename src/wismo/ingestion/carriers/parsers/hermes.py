"""Hermes Germany Shipment Info API (`/shipmentinfo`).

`{"shipmentinfo": [{"shipmentID", "result": {"code": "i001"|"e001", "message"},
"deliveryForecast": {"date"}, "status": [{"timestamp": "...+01:00", "code": "3500",
"description", "scanningUnit": {"name", "city", "countryCode": "DEU"}}]}]}`. Result codes
starting with "e" are errors (e001: no information for the number). Status codes are four
digits ("0000" is a real code: the canonical form is "0"). Timestamps carry their offset.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "hermes"
DISPLAY_NAME = "Hermes Germany"
ALIASES = ("hermes_de", "hermes_germany")

_HOME_ZONE = "Europe/Berlin"
# ISO alpha-3 (as Hermes sends) -> alpha-2 for the countries Hermes scans in.
_ALPHA3 = {
    "DEU": "DE",
    "AUT": "AT",
    "CHE": "CH",
    "NLD": "NL",
    "BEL": "BE",
    "LUX": "LU",
    "FRA": "FR",
    "POL": "PL",
    "CZE": "CZ",
    "DNK": "DK",
    "ITA": "IT",
    "ESP": "ES",
    "GBR": "GB",
    "SWE": "SE",
}


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    if "shipmentinfo" not in data:
        _raise_http(data)
        raise CarrierError("unparseable", "no 'shipmentinfo' in the response")
    found: list[Tracking] = []
    errors: list[dict[str, Any]] = []
    for info in data["shipmentinfo"] or []:
        result = info.get("result") or {}
        if str(result.get("code") or "").lower().startswith("e") and not info.get("status"):
            errors.append(result)
            continue
        found.append(_tracking(info))
    if not found and errors:
        code = str(errors[0].get("code") or "")
        message = f"{code}: {errors[0].get('message') or 'Hermes error'}"
        raise CarrierError("not_found" if code.lower() == "e001" else "carrier_error", message)
    return found


def _tracking(info: dict[str, Any]) -> Tracking:
    forecast = info.get("deliveryForecast") or {}
    return Tracking(
        carrier=NAME,
        tracking_number=str(info.get("shipmentID") or info.get("internationalShipmentID") or ""),
        scans=tuple(_scan(s) for s in info.get("status") or []),
        estimated_delivery_at=_forecast(forecast),
        extra={"reference": str(info["clientReference"])} if info.get("clientReference") else {},
    )


def _forecast(forecast: dict[str, Any]) -> datetime | None:
    text = str(forecast.get("date") or "")
    if not text:
        return None
    slot = forecast.get("timeSlot") or {}
    until = str(slot.get("to") or "00:00")
    try:
        day = datetime.strptime(text[:10], "%Y-%m-%d").date()  # noqa: DTZ007 - zone below
        clock = time.fromisoformat(until)
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=ZoneInfo(_HOME_ZONE))


def _scan(status: dict[str, Any]) -> Scan:
    unit = status.get("scanningUnit") or {}
    country = str(unit.get("countryCode") or "").upper()
    location = Location(
        facility=unit.get("name") or None,
        city=unit.get("city") or None,
        country=_ALPHA3.get(country, country) or None,
    )
    occurred_at, tz = parse_instant(str(status["timestamp"]), location, _HOME_ZONE)
    code = str(status.get("code") or "").strip()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=status.get("description") or None,
        location=location if location.describe() else None,
    )


def _raise_http(data: dict[str, Any]) -> None:
    status = str(data.get("status") or data.get("httpStatus") or data.get("code") or "")
    error = str(data.get("error") or "")
    message = str(
        data.get("error_description") or data.get("message") or data.get("title") or error
    )
    if status in ("401", "403") or error in ("invalid_token", "unauthorized", "invalid_client"):
        raise CarrierError("unauthorized", message or "Hermes refused the credentials")
    if status == "429":
        raise CarrierError("rate_limited", message or "too many requests")
    if status == "404":
        raise CarrierError("not_found", message or "shipment not found")
    if status or error:
        raise CarrierError("carrier_error", message or f"Hermes error {status}")
