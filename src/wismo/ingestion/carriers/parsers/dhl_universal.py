"""DHL Shipment Tracking - Unified API (`GET /track/shipments?trackingNumber=`).

Body: `{"shipments": [{"id", "service", "origin", "destination", "status", "events",
"estimatedTimeOfDelivery"}]}`; a documented sample also wraps it as
`{"trackingRequest", "trackingResponse": {"shipments"}, "error"}`. Errors are RFC 7807
problem JSON (`{"status": 404, "title", "detail"}`).

Each event has a coarse `statusCode` (pre-transit, transit, delivered, failure, unknown),
`status`/`description` texts and, depending on the DHL service, a specific code: Express
puts its two-letter checkpoint code (e.g. "DF") in `status`; Parcel Germany puts
ICE_RIC_standard-event-code (e.g. "SRTED_NRQRD_PO") in `statusDetailed`. Specific codes are
tried first; the coarse `statusCode` only decides when the description is unreadable or
contradicts it (a "transit" event is never "delivered" because its text says so).

Timestamps may lack an offset: they are local to the event's location (its country, or the
country named in `addressLocality`, e.g. "LEIPZIG - GERMANY"), else the service's home zone,
else the destination's.

Shared with `dhl_express` and `dhl_parcel_de`: problem-JSON errors, country names, the
Parcel Germany code keys.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from wismo.domain.milestones import Milestone
from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.classifier import classify
from wismo.ingestion.carriers.mapping import MappingError
from wismo.ingestion.carriers.zones import parse_instant, zone_for

NAME = "dhl_universal"
DISPLAY_NAME = "DHL Shipment Tracking (Unified API)"
ALIASES = ("dhl_unified",)

HOME_ZONE = "Europe/Berlin"  # DHL Group's home, when nothing places a local time

# Home zones of the national DHL parcel services the Unified API reports.
_SERVICE_ZONES = {
    "parcel-de": "Europe/Berlin",
    "post-de": "Europe/Berlin",
    "parcel-nl": "Europe/Amsterdam",
    "parcel-pl": "Europe/Warsaw",
    "parcel-uk": "Europe/London",
    "parcel-be": "Europe/Brussels",
    "parcel-at": "Europe/Vienna",
    "parcel-ch": "Europe/Zurich",
    "parcel-es": "Europe/Madrid",
    "parcel-it": "Europe/Rome",
    "parcel-fr": "Europe/Paris",
}

# What each coarse statusCode allows the text to say. Outside it, the code decides.
_COARSE_FITS: dict[str, frozenset[Milestone]] = {
    "pre-transit": frozenset({Milestone.LABEL_CREATED, Milestone.CANCELLED}),
    "transit": frozenset(
        {
            Milestone.PICKED_UP,
            Milestone.IN_TRANSIT,
            Milestone.OUT_FOR_DELIVERY,
            Milestone.AVAILABLE_FOR_PICKUP,
            Milestone.DELIVERY_ATTEMPT_FAILED,
            Milestone.EXCEPTION,
            Milestone.RETURNING_TO_SENDER,
            Milestone.EXPIRED,
        }
    ),
    "delivered": frozenset({Milestone.DELIVERED, Milestone.RETURNED_TO_SENDER}),
    "failure": frozenset(
        {
            Milestone.EXCEPTION,
            Milestone.DELIVERY_ATTEMPT_FAILED,
            Milestone.RETURNING_TO_SENDER,
            Milestone.RETURNED_TO_SENDER,
            Milestone.CANCELLED,
            Milestone.EXPIRED,
        }
    ),
}

_EXPRESS_CODE = re.compile(r"[A-Z]{2}")
_DETAILED_CODE = re.compile(r"[A-Z0-9]+(?:[_:][A-Z0-9]+)*")
_TAG = re.compile(r"<[^>]+>")

# Country names as carriers write them (English, German, French; ISO alpha-3), upper case.
_COUNTRY_NAMES = {
    **dict.fromkeys(("USA", "UNITED STATES", "UNITED STATES OF AMERICA", "US"), "US"),
    **dict.fromkeys(("UK", "UNITED KINGDOM", "GREAT BRITAIN", "GBR", "GROSSBRITANNIEN"), "GB"),
    **dict.fromkeys(("GERMANY", "DEUTSCHLAND", "ALLEMAGNE", "DEU"), "DE"),
    **dict.fromkeys(("FRANCE", "FRANKREICH", "FRA"), "FR"),
    **dict.fromkeys(("NETHERLANDS", "THE NETHERLANDS", "NIEDERLANDE", "PAYS-BAS", "NLD"), "NL"),
    **dict.fromkeys(("BELGIUM", "BELGIEN", "BELGIQUE", "BEL"), "BE"),
    **dict.fromkeys(("LUXEMBOURG", "LUXEMBURG", "LUX"), "LU"),
    **dict.fromkeys(("AUSTRIA", "OESTERREICH", "ÖSTERREICH", "AUTRICHE", "AUT"), "AT"),
    **dict.fromkeys(("SWITZERLAND", "SCHWEIZ", "SUISSE", "CHE"), "CH"),
    **dict.fromkeys(("SPAIN", "SPANIEN", "ESPAGNE", "ESP"), "ES"),
    **dict.fromkeys(("PORTUGAL", "PRT"), "PT"),
    **dict.fromkeys(("ITALY", "ITALIEN", "ITALIE", "ITA"), "IT"),
    **dict.fromkeys(("IRELAND", "IRLAND", "IRLANDE", "IRL"), "IE"),
    **dict.fromkeys(("POLAND", "POLEN", "POLOGNE", "POL"), "PL"),
    **dict.fromkeys(("CZECH REPUBLIC", "CZECHIA", "TSCHECHIEN", "CZE"), "CZ"),
    **dict.fromkeys(("SLOVAKIA", "SLOWAKEI", "SVK"), "SK"),
    **dict.fromkeys(("HUNGARY", "UNGARN", "HUN"), "HU"),
    **dict.fromkeys(("DENMARK", "DAENEMARK", "DÄNEMARK", "DNK"), "DK"),
    **dict.fromkeys(("SWEDEN", "SCHWEDEN", "SWE"), "SE"),
    **dict.fromkeys(("NORWAY", "NORWEGEN", "NOR"), "NO"),
    **dict.fromkeys(("FINLAND", "FINNLAND", "FIN"), "FI"),
    **dict.fromkeys(("GREECE", "GRIECHENLAND", "GRC"), "GR"),
    **dict.fromkeys(("ROMANIA", "RUMAENIEN", "RUMÄNIEN", "ROU"), "RO"),
    **dict.fromkeys(("BULGARIA", "BULGARIEN", "BGR"), "BG"),
    **dict.fromkeys(("CROATIA", "KROATIEN", "HRV"), "HR"),
    **dict.fromkeys(("SLOVENIA", "SLOWENIEN", "SVN"), "SI"),
    **dict.fromkeys(("TURKEY", "TURKIYE", "TÜRKEI", "TUR"), "TR"),
    **dict.fromkeys(("CANADA", "KANADA", "CAN"), "CA"),
    **dict.fromkeys(("MEXICO", "MEXIKO", "MEX"), "MX"),
    **dict.fromkeys(("BRAZIL", "BRASILIEN", "BRA"), "BR"),
    **dict.fromkeys(("CHINA", "CHINA MAINLAND", "PEOPLES REPUBLIC OF CHINA", "CHN"), "CN"),
    **dict.fromkeys(("HONG KONG", "HONG KONG SAR CHINA", "HONGKONG", "HKG"), "HK"),
    **dict.fromkeys(("JAPAN", "JPN"), "JP"),
    **dict.fromkeys(("SOUTH KOREA", "KOREA, REPUBLIC OF", "KOREA", "KOR"), "KR"),
    **dict.fromkeys(("SINGAPORE", "SINGAPUR", "SGP"), "SG"),
    **dict.fromkeys(("INDIA", "INDIEN", "IND"), "IN"),
    **dict.fromkeys(("AUSTRALIA", "AUSTRALIEN", "AUS"), "AU"),
    **dict.fromkeys(("NEW ZEALAND", "NEUSEELAND", "NZL"), "NZ"),
    **dict.fromkeys(("UNITED ARAB EMIRATES", "UAE", "ARE"), "AE"),
    **dict.fromkeys(("SOUTH AFRICA", "SUEDAFRIKA", "ZAF"), "ZA"),
    **dict.fromkeys(("ISRAEL", "ISR"), "IL"),
    **dict.fromkeys(("TAIWAN", "TWN"), "TW"),
    **dict.fromkeys(("THAILAND", "THA"), "TH"),
    **dict.fromkeys(("MALAYSIA", "MYS"), "MY"),
    **dict.fromkeys(("VIETNAM", "VIET NAM", "VNM"), "VN"),
    **dict.fromkeys(("LITHUANIA", "LITAUEN", "LTU"), "LT"),
    **dict.fromkeys(("LATVIA", "LETTLAND", "LVA"), "LV"),
    **dict.fromkeys(("ESTONIA", "ESTLAND", "EST"), "EE"),
}
# "CITY - COUNTRY", "CITY,ST-COUNTRY" (Express), "City, NL", "Bremen (DE)".
_PLACE = re.compile(
    r"(?:,\s*(?P<region>[A-Z]{2})\s*-\s*(?P<after_region>[^-,()]+)$)"
    r"|(?:\s-\s*(?P<after_dash>[^-,()]+)$)"
    r"|(?:\((?P<paren>[A-Za-z]{2})\)\s*$)"
    r"|(?:,\s*(?P<after_comma>[^,()]+)$)"
)


def parse(body: bytes) -> list[Tracking]:
    return parse_unified(body, NAME)


def load_object(body: bytes, label: str) -> dict[str, Any]:
    """The body as a JSON object, or CarrierError("unparseable")."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not a {label} response: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", f"not a {label} response: expected a JSON object")
    return data


