"""GLS Track and Trace (ecitrackandtrace): `{"parcels": [{"unitno", "status", "events"}]}`.

Event codes are "GROUP.DETAIL" (e.g. "INTIAL.PREADVICE", "DELIVD.PSHOP"); the table is tried
with the full code first, then the group. Times carry an offset ("+0200").
"""

from __future__ import annotations

from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "gls"
DISPLAY_NAME = "GLS"
ALIASES = ("gls_eu", "gls_group")


def parse(body: bytes) -> list[Tracking]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    if "parcels" not in data:
        _raise_error(data)
        raise CarrierError("unparseable", "no 'parcels' in the response")
    found: list[Tracking] = []
    for parcel in data["parcels"] or []:
        number = str(parcel.get("unitno") or parcel.get("requested") or "")
        if parcel.get("errorCode") and not parcel.get("events"):
            if len(data["parcels"]) == 1:
                _raise_parcel_error(parcel)
            continue
        found.append(
            Tracking(
                carrier=NAME,
                tracking_number=number,
                scans=tuple(_scan(e) for e in parcel.get("events") or []),
            )
        )
    return found


def _scan(event: dict[str, Any]) -> Scan:
    location = Location(
        city=event.get("city") or None,
        postal_code=event.get("postalCode") or None,
        country=event.get("country") or None,
    )
    occurred_at, tz = parse_instant(str(event["eventDateTime"]), location, "Europe/Berlin")
    code = str(event.get("code") or "")
    codes = (code, code.split(".", 1)[0]) if "." in code else (code,) if code else ()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=codes,
        raw_code=code or None,
        description=event.get("description") or None,
        location=location if location.describe() else None,
    )


def _raise_parcel_error(parcel: dict[str, Any]) -> None:
    code = str(parcel.get("errorCode") or "")
    message = str(parcel.get("errorMessage") or code)
    kind = "not_found" if code.startswith("E_404") else "carrier_error"
    raise CarrierError(kind, message)


def _raise_error(data: dict[str, Any]) -> None:
    status = data.get("status") or data.get("httpStatus")
    errors = data.get("errors") or []
    message = "; ".join(str(e.get("description") or e.get("errorcode")) for e in errors)
    if status in (401, 403, "401", "403"):
        raise CarrierError("unauthorized", message or "GLS refused the credentials")
    if status in (404, "404"):
        raise CarrierError("not_found", message or "parcel not found")
    if status in (429, "429"):
        raise CarrierError("rate_limited", message or "too many requests")
    if status:
        raise CarrierError("carrier_error", message or f"GLS error {status}")
