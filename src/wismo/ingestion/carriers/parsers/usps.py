"""USPS tracking: Tracking v3 REST (JSON, `expand=DETAIL`), a JSON list of such responses,
or the legacy Web Tools `TrackResponse` XML (TrackInfo / TrackSummary / TrackDetail).

v3 events carry `eventTimestamp` as local wall-clock time with a separate `GMTOffset`
("-05:00", sometimes "-5:00"); Web Tools gives "November 22, 2024" and "1:58 pm" with no
offset at all, so the zone comes from the event's state. The lookup key is the event code
(Publication 199); the event text is the description the classifier reads when the code is
not in the table. Errors: v3 `{"error": {"code": "404", "message", "errors": [...]}}`, the
gateway's `{"fault": ...}`, and Web Tools `<Error><Number/><Description/></Error>`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from xml.etree import ElementTree

import orjson

from wismo.domain.model import Location, zone_label
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import localise, parse_instant

NAME = "usps"
DISPLAY_NAME = "USPS"
ALIASES = ("usps_international",)

# USPS headquarters; only for a time whose event names no state and no offset.
_HOME_ZONE = "America/New_York"
_OFFSET = re.compile(r"^([+-])(\d{1,2}):?(\d{2})$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?$", re.IGNORECASE)
_FACILITY = re.compile(r"\b([A-Z]{2})\b(?=.*\b(?:CENTER|FACILITY|ANNEX|HUB|NDC|P&DC)\b)")
_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH"
    " NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR"
)
_STATES = frozenset(_STATE_CODES.split())
# Web Tools error numbers: unknown item, and the authentication failures.
_XML_NOT_FOUND = {"-2147219302", "-2147219283", "-2147219301"}
_XML_UNAUTHORIZED = {"80040B1A", "80040B19", "-2147219085"}


def parse(body: bytes) -> list[Tracking]:
    if body.lstrip()[:1] == b"<":
        return _parse_xml(body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"neither JSON nor XML ({exc})") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise CarrierError("unparseable", "an empty list of responses")
    found: list[Tracking] = []
    failures: list[CarrierError] = []
    for item in items:
        if not isinstance(item, dict):
            raise CarrierError("unparseable", "expected a JSON object or a list of them")
        if "trackingEvents" in item:
            found.append(_tracking(item))
            continue
        failure = _json_error(item)
        if failure is None:
            if "eventSummaries" in item:
                raise CarrierError("unparseable", "a summary response; request expand=DETAIL")
            raise CarrierError("unparseable", "no 'trackingEvents' in the response")
        failures.append(failure)
    if not found and failures:
        raise failures[0]
    return found


def _tracking(item: dict[str, Any]) -> Tracking:
    events = item["trackingEvents"] or []
    if not isinstance(events, list):
        raise CarrierError("unparseable", "'trackingEvents' is not a list")
    return Tracking(
        carrier=NAME,
        tracking_number=str(item.get("trackingNumber") or ""),
        scans=tuple(_scan(e) for e in events),
        estimated_delivery_at=_estimate(item),
        service=_plain(item.get("mailClass")),
    )


def _scan(event: dict[str, Any]) -> Scan:
    code = str(event.get("eventCode") or "").strip()
    location = _location(
        event.get("eventCity"),
        event.get("eventState"),
        event.get("eventZIP"),
        event.get("eventCountry"),
    )
    occurred_at, tz = _when(event, location)
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=_plain(event.get("eventType")),
        location=location,
    )


def _when(event: dict[str, Any], location: Location | None) -> tuple[datetime, str | None]:
    """The instant of a v3 event: local time plus GMTOffset, else its place's zone."""
    stamp = str(event.get("eventTimestamp") or "").strip()
    if not stamp:
        gmt = str(event.get("GMTTimestamp") or "").strip()
        if not gmt:
            raise CarrierError("unparseable", "an event without eventTimestamp")
        return parse_instant(gmt)
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        return moment, zone_label(moment)
    offset = _OFFSET.match(str(event.get("GMTOffset") or "").strip())
    if offset:
        minutes = int(offset[2]) * 60 + int(offset[3])
        moment = moment.replace(
            tzinfo=timezone(timedelta(minutes=-minutes if offset[1] == "-" else minutes))
        )
        return moment, zone_label(moment)
    return localise(moment, location, _HOME_ZONE)


