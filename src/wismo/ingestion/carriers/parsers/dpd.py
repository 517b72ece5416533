"""DPD parcel life cycle, in the two shapes DPD documents for it.

1. JSON (`/rest/plc/{lang}/{parcelNumber}`, DPD Germany's parcel life cycle):
   `{"parcellifecycleResponse": {"parcelLifeCycleData": {"shipmentInfo":
   {"parcelLabelNumber"}, "statusInfo": [{"status": "ACCEPTED" | "AT_SENDING_DEPOT" |
   "ON_THE_ROAD" | "AT_DELIVERY_DEPOT" | "OUT_FOR_DELIVERY" | "DELIVERED" | ...,
   "label", "description": {"content": [...]}, "statusHasBeenReached", "location":
   "Aschaffenburg (DE)", "date": "10.07.2019, 08:51"}], "scanInfo": {"scan": [{"date",
   "scanData": {"location", "scanType": {"name": "SC_13_DELIVERED", "code"}},
   "scanDescription": {"content": [...]}}]}}}}`. The scans are the events when DPD sends
   them; otherwise the reached entries of `statusInfo` are (the unreached tail is DPD's
   forecast, not something that happened).
2. SOAP `getTrackingDataResponse` of the ParcelLifeCycleService 2.0: `trackingresult` with
   `statusInfo` (status PickedUp, BetweenDepots, Depot, Courier, Delivered,
   DeliveryFailure, ParcelShop, ReturningFromDelivery, ...), values in `<content>`; faults
   as `soap:Fault` with `errorCode` (DELICOM_ERR_AUTHENTICATION, ...).

DPD dates are the depot's local time without an offset: the zone comes from the country in
the location ("Mechelen (BE)"), else Germany.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import localise, parse_instant

NAME = "dpd"
DISPLAY_NAME = "DPD"
ALIASES = ("dpd_de", "dpd_group")

_HOME_ZONE = "Europe/Berlin"
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PLACE = re.compile(r"^(?P<city>.*?)\s*\((?P<country>[A-Za-z]{2})\)\s*$")
_SCAN_TYPE = re.compile(r"^(SC_\d+)")
_FORMATS = (
    "%d.%m.%Y, %H:%M",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)


def parse(body: bytes) -> list[Tracking]:
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        _raise_text(body.decode("utf-8", "replace"))
    if head.startswith(b"<"):
        return _parse_soap(body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not a DPD response: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "not a DPD response: expected a JSON object")
    return _parse_json(data)


# JSON --------------------------------------------------------------------------------------


def _parse_json(data: dict[str, Any]) -> list[Tracking]:
    response = data.get("parcellifecycleResponse", data)
    if not isinstance(response, dict) or "parcelLifeCycleData" not in response:
        _raise_json_error(data)
        raise CarrierError("unparseable", "no 'parcelLifeCycleData' in the DPD response")
    plc = response["parcelLifeCycleData"]
    if not isinstance(plc, dict):
        return []  # DPD knows no such parcel
    info = plc.get("shipmentInfo") or {}
    scans = [s for s in ((plc.get("scanInfo") or {}).get("scan") or []) if isinstance(s, dict)]
    if scans:
        found = [_json_scan(s) for s in scans if s.get("date")]
    else:
        found = [
            _status_scan(s)
            for s in plc.get("statusInfo") or []
            if isinstance(s, dict) and s.get("statusHasBeenReached") and s.get("date")
        ]
    if not found:
        return []
    return [
        Tracking(
            carrier=NAME,
            tracking_number=str(info.get("parcelLabelNumber") or ""),
            scans=tuple(found),
            service=_text(info.get("productName")),
        )
    ]


def _json_scan(scan: dict[str, Any]) -> Scan:
    data = scan.get("scanData") or {}
    location = _place(_text(data.get("location")), _text(data.get("country")))
    scan_type = data.get("scanType") or {}
    name = (_text(scan_type.get("name")) or "").upper()
    codes: list[str] = []
    if name:
        codes.append(name)
        prefix = _SCAN_TYPE.match(name)
        if prefix and prefix[1] != name:
            codes.append(prefix[1])
    elif code := _text(scan_type.get("code")):
        codes.append(f"SC_{int(code):02d}" if code.isdigit() else code)
    description = _content(scan.get("scanDescription")) or _text(
        (scan.get("scanDescription") or {}).get("label")
    )
    occurred_at, tz = _when(str(scan["date"]), location)
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=tuple(codes),
        raw_code=codes[0] if codes else None,
        description=description,
        location=location,
    )


def _status_scan(status: dict[str, Any]) -> Scan:
    code = _text(status.get("status"))
    location = _place(_text(status.get("location")), None)
    occurred_at, tz = _when(str(status["date"]), location)
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code,
        description=_content(status.get("description")) or _text(status.get("label")),
        location=location,
    )


def _raise_json_error(data: dict[str, Any]) -> None:
    nested = data.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else data
    status = str(error.get("status") or error.get("code") or error.get("errorCode") or "")
    message = str(error.get("message") or error.get("title") or error.get("detail") or "")
    if status:
        _raise_status(status, message)


# SOAP --------------------------------------------------------------------------------------


def _parse_soap(body: bytes) -> list[Tracking]:
    root = _read_xml(body)
    fault = _first(root, "Fault")
    if fault is not None:
        code = _deep_text(fault, "errorCode") or _deep_text(fault, "faultcode") or ""
        message = _deep_text(fault, "errorMessage") or _deep_text(fault, "faultstring")
        _raise_status(code, message or code)
    results = [e for e in root.iter() if _local(e.tag) == "trackingresult"]
    if not results:
        raise CarrierError("unparseable", "no 'trackingresult' in the DPD SOAP response")
    found: list[Tracking] = []
    for result in results:
        scans = [
            _soap_scan(s)
            for s in result
            if _local(s.tag) == "statusInfo"
            and (_child_text(s, "statusHasBeenReached") or "true").lower() == "true"
            and _child_text(_first(s, "date"), "content")
        ]
        if scans:
            number = _child_text(result, "parcelLabelNumber") or ""
            found.append(Tracking(carrier=NAME, tracking_number=number, scans=tuple(scans)))
    return found


def _soap_scan(status: ET.Element) -> Scan:
    code = _child_text(status, "status")
    location = _place(_child_text(_first(status, "location"), "content"), None)
    stamp = _child_text(_first(status, "date"), "content") or ""
    description = _first(status, "description")
    texts = [
        " ".join((e.text or "").split())
        for e in (description.iter() if description is not None else ())
        if _local(e.tag) == "content" and len(e) == 0 and (e.text or "").strip()
    ]
    occurred_at, tz = _when(stamp, location)
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code,
        description=" ".join(texts) or _child_text(_first(status, "label"), "content"),
        location=location,
    )


def _read_xml(body: bytes) -> ET.Element:
    # No DTDs at all: a DOCTYPE or ENTITY declaration is how entity expansion starts.
    if _DECLARATION.search(body):
        raise CarrierError("unparseable", "XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        # Safe here: declarations are refused above, and ElementTree fetches nothing.
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise CarrierError("unparseable", f"not a DPD response: {exc}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _first(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    return next((e for e in element.iter() if _local(e.tag) == name), None)


def _deep_text(element: ET.Element, name: str) -> str | None:
    found = _first(element, name)
    return _text(found.text) if found is not None else None


def _child_text(element: ET.Element | None, name: str) -> str | None:
    if element is None:
        return None
    child = next((e for e in element if _local(e.tag) == name), None)
    return _text(child.text) if child is not None else None


# Shared ------------------------------------------------------------------------------------


def _raise_status(status: str, message: str) -> None:
    code = status.upper()
    if code in ("401", "403") or "AUTH" in code:
        raise CarrierError("unauthorized", message or "DPD refused the credentials")
    if code == "404" or "NOT_FOUND" in code or "UNKNOWN_PARCEL" in code:
        raise CarrierError("not_found", message or "parcel not found")
    if code == "429" or "LIMIT" in code or "QUOTA" in code:
        raise CarrierError("rate_limited", message or "too many requests")
    raise CarrierError("carrier_error", message or f"DPD error {status}")


def _raise_text(page: str) -> None:
    title = re.search(r"<title>(.*?)</title>", page, re.IGNORECASE | re.DOTALL)
    message = " ".join((title[1] if title else page[:120]).split())
    for pattern, kind in (
        (r"\b(401|403)\b|unauthori[sz]ed|forbidden", "unauthorized"),
        (r"\b429\b|too many requests", "rate_limited"),
        (r"\b404\b|not found", "not_found"),
    ):
        if re.search(pattern, page, re.IGNORECASE):
            raise CarrierError(kind, message)
    raise CarrierError("carrier_error", message or "DPD answered with an HTML page")


def _place(place: str | None, country: str | None) -> Location | None:
    if not place and not country:
        return None
    match = _PLACE.match(place or "")
    city = match["city"] if match else place
    code = (match["country"] if match else country or "").upper()
    location = Location(
        city=city or None, country=code if len(code) == 2 and code.isalpha() else None
    )
    return location if location.describe() else None


def _when(stamp: str, location: Location | None) -> tuple[datetime, str | None]:
    value = stamp.strip()
    for fmt in _FORMATS:
        try:
            naive = datetime.strptime(value, fmt)  # noqa: DTZ007 - zone set below
        except ValueError:
            continue
        return localise(naive, location, _HOME_ZONE)
    return parse_instant(value, location, _HOME_ZONE)


def _content(holder: Any) -> str | None:
    """DPD's `{"content": ["line", ...]}` texts, joined."""
    if not isinstance(holder, dict):
        return _text(holder)
    lines = holder.get("content")
    if isinstance(lines, list):
        return " ".join(t for line in lines if (t := _text(line))) or None
    return _text(lines)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    cleaned = " ".join(str(value).split())
    return cleaned or None
