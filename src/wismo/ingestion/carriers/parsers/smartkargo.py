"""SmartKargo (air e-commerce) tracking API (`/tracking?packageReference=...`).

A list of piece events: `[{"prefix": "AXB", "airWaybill", "headerReference",
"packageReference", "pieceReference", "eventType": "BKD", "eventDate":
"2021-01-25T13:03:17", "eventLocation": "BOS", "description", "estimatedDeliveryDate"}]`,
grouped here by package reference into one tracking each. Event types are IATA Cargo-IMP
status codes plus SmartKargo's last-mile ones. Errors: `{"error": {"code": "NOT_FOUND",
"message"}}`. `eventDate` has no offset: it is local to the airport in `eventLocation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "smartkargo"
DISPLAY_NAME = "SmartKargo"
ALIASES = ("smart_kargo", "deliverdirect")

_HOME_ZONE = "America/New_York"
# Airports SmartKargo's network scans at: IATA code -> zone.
_AIRPORTS = {
    **dict.fromkeys(
        [
            "ATL",
            "BOS",
            "BWI",
            "CLT",
            "CVG",
            "DCA",
            "DTW",
            "EWR",
            "IAD",
            "JFK",
            "LGA",
            "MCO",
            "MIA",
            "PHL",
            "PIT",
            "RDU",
            "TPA",
            "FLL",
            "CMH",
            "IND",
            "BDL",
            "JAX",
            "RSW",
            "PBI",
            "SDF",
            "CLE",
            "BUF",
            "ORF",
            "RIC",
            "YYZ",
            "YUL",
            "YOW",
        ],
        "America/New_York",
    ),
    **dict.fromkeys(
        [
            "ORD",
            "MDW",
            "DFW",
            "DAL",
            "IAH",
            "HOU",
            "MSP",
            "STL",
            "MCI",
            "MSY",
            "AUS",
            "SAT",
            "BNA",
            "MEM",
            "OKC",
            "OMA",
            "MKE",
        ],
        "America/Chicago",
    ),
    **dict.fromkeys(["DEN", "SLC", "ABQ", "ELP", "BOI"], "America/Denver"),
    "PHX": "America/Phoenix",
    "TUS": "America/Phoenix",
    **dict.fromkeys(
        ["LAX", "SFO", "SJC", "OAK", "SAN", "SEA", "PDX", "LAS", "SMF", "ONT", "SNA", "BUR", "YVR"],
        "America/Los_Angeles",
    ),
    "ANC": "America/Anchorage",
    "HNL": "Pacific/Honolulu",
    "SJU": "America/Puerto_Rico",
    "MEX": "America/Mexico_City",
    "GDL": "America/Mexico_City",
    "MTY": "America/Monterrey",
    "CUN": "America/Cancun",
}
_ERRORS = {
    "NOT_FOUND": "not_found",
    "UNAUTHORIZED": "unauthorized",
    "FORBIDDEN": "unauthorized",
    "INVALID_TOKEN": "unauthorized",
    "TOO_MANY_REQUESTS": "rate_limited",
    "RATE_LIMITED": "rate_limited",
}


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if isinstance(data, dict):
        if "eventType" in data:
            data = [data]
        else:
            _raise_error(data)
            raise CarrierError("unparseable", "expected a list of tracking events")
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise CarrierError("unparseable", "expected a list of tracking events")
    groups: dict[str, list[dict[str, Any]]] = {}
    for event in data:
        reference = str(
            event.get("packageReference")
            or event.get("headerReference")
            or f"{event.get('prefix') or ''}{event.get('airWaybill') or ''}"
        )
        groups.setdefault(reference, []).append(event)
    return [_tracking(reference, events) for reference, events in groups.items()]


def _tracking(reference: str, events: list[dict[str, Any]]) -> Tracking:
    estimate = next((e for e in events if e.get("estimatedDeliveryDate")), None)
    estimated_at: datetime | None = None
    if estimate is not None:
        place = str(estimate.get("flightSegmentDestination") or "")
        estimated_at = parse_instant(
            str(estimate["estimatedDeliveryDate"]), None, _AIRPORTS.get(place, _HOME_ZONE)
        )[0]
    first = events[0]
    extra = {
        key: str(first[field])
        for key, field in (("air_waybill", "airWaybill"), ("prefix", "prefix"))
        if first.get(field)
    }
    return Tracking(
        carrier=NAME,
        tracking_number=reference,
        scans=tuple(_scan(e) for e in events),
        estimated_delivery_at=estimated_at,
        extra=extra,
    )


def _scan(event: dict[str, Any]) -> Scan:
    airport = str(event.get("eventLocation") or "").strip().upper()
    location = Location(facility=airport) if airport else None
    occurred_at, tz = parse_instant(
        str(event["eventDate"]), None, _AIRPORTS.get(airport, _HOME_ZONE)
    )
    code = str(event.get("eventType") or "").strip()
    sub = str(event.get("subEventType") or "").strip()
    codes = (f"{code}.{sub}", code) if code and sub else (code,) if code else ()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=codes,
        raw_code=code or None,
        description=event.get("description") or None,
        location=location,
    )


def _raise_error(data: dict[str, Any]) -> None:
    error = data.get("error")
    if isinstance(error, dict):
        code = str(error.get("code") or "").upper()
        message = str(error.get("message") or code)
    else:
        code = str(data.get("status") or error or "").upper()
        message = str(data.get("message") or data.get("title") or code)
    kind = _ERRORS.get(code) or {
        "404": "not_found",
        "401": "unauthorized",
        "403": "unauthorized",
    }.get(code, "rate_limited" if code == "429" else "carrier_error")
    if code or message:
        raise CarrierError(kind, message)