def raise_problem(data: dict[str, Any], label: str) -> None:
    """Raise the CarrierError an RFC 7807 problem body (or a gateway error) stands for."""
    nested = data.get("error")
    problem: dict[str, Any] = nested if isinstance(nested, dict) else data
    raw_status = problem.get("status") or problem.get("statusCode") or ""
    status = str(raw_status).strip() if isinstance(raw_status, (int, str)) else ""
    parts = [t for key in ("title", "detail", "message") if (t := text(problem.get(key)))]
    message = "; ".join(dict.fromkeys(parts))
    if status in ("401", "403"):
        raise CarrierError("unauthorized", message or f"{label} refused the credentials")
    if status == "404":
        raise CarrierError("not_found", message or "shipment not found")
    if status == "429":
        raise CarrierError("rate_limited", message or "too many requests")
    if status:
        raise CarrierError("carrier_error", message or f"{label} error {status}")


def parse_unified(body: bytes, carrier: str, home_zone: str | None = None) -> list[Tracking]:
    """Every shipment in a Unified API body, as `carrier`'s trackings."""
    data = load_object(body, "DHL Shipment Tracking")
    response = data.get("trackingResponse")
    holder = response if isinstance(response, dict) and "shipments" in response else data
    if "shipments" not in holder:
        raise_problem(data, "DHL")
        raise CarrierError("unparseable", "no 'shipments' in the DHL response")
    shipments = holder["shipments"] or []
    if not shipments and isinstance(data.get("error"), dict):
        raise_problem(data, "DHL")
    return [_tracking(s, carrier, home_zone) for s in shipments]


