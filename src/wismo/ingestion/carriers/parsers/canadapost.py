"""Canada Post Tracking web service, "tracking-detail" XML (namespace .../ws/track-v2).

`<tracking-detail>` holds `pin`, `expected-delivery-date` (or `changed-expected-date`) and
`significant-events/occurrence` with `event-identifier` (numeric, often zero padded: "0174"),
`event-date`, `event-time`, `event-time-zone` (EST, EDT, ...), `event-description`,
`event-site` and `event-province`. Errors come as `<messages><message><code>` (004 "No PIN
history"; E002 / AA0xx authentication; "Server" + "Rejected by SLM Monitor" is the throttle).

Times are the scan's wall clock with a zone abbreviation: the abbreviation gives the offset
(EST -05:00, NDT -02:30 ...). Without one the province (or the country named in the site,
for scans abroad) gives the zone; Toronto is the last resort, never UTC.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, time
from zoneinfo import ZoneInfo

from wismo.domain.model import Location, zone_label
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import fixed_offset, localise

NAME = "canadapost"
DISPLAY_NAME = "Canada Post"
ALIASES = ("canada_post", "canadapost_ca", "postescanada")

_HOME_ZONE = "America/Toronto"

# North American zone abbreviations Canada Post prints, as minutes from UTC.
_ABBREVIATIONS = {
    "NST": -210,
    "NDT": -150,
    "AST": -240,
    "ADT": -180,
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
}

# Countries named in `event-site` of scans abroad ("ILTLVA,Israel"), or given as the
# `event-time-zone` itself ("ISRAEL"): name -> ISO 3166 code understood by `zones`.
_COUNTRIES = {
    "CANADA": "CA",
    "UNITED STATES": "US",
    "USA": "US",
    "UNITED KINGDOM": "GB",
    "GREAT BRITAIN": "GB",
    "FRANCE": "FR",
    "GERMANY": "DE",
    "ISRAEL": "IL",
    "AUSTRALIA": "AU",
    "NEW ZEALAND": "NZ",
    "JAPAN": "JP",
    "CHINA": "CN",
    "HONG KONG": "HK",
    "INDIA": "IN",
    "MEXICO": "MX",
    "NETHERLANDS": "NL",
    "BELGIUM": "BE",
    "SPAIN": "ES",
    "ITALY": "IT",
    "IRELAND": "IE",
    "SWITZERLAND": "CH",
    "SWEDEN": "SE",
    "NORWAY": "NO",
    "DENMARK": "DK",
    "POLAND": "PL",
    "SINGAPORE": "SG",
    "SOUTH KOREA": "KR",
    "KOREA": "KR",
    "BRAZIL": "BR",
}
_PROVINCES = frozenset(
    ["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"]
)

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_NOT_FOUND = re.compile(r"^0*4$|no pin history|not found|invalid (pin|dnc)", re.I)  # 004
_AUTH = re.compile(r"^(E002|AA\d{3}|E0?01)$|authenticat|unauthori[sz]ed|not authori", re.I)
_THROTTLE = re.compile(r"SLM Monitor|throttl|too many requests|rate limit", re.I)


def parse(body: bytes) -> list[Tracking]:
    root = _read_xml(body)
    details = [el for el in root.iter() if _name(el) == "tracking-detail"]
    if not details:
        _raise_messages(root)
        raise CarrierError("unparseable", "no <tracking-detail> in the response")
    return [_tracking(detail) for detail in details]


def _read_xml(body: bytes) -> ET.Element:
    # No DTDs at all: a DOCTYPE or ENTITY declaration is how entity expansion starts.
    if _DECLARATION.search(body):
        raise CarrierError("unparseable", "XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        # Safe here: declarations are refused above, and ElementTree fetches nothing.
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise CarrierError("unparseable", f"not XML ({exc})") from None


def _name(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _text(el: ET.Element, child: str) -> str:
    for sub in el:
        if _name(sub) == child:
            return (sub.text or "").strip()
    return ""


def _tracking(detail: ET.Element) -> Tracking:
    pin = _text(detail, "pin")
    scans = tuple(
        _scan(occurrence)
        for occurrence in detail.iter()
        if _name(occurrence) == "occurrence" and _text(occurrence, "event-date")
    )
    expected = _text(detail, "changed-expected-date") or _text(detail, "expected-delivery-date")
    extra = {"service": _text(detail, "service-name")} if _text(detail, "service-name") else {}
    return Tracking(
        carrier=NAME,
        tracking_number=pin,
        scans=scans,
        estimated_delivery_at=_expected_at(expected),
        service=_text(detail, "service-name") or None,
        extra=extra,
    )


def _expected_at(text: str) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text[:10], "%Y-%m-%d").date()  # noqa: DTZ007 - zone below
    except ValueError:
        return None
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(_HOME_ZONE))


def _scan(occurrence: ET.Element) -> Scan:
    code = _text(occurrence, "event-identifier")
    location = _location(_text(occurrence, "event-site"), _text(occurrence, "event-province"))
    occurred_at, tz = _instant(
        _text(occurrence, "event-date"),
        _text(occurrence, "event-time") or "00:00:00",
        _text(occurrence, "event-time-zone"),
        location,
    )
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=_text(occurrence, "event-description") or None,
        location=location if location.describe() else None,
    )


def _location(site: str, province: str) -> Location:
    province = province.upper()
    if province in _PROVINCES:
        city = " ".join(word.capitalize() for word in site.split())
        return Location(city=city or None, region=province, country="CA")
    # Abroad: "ILTLVA,Israel" or "02650,Israel"; the province field is then empty or foreign.
    place, _, country_name = site.rpartition(",")
    country = _COUNTRIES.get(country_name.strip().upper())
    if country:
        return Location(city=place.strip() or None, region=province or None, country=country)
    return Location(city=site or None, region=province or None)


def _instant(day: str, clock: str, zone: str, location: Location) -> tuple[datetime, str | None]:
    naive = datetime.fromisoformat(f"{day.strip()}T{clock.strip()}")
    offset = _ABBREVIATIONS.get(zone.strip().upper())
    if offset is not None:
        moment = naive.replace(tzinfo=fixed_offset(offset))
        return moment, zone_label(moment)
    country = _COUNTRIES.get(zone.strip().upper())
    if country and not location.country:
        location = Location(city=location.city, country=country)
    return localise(naive, location, _HOME_ZONE)


def _raise_messages(root: ET.Element) -> None:
    for message in root.iter():
        if _name(message) != "message":
            continue
        code = _text(message, "code")
        description = _text(message, "description") or code
        text = f"{code}: {description}" if code else description
        if _NOT_FOUND.search(code) or _NOT_FOUND.search(description):
            raise CarrierError("not_found", text)
        if _AUTH.search(code) or _AUTH.search(description):
            raise CarrierError("unauthorized", text)
        if _THROTTLE.search(description):
            raise CarrierError("rate_limited", text)
        raise CarrierError("carrier_error", text)
