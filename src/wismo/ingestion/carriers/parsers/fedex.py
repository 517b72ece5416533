"""FedEx Track API v1: `{"output": {"completeTrackResults": [{"trackResults": [...]}]}}`.

Each track result has `scanEvents[]` (eventType, derivedStatusCode, exceptionCode,
delayDetail, `date` with its offset), `dateAndTimes` and an estimated delivery window.
Lookup keys, most specific first: EVENT:EXCEPTION (the exception code gives the reason),
EVENT:DELAYTYPE for a delayed event, the eventType, then the derivedStatusCode. A track
result with an `error` and no scans (TRACKING.TRACKINGNUMBER.NOTFOUND) is a number FedEx
does not know; request-level failures come as `{"errors": [{"code", "message"}]}`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.mapping import canonical_code
from wismo.ingestion.carriers.zones import parse_instant

NAME = "fedex"
DISPLAY_NAME = "FedEx"
ALIASES = ("fedex_express", "fedex_ground")

# FedEx sends offsets; this zone (Memphis hub) is only for a time that arrives without one
# and without a place.
_HOME_ZONE = "America/Chicago"
# The estimate types, best first: the window FedEx shows the customer, then the dates.
_ESTIMATES = ("ESTIMATED_DELIVERY", "APPOINTMENT_DELIVERY", "COMMITMENT")


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    output = data.get("output")
    if not isinstance(output, dict):
        _raise_errors(data.get("errors"), data)
        raise CarrierError("unparseable", "no 'output' in the response")
    results = output.get("completeTrackResults")
    if not isinstance(results, list) and output.get("documents"):
        # /track/v1/trackingdocuments answers with a document (e.g. a signed proof of
        # delivery as PDF), which holds no scans.
        kind = output.get("documentType") or "document"
        raise CarrierError("unparseable", f"a FedEx tracking document ({kind}), not tracking")
    if not isinstance(results, list):
        raise CarrierError("unparseable", "'output.completeTrackResults' is not a list")
    found: list[Tracking] = []
    errors: list[Any] = []
    for complete in results:
        for result in complete.get("trackResults") or []:
            events = result.get("scanEvents") or []
            if not events and result.get("error"):
                # The sample schema carries an `error` next to real scans; only an error
                # with nothing else means the number is unknown.
                errors.append(result["error"])
                continue
            found.append(_tracking(complete, result, events))
    if not found and errors:
        _raise_errors(errors, data)
    return found


def _tracking(complete: dict[str, Any], result: dict[str, Any], events: list[Any]) -> Tracking:
    info = result.get("trackingNumberInfo") or {}
    number = str(info.get("trackingNumber") or complete.get("trackingNumber") or "")
    service = (result.get("serviceDetail") or {}).get("description") or None
    return Tracking(
        carrier=NAME,
        tracking_number=number,
        scans=tuple(_scan(e) for e in events),
        estimated_delivery_at=_estimate(result),
        service=service,
    )


def _scan(event: dict[str, Any]) -> Scan:
    event_type = str(event.get("eventType") or "").strip().upper()
    derived = str(event.get("derivedStatusCode") or "").strip().upper()
    raw_exception = str(event.get("exceptionCode") or "").strip().upper()
    exception = canonical_code(raw_exception)
    delay = event.get("delayDetail") or {}
    codes: list[str] = []
    if event_type and exception:
        codes.append(f"{event_type}:{exception}")
    if event_type and str(delay.get("status") or "").upper() == "DELAYED" and delay.get("type"):
        codes.append(f"{event_type}:{str(delay['type']).strip().upper()}")
    codes += [c for c in (event_type, derived) if c]
    location = _location(event.get("scanLocation"))
    occurred_at, tz = parse_instant(str(event["date"]), location, _HOME_ZONE)
    text = str(event.get("eventDescription") or event.get("derivedStatus") or "").strip()
    detail = str(event.get("exceptionDescription") or "").strip()
    # The exception text says why; keep it beside the event so a reader (and the message
    # classifier, for an unknown code) sees the cause.
    description = f"{text}: {detail}" if text and detail and detail != text else text or detail
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=tuple(dict.fromkeys(codes)),
        raw_code=f"{event_type}:{raw_exception}"
        if event_type and exception
        else event_type or None,
        description=description or None,
        location=location,
    )


def _location(address: dict[str, Any] | None) -> Location | None:
    if not isinstance(address, dict):
        return None
    location = Location(
        city=(address.get("city") or "").strip() or None,
        region=(address.get("stateOrProvinceCode") or "").strip() or None,
        postal_code=(address.get("postalCode") or "").strip() or None,
        country=(address.get("countryCode") or "").strip() or None,
    )
    return location if location.describe() else None


def _estimate(result: dict[str, Any]) -> datetime | None:
    """FedEx's estimated delivery: the end of the window it shows, else the dated estimate.

    Dates come without an offset (local to the destination), so they take its zone.
    """
    destination = _destination(result)
    window = (result.get("estimatedDeliveryTimeWindow") or {}).get("window") or {}
    candidates = [window.get("ends"), window.get("begins")]
    dated = {
        str(d.get("type") or ""): d.get("dateTime")
        for d in result.get("dateAndTimes") or []
        if isinstance(d, dict)
    }
    candidates += [dated.get(kind) for kind in _ESTIMATES]
    for text in candidates:
        if not text:
            continue
        try:
            return parse_instant(str(text), destination, _HOME_ZONE)[0]
        except ValueError:
            continue  # an unreadable estimate should not cost the scans
    return None


def _destination(result: dict[str, Any]) -> Location | None:
    for holder in (
        (result.get("destinationLocation") or {}).get("locationContactAndAddress"),
        result.get("recipientInformation"),
    ):
        if isinstance(holder, dict) and isinstance(holder.get("address"), dict):
            return _location(holder["address"])
    return _location(result.get("lastUpdatedDestinationAddress"))


def _raise_errors(errors: Any, data: dict[str, Any]) -> None:
    if not isinstance(errors, list) or not errors:
        fault = data.get("fault")
        if isinstance(fault, dict):
            errors = [{"code": "", "message": fault.get("faultstring")}]
        elif isinstance(data.get("error"), str):
            errors = [{"code": data["error"], "message": data.get("error_description")}]
        else:
            return
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    code = str(first.get("code") or "").strip()
    message = str(first.get("message") or code or "FedEx error").strip()
    raise CarrierError(_error_kind(code, message), f"{message} ({code})" if code else message)


def _error_kind(code: str, message: str) -> str:
    text = f"{code} {message}".lower()
    if re.search(r"too.many|rate.limit|quota|throttl", text):
        return "rate_limited"
    if re.search(r"not.authori[sz]ed|unauthori[sz]ed|forbidden|invalid_token|credential", text):
        return "unauthorized"
    if re.search(r"not.?found|cannot be found", text):
        return "not_found"
    return "carrier_error"