def _tracking(shipment: dict[str, Any], carrier: str, home_zone: str | None) -> Tracking:
    service = text(shipment.get("service"))
    destination = address_location(shipment.get("destination"))
    origin = address_location(shipment.get("origin"))
    fallback = (
        home_zone
        or _SERVICE_ZONES.get(service or "")
        or _zone_name(destination)
        or _zone_name(origin)
        or HOME_ZONE
    )
    events = shipment.get("events") or []
    if not events and isinstance(shipment.get("status"), dict):
        events = [shipment["status"]]  # a body with the latest status only
    eta_text = text(shipment.get("estimatedTimeOfDelivery")) or text(
        (shipment.get("estimatedDeliveryTimeFrame") or {}).get("estimatedFrom")
    )
    eta_zone = _zone_name(destination) or fallback
    return Tracking(
        carrier=carrier,
        tracking_number=str(shipment.get("id") or ""),
        scans=tuple(unified_scan(e, fallback, service) for e in events if e.get("timestamp")),
        estimated_delivery_at=estimate(eta_text, destination, eta_zone),
        service=service,
    )


def unified_scan(event: dict[str, Any], fallback_zone: str, service: str | None = None) -> Scan:
    """One Unified API event. A two-letter `status` is an Express checkpoint code, or for a
    national parcel service its standard event code."""
    location = address_location(event.get("location"))
    occurred_at, tz = parse_instant(str(event["timestamp"]), location, fallback_zone)
    status_text = text(event.get("status")) or ""
    description = text(event.get("description")) or (
        None if _EXPRESS_CODE.fullmatch(status_text) else status_text or None
    )
    specific: list[str] = []
    detailed = (text(event.get("statusDetailed")) or "").upper()
    if _DETAILED_CODE.fullmatch(detailed) and ("_" in detailed or ":" in detailed):
        specific.extend(parcel_code_keys(*re.split(r"[_:]", detailed)[:3]))
    for key in ("typeCode", "status"):
        value = text(event.get(key)) or ""
        if _EXPRESS_CODE.fullmatch(value):
            express = service in (None, "express")
            specific.append(value if express else f"SEC_{value}")
            break
    coarse = (text(event.get("statusCode")) or "").lower()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=with_coarse(tuple(specific), coarse, description),
        raw_code=(specific[0] if specific else None) or coarse or None,
        description=description,
        location=location,
    )