def _location(city: Any, state: Any, postal: Any, country: Any) -> Location | None:
    name, region, postal_code = _plain(city), _plain(state), _plain(postal)
    facility = None
    if name and not region:
        # Plants are named "JACKSONVILLE FL DISTRIBUTION CENTER" with no state field; the
        # state in the name is what places a time without an offset in its zone.
        match = _FACILITY.search(name)
        if match and match[1] in _STATES:
            facility, name, region = name, None, match[1]
    # Domestic events leave the country empty; a state or ZIP Code places them in the US.
    country_text = _plain(country) or ("US" if region or postal_code else None)
    location = Location(
        city=name, region=region, postal_code=postal_code, country=country_text, facility=facility
    )
    return location if location.describe() else None


def _estimate(item: dict[str, Any]) -> datetime | None:
    """The expected (or, failing that, predicted) delivery, in the destination's zone."""
    destination = _location(
        item.get("destinationCity"),
        item.get("destinationState"),
        item.get("destinationZIP"),
        item.get("destinationCountryCode"),
    )
    for field in ("expectedDeliveryTimeStamp", "guaranteedDeliveryTimeStamp"):
        if item.get(field):
            try:
                return parse_instant(str(item[field]), destination, _HOME_ZONE)[0]
            except ValueError:
                continue  # a malformed timestamp: the date fields below may still say
    for day_field, clock_field in (
        ("expectedDeliveryDate", "expectedDeliveryTime"),
        ("predictedDeliveryDate", "predictedDeliveryWindowEndTime"),
    ):
        when = _day_and_clock(item.get(day_field), item.get(clock_field))
        if when is not None:
            return localise(when, destination, _HOME_ZONE)[0]
    return None


def _day_and_clock(day: Any, clock: Any) -> datetime | None:
    """A calendar day and an optional clock time as a naive local datetime.

    A day without a time is placed at noon local, so it stays the same calendar day when
    shown in any zone near the destination.
    """
    if not day:
        return None
    try:
        parsed = _day(str(day))
    except ValueError:
        return None
    return datetime.combine(parsed, _clock(str(clock or "")) or time(12))


def _day(text: str) -> date:
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%m/%d/%Y"):
        try:
            return datetime.strptime(text[:10] if pattern == "%Y-%m-%d" else text, pattern).date()  # noqa: DTZ007
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text!r}")


def _clock(text: str) -> time | None:
    match = _CLOCK.match(text.strip())
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    meridiem = (match[4] or "").lower().replace(".", "")
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    return time(hour, minute, second)


def _plain(value: Any) -> str | None:
    """Text without USPS's inline markup ("Priority Mail<SUP>&#174;</SUP>")."""
    if value is None:
        return None
    text = re.sub(r"<[^>]+>|&#?\w+;", "", str(value))
    return " ".join(text.split()) or None


def _json_error(item: dict[str, Any]) -> CarrierError | None:
    error = item.get("error")
    if isinstance(error, dict):
        details = [d for d in error.get("errors") or [] if isinstance(d, dict)]
        status = str(error.get("code") or (details[0].get("status") if details else "") or "")
        parts = [str(error.get("message") or "")]
        parts += [str(d.get("detail") or d.get("title") or "") for d in details]
        message = "; ".join(p for p in parts if p) or f"USPS error {status}"
        return CarrierError(_error_kind(status, message), message)
    if isinstance(error, str):  # the OAuth gateway: {"error": "invalid_token", ...}
        message = str(item.get("error_description") or error)
        return CarrierError(_error_kind("", f"{error} {message}"), message)
    fault = item.get("fault")
    if isinstance(fault, dict):
        message = str(fault.get("faultstring") or "USPS gateway fault")
        detail = str((fault.get("detail") or {}).get("errorcode") or "")
        return CarrierError(_error_kind("", f"{detail} {message}"), message)
    return None


