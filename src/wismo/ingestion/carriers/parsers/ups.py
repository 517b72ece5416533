"""UPS Track API v1: `{"trackResponse": {"shipment": [{"package": [{"activity": [...]}]}]}}`.

Each activity has `status` {type, code, statusCode, description}, `date` (YYYYMMDD) and
`time` (HHMMSS) in the local time of the activity's address, with no zone; newer responses
add `gmtOffset`. Lookup keys, most specific first: for exceptions (type X) the activity code
(it names the cause), then the 3-digit statusCode (UPS's own status bucket), then TYPE:CODE,
then the type alone. Mail Innovations numbers (postal IMpb) use their own code list ("MI:CODE"),
whose two letters mean other things on 1Z packages. Errors come as
`{"response": {"errors": [{"code", "message"}]}}`; "not found" may also come as a shipment
with `warnings` and no package.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from typing import Any

import orjson

from wismo.domain.model import Location, zone_label
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.mapping import canonical_code
from wismo.ingestion.carriers.zones import localise

NAME = "ups"
DISPLAY_NAME = "UPS"
ALIASES = ("united_parcel_service",)

# UPS is headquartered in Atlanta: the zone for a scan whose address says nothing.
_HOME_ZONE = "America/New_York"
_OFFSET = re.compile(r"^([+-])(\d{1,2}):?(\d{2})$")

# Documented error codes; anything else is classified by its message.
_UNAUTHORIZED = {"250001", "250002", "250003", "250004", "250007", "250009", "10401"}
_NOT_FOUND = {"151018", "151044", "151045", "151062", "154030", "TW0001"}
_RATE_LIMITED = {"10429", "429"}


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    if "trackResponse" not in data:
        _raise_error(data)
        raise CarrierError("unparseable", "no 'trackResponse' in the response")
    shipments = (data["trackResponse"] or {}).get("shipment")
    if not isinstance(shipments, list):
        raise CarrierError("unparseable", "'trackResponse.shipment' is not a list")
    found: list[Tracking] = []
    warnings: list[dict[str, Any]] = []
    for shipment in shipments:
        packages = [p for p in shipment.get("package") or [] if p.get("activity")]
        if not packages:
            # "Not found" is a shipment with warnings and no package; with packages the
            # warnings are advisory (e.g. about the licence) and the data stands.
            warnings.extend(w for w in shipment.get("warnings") or [] if isinstance(w, dict))
        for package in packages:
            found.append(_tracking(shipment, package))
    if not found and warnings:
        _raise_errors(warnings)
    return found


def _tracking(shipment: dict[str, Any], package: dict[str, Any]) -> Tracking:
    number = str(package.get("trackingNumber") or shipment.get("inquiryNumber") or "")
    # Mail Innovations items carry postal (IMpb, 20+ digits) or "MI" numbers, never 1Z.
    mail_innovations = (number.isdigit() and len(number) >= 20) or number.upper().startswith("MI")
    scans = tuple(_scan(a, mail_innovations) for a in package["activity"])
    service = (package.get("service") or {}).get("description") or None
    return Tracking(
        carrier=NAME,
        tracking_number=number,
        scans=scans,
        estimated_delivery_at=_estimate(package),
        service=service,
    )


def _scan(activity: dict[str, Any], mail_innovations: bool) -> Scan:
    status = activity.get("status") or {}
    kind = str(status.get("type") or "").strip().upper()
    code = canonical_code(str(status.get("code") or ""))
    status_code = str(status.get("statusCode") or "").strip()
    codes: list[str] = []
    if mail_innovations and code:
        codes.append(f"MI:{code}")
    elif kind == "X" and code:
        codes.append(f"X:{code}")
    if status_code:
        codes.append(status_code)
    if kind and code:
        codes.append(f"{kind}:{code}")
    if kind:
        codes.append(kind)
    location = _location((activity.get("location") or {}).get("address"))
    occurred_at, tz = _when(activity, location)
    description = " ".join(str(status.get("description") or "").split()) or None
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=tuple(dict.fromkeys(codes)),
        raw_code=code or status_code or None,
        description=description,
        location=location,
    )


def _location(address: dict[str, Any] | None) -> Location | None:
    if not address:
        return None
    location = Location(
        city=(address.get("city") or "").strip() or None,
        region=(address.get("stateProvince") or "").strip() or None,
        postal_code=(address.get("postalCode") or "").strip() or None,
        country=(address.get("countryCode") or address.get("country") or "").strip() or None,
    )
    return location if location.describe() else None


def _when(activity: dict[str, Any], location: Location | None) -> tuple[datetime, str | None]:
    """The activity's instant: its local wall-clock time placed in its zone.

    `gmtOffset`, when UPS sends it, is the exact offset; otherwise the zone comes from the
    activity's address. Taking the wall-clock time as UTC would move scans by hours.
    """
    naive = _local(str(activity.get("date") or ""), str(activity.get("time") or ""))
    offset = _OFFSET.match(str(activity.get("gmtOffset") or "").strip())
    if offset:
        minutes = int(offset[2]) * 60 + int(offset[3])
        zone = timezone(timedelta(minutes=-minutes if offset[1] == "-" else minutes))
        moment = naive.replace(tzinfo=zone)
        return moment, zone_label(moment)
    return localise(naive, location, _HOME_ZONE)


def _local(date: str, clock: str) -> datetime:
    date = date.strip()
    if not re.fullmatch(r"\d{8}", date):
        raise CarrierError("unparseable", f"activity date {date!r} is not YYYYMMDD")
    digits = clock.strip() or "000000"
    if not digits.isdigit() or len(digits) > 6:
        raise CarrierError("unparseable", f"activity time {clock!r} is not HHMMSS")
    return datetime.strptime(date + digits.zfill(6), "%Y%m%d%H%M%S")  # noqa: DTZ007 - localised by the caller


def _estimate(package: dict[str, Any]) -> datetime | None:
    """The scheduled (or rescheduled) delivery date, in the destination's zone.

    A rescheduled date (RDD) replaces the scheduled one (SDD); the delivered date (DEL) is
    not an estimate. A date without a time is placed at noon local, so that it reads as the
    same calendar day in every zone near the destination.
    """
    dates = {
        str(d.get("type") or "").upper(): str(d.get("date") or "")
        for d in package.get("deliveryDate") or []
        if isinstance(d, dict)
    }
    date = dates.get("RDD") or dates.get("SDD")
    if not date:
        return None
    window = package.get("deliveryTime") or {}
    clock = str(window.get("endTime") or "") if window.get("type") != "DEL" else ""
    try:
        naive = (
            _local(date, clock) if clock else datetime.combine(_local(date, "").date(), time(12))
        )
        return localise(naive, _destination(package), _HOME_ZONE)[0]
    except CarrierError:
        return None  # an unreadable estimate should not cost the scans


def _destination(package: dict[str, Any]) -> Location | None:
    addresses = [a for a in package.get("packageAddress") or [] if isinstance(a, dict)]
    for entry in addresses:
        if "DEST" in str(entry.get("type") or "").upper():
            return _location(entry.get("address"))
    return _location(addresses[-1].get("address")) if addresses else None


def _raise_error(data: dict[str, Any]) -> None:
    response = data.get("response")
    errors = response.get("errors") if isinstance(response, dict) else None
    if isinstance(errors, list) and errors:
        _raise_errors(errors)
    fault = data.get("fault")
    if isinstance(fault, dict):
        detail = str((fault.get("detail") or {}).get("errorcode") or "")
        _raise_errors([{"code": detail, "message": fault.get("faultstring") or detail}])


def _raise_errors(errors: list[Any]) -> None:
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    code = str(first.get("code") or "").strip()
    message = str(first.get("message") or code or "UPS error").strip()
    raise CarrierError(_error_kind(code, message), f"{message} ({code})" if code else message)


def _error_kind(code: str, message: str) -> str:
    text = message.lower()
    if code in _RATE_LIMITED or re.search(r"too many|rate limit|quota|throttl", text):
        return "rate_limited"
    if code in _UNAUTHORIZED or re.search(
        r"authenticat|authori[sz]|access license|credential|token|forbidden", text
    ):
        return "unauthorized"
    if code in _NOT_FOUND or re.search(r"not found|no tracking|invalid (tracking|inquiry)", text):
        return "not_found"
    return "carrier_error"
