"""DHL Express, MyDHL API `GET /shipments/{shipmentTrackingNumber}/tracking`.

Body: `{"shipments": [{"shipmentTrackingNumber", "shipperDetails", "receiverDetails",
"estimatedDeliveryDate", "events": [{"date", "time", "GMTOffset", "typeCode", "description",
"serviceArea": [{"code", "description"}], "signedBy"}], "pieces": [...]}]}`. Errors are
problem JSON (`{"status": "404", "title", "detail"}`).

`typeCode` is the Express checkpoint code (PU, PL, DF, AF, AR, WC, OK, ...). `date` and
`time` are the local wall clock at the service area: the area's zone comes from the
shipper's or receiver's service area when the codes match, from the area's description
("LEIPZIG - GERMANY", "CINCINNATI HUB,OH-USA") or from a few well-known hubs. A non-zero
`GMTOffset` is the carrier's own statement and is used as given; "+00:00" is also what the
API sends when it has no offset, so a known place's zone wins over it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.parsers.dhl_universal import (
    HOME_ZONE,
    estimate,
    load_object,
    place_country,
    raise_problem,
    text,
)
from wismo.ingestion.carriers.zones import localise, parse_instant, zone_for

NAME = "dhl_express"
DISPLAY_NAME = "DHL Express (MyDHL API)"
ALIASES = ("mydhl", "dhl")

# Express hubs whose service-area code alone places them (country, region).
_HUBS = {
    "LEJ": ("DE", None),
    "CVG": ("US", "KY"),
    "EMA": ("GB", None),
    "LHR": ("GB", None),
    "BRU": ("BE", None),
    "CDG": ("FR", None),
    "AMS": ("NL", None),
    "MXP": ("IT", None),
    "MAD": ("ES", None),
    "HKG": ("HK", None),
    "SIN": ("SG", None),
    "PVG": ("CN", None),
    "NRT": ("JP", None),
    "SYD": ("AU", "NSW"),
    "DXB": ("AE", None),
    "BAH": ("AE", None),
    "JFK": ("US", "NY"),
    "ORD": ("US", "IL"),
    "LAX": ("US", "CA"),
    "MIA": ("US", "FL"),
    "YYZ": ("CA", "ON"),
}


def parse(body: bytes) -> list[Tracking]:
    data = load_object(body, "MyDHL tracking")
    if "shipments" not in data:
        raise_problem(data, "DHL Express")
        raise CarrierError("unparseable", "no 'shipments' in the MyDHL response")
    return [_tracking(s) for s in data["shipments"] or []]


def _tracking(shipment: dict[str, Any]) -> Tracking:
    shipper = _party(shipment.get("shipperDetails"))
    receiver = _party(shipment.get("receiverDetails"))
    areas = {**shipper[1], **receiver[1]}
    fallback = _zone_key(receiver[0]) or _zone_key(shipper[0]) or HOME_ZONE
    events = shipment.get("events") or _piece_events(shipment)
    eta_text = text(shipment.get("estimatedDeliveryDate")) or text(
        shipment.get("estimatedTimeOfDelivery")
    )
    return Tracking(
        carrier=NAME,
        tracking_number=str(shipment.get("shipmentTrackingNumber") or ""),
        scans=tuple(_scan(e, areas, fallback) for e in events if e.get("date")),
        estimated_delivery_at=estimate(eta_text, receiver[0], fallback),
        service=text(shipment.get("description")) or text(shipment.get("productCode")),
    )


def _piece_events(shipment: dict[str, Any]) -> list[dict[str, Any]]:
    """Events of the pieces, once each, when the shipment lists none of its own."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for piece in shipment.get("pieces") or []:
        for event in piece.get("events") or []:
            key = (str(event.get("date")), str(event.get("time")), str(event.get("typeCode")))
            seen.setdefault(key, event)
    return list(seen.values())


def _party(details: Any) -> tuple[Location | None, dict[str, Location]]:
    """The party's address as a Location, and its service-area codes mapped to it."""
    if not isinstance(details, dict):
        return None, {}
    address = details.get("postalAddress") or {}
    country = text(address.get("countryCode"))
    location = Location(
        city=text(address.get("cityName")),
        region=text(address.get("provinceCode")) if country in ("US", "CA", "AU") else None,
        postal_code=text(address.get("postalCode")),
        country=country.upper() if country else None,
    )
    areas = {
        code.upper(): location
        for area in details.get("serviceArea") or []
        if isinstance(area, dict) and (code := text(area.get("code")))
    }
    return (location if location.country else None), areas


def _scan(event: dict[str, Any], areas: dict[str, Location], fallback: str) -> Scan:
    location = _area_location(event.get("serviceArea"), areas)
    occurred_at, tz = _when(event, location, fallback)
    code = text(event.get("typeCode"))
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code,
        description=text(event.get("description")),
        location=location,
    )


def _area_location(service_area: Any, areas: dict[str, Location]) -> Location | None:
    area = service_area[0] if isinstance(service_area, list) and service_area else service_area
    if not isinstance(area, dict):
        return None
    code = (text(area.get("code")) or "").upper()
    name = text(area.get("description"))
    known = areas.get(code)
    if known is not None:
        return Location(city=name or known.city, region=known.region, country=known.country)
    country, region, city = place_country(name) if name else (None, None, "")
    if country is None and code in _HUBS:
        country, region = _HUBS[code]
    location = Location(city=city or name, region=region, country=country)
    return location if location.describe() else None


def _when(
    event: dict[str, Any], location: Location | None, fallback: str
) -> tuple[datetime, str | None]:
    stamp = f"{str(event['date']).strip()}T{str(event.get('time') or '00:00:00').strip()}"
    offset = (text(event.get("GMTOffset")) or "").replace("Z", "+00:00")
    place_zone = _zone_key(location)
    if offset and (place_zone is None or offset.lstrip("+-") not in ("00:00", "0000")):
        return parse_instant(stamp + offset)
    naive = datetime.fromisoformat(stamp)
    return localise(naive, location, fallback)


def _zone_key(location: Location | None) -> str | None:
    zone = zone_for(location) if location is not None and location.country else None
    return zone.key if zone else None