def _error_kind(status: str, message: str) -> str:
    text = message.lower()
    if status == "429" or re.search(r"too many|rate limit|quota|spike", text):
        return "rate_limited"
    if status in ("401", "403") or re.search(
        r"unauthori[sz]ed|authori[sz]ation fail|invalid.?(access.?)?token|credential", text
    ):
        return "unauthorized"
    if status == "404" or re.search(r"not found|could not locate|no record", text):
        return "not_found"
    return "carrier_error"


# Web Tools XML ---------------------------------------------------------------------------


def _parse_xml(body: bytes) -> list[Tracking]:
    # No DTDs: entity definitions are how XML bombs and external entities get in, and a
    # USPS response never has one.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise CarrierError("unparseable", "XML with a DTD is refused")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - DTDs refused above
    except ElementTree.ParseError as exc:
        raise CarrierError("unparseable", f"not well-formed XML ({exc})") from None
    if root.tag == "Error":
        raise _xml_error(root)
    if root.tag != "TrackResponse":
        raise CarrierError("unparseable", f"expected <TrackResponse>, got <{root.tag}>")
    found: list[Tracking] = []
    failures: list[CarrierError] = []
    for info in root.findall("TrackInfo"):
        error = info.find("Error")
        nodes = (info.find("TrackSummary"), *info.findall("TrackDetail"))
        # A node with fields is an event; a bare text node is the pre-Revision-1 format.
        details = [d for d in nodes if d is not None and len(d) > 0]
        if not details:
            if error is not None:
                failures.append(_xml_error(error))
                continue
            if info.findtext("TrackSummary"):
                raise CarrierError("unparseable", "a text-only summary; request Revision 1")
        found.append(
            Tracking(
                carrier=NAME,
                tracking_number=info.get("ID") or "",
                scans=tuple(_xml_scan(d) for d in details),
                estimated_delivery_at=_xml_estimate(info),
                service=_plain(info.findtext("Class")),
            )
        )
    if not found and failures:
        raise failures[0]
    return found


def _xml_scan(node: ElementTree.Element) -> Scan:
    location = _location(
        node.findtext("EventCity"),
        node.findtext("EventState"),
        node.findtext("EventZIPCode"),
        node.findtext("EventCountry"),
    )
    try:
        day = _day(node.findtext("EventDate") or "")
    except ValueError:
        raise CarrierError("unparseable", "an event without a readable EventDate") from None
    naive = datetime.combine(day, _clock(node.findtext("EventTime") or "") or time(0))
    offset = _OFFSET.match((node.findtext("GMTOffset") or "").strip())
    if offset:
        minutes = int(offset[2]) * 60 + int(offset[3])
        moment = naive.replace(
            tzinfo=timezone(timedelta(minutes=-minutes if offset[1] == "-" else minutes))
        )
        occurred_at, tz = moment, zone_label(moment)
    else:
        occurred_at, tz = localise(naive, location, _HOME_ZONE)
    code = (node.findtext("EventCode") or "").strip()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=_plain(node.findtext("Event")),
        location=location,
    )


def _xml_estimate(info: ElementTree.Element) -> datetime | None:
    destination = _location(
        info.findtext("DestinationCity"),
        info.findtext("DestinationState"),
        info.findtext("DestinationZip"),
        None,
    )
    for day_tag, clock_tag in (
        ("ExpectedDeliveryDate", "ExpectedDeliveryTime"),
        ("PredictedDeliveryDate", "PredictedDeliveryTime"),
    ):
        when = _day_and_clock(info.findtext(day_tag), info.findtext(clock_tag))
        if when is not None:
            return localise(when, destination, _HOME_ZONE)[0]
    return None


def _xml_error(node: ElementTree.Element) -> CarrierError:
    number = (node.findtext("Number") or "").strip()
    message = " ".join((node.findtext("Description") or "USPS error").split())
    if number in _XML_NOT_FOUND:
        kind = "not_found"
    elif number.upper() in _XML_UNAUTHORIZED:
        kind = "unauthorized"
    else:
        kind = _error_kind("", message)
    return CarrierError(kind, f"{message} ({number})" if number else message)