def with_coarse(specific: tuple[str, ...], coarse: str, description: str | None) -> tuple[str, ...]:
    """`specific`, then the coarse status code unless the description says more, within it."""
    fits = _COARSE_FITS.get(coarse)
    if fits is None:
        return specific
    try:
        guess = classify(description)
    except MappingError:  # the message rules do not load: the code has to decide
        guess = None
    if guess is None or guess.milestone not in fits:
        return (*specific, coarse)
    return specific


def parcel_code_keys(ice: str, ric: str = "", sec: str = "") -> tuple[str, ...]:
    """Table keys of a Parcel Germany event, most specific first.

    ICE (international coded event, e.g. SRTED) + RIC (reason, e.g. NRQRD) + standard event
    code (e.g. PO): "SRTED_NRQRD_PO", "SRTED_NRQRD", "SEC_PO", "SRTED". SRTED_NRQRD is both
    "prepared for onward transport" (NB) and "loaded onto the delivery vehicle" (PO), so the
    standard event code outranks a bare ICE.
    """
    ice, ric, sec = ice.strip().upper(), ric.strip().upper(), sec.strip().upper()
    keys: list[str] = []
    if ice and ric and sec:
        keys.append(f"{ice}_{ric}_{sec}")
    if ice and ric:
        keys.append(f"{ice}_{ric}")
    if sec:
        keys.append(f"SEC_{sec}")
    if ice:
        keys.append(ice)
    return tuple(keys)


def address_location(holder: Any) -> Location | None:
    """A Location from `{"address": {"countryCode", "postalCode", "addressLocality"}}`."""
    if not isinstance(holder, dict):
        return None
    nested = holder.get("address")
    address: dict[str, Any] = nested if isinstance(nested, dict) else holder
    locality = text(address.get("addressLocality"))
    country = text(address.get("countryCode"))
    region = None
    if not country and locality:
        country, region, rest = place_country(locality)
        locality = rest or locality
    location = Location(
        city=locality,
        region=region,
        postal_code=text(address.get("postalCode")),
        country=country.upper() if country else None,
    )
    return location if location.describe() or location.postal_code else None


def place_country(place: str) -> tuple[str | None, str | None, str]:
    """(ISO country, region, the rest) of a place text such as "LEIPZIG - GERMANY"."""
    value = place.strip()
    name = country_code(value)
    if name:
        return name, None, ""
    match = _PLACE.search(value)
    if not match:
        return None, None, value
    found = next(
        g
        for g in (match["after_region"], match["after_dash"], match["paren"], match["after_comma"])
        if g
    )
    code = country_code(found)
    if code is None:
        return None, None, value
    return code, match["region"], value[: match.start()].strip(" ,-")


def country_code(name: str | None) -> str | None:
    """ISO alpha-2 code of a country name or code, if known."""
    if not name:
        return None
    value = " ".join(name.replace(".", " ").split()).upper()
    if value in _COUNTRY_NAMES:
        return _COUNTRY_NAMES[value]
    if len(value) == 2 and value.isalpha() and zone_for(Location(country=value)):
        return value
    return None


def text(value: Any) -> str | None:
    """A trimmed string without markup, or None."""
    if value is None or isinstance(value, (dict, list)):
        return None
    cleaned = " ".join(_TAG.sub("", str(value)).split())
    return cleaned or None


def _zone_name(location: Location | None) -> str | None:
    zone = zone_for(location) if location is not None and location.country else None
    return zone.key if zone else None


def estimate(value: str | None, place: Location | None, zone: str) -> datetime | None:
    """A carrier's delivery estimate, or None when absent or unreadable (never fatal)."""
    if not value:
        return None
    try:
        return parse_instant(value, place, zone)[0]
    except ValueError:
        return None


def local_naive(value: str, formats: tuple[str, ...]) -> datetime | None:
    """A naive datetime read with the first matching format, or None."""
    for fmt in formats:
        try:
            return datetime.strptime(value.strip(), fmt)  # noqa: DTZ007 - zone set by caller
        except ValueError:
            continue
    return None
