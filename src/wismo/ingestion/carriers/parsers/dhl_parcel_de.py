"""DHL Parcel Germany (DHL Paket) tracking, in either of the two shapes DHL serves it.

1. The Parcel DE tracking XML (`/parcel/de/tracking/v0/shipments?xml=...`, requests
   `d-get-piece-detail` or `get-status-for-public-user`): nested `<data name="...">`
   elements, `piece-shipment-list` or `piece-status-public-list` with a `code` attribute
   (0 = found), then `piece-shipment` / `piece-status-public` with `piece-event` (or
   `pieceevent`) children carrying `event-timestamp` ("18.03.2016 10:02", German local time),
   `event-status`/`event-text`, `ice`, `ric`, `standard-event-code`, `event-location`,
   `event-country`.
2. The DHL Shipment Tracking - Unified API JSON for service parcel-de (what DHL's documented
   Parcel DE sample actually is): parsed as in `dhl_universal`, with this carrier's table and
   Germany as the home zone.

Codes are looked up as ICE_RIC_SEC, ICE_RIC, SEC_<standard event code>, ICE.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.parsers.dhl_universal import (
    country_code,
    local_naive,
    parcel_code_keys,
    parse_unified,
    text,
)
from wismo.ingestion.carriers.zones import localise, parse_instant

NAME = "dhl_parcel_de"
DISPLAY_NAME = "DHL Paket (Parcel Germany)"
ALIASES = ("dhl_paket", "dhl_de")

_HOME_ZONE = "Europe/Berlin"
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_SHIPMENTS = ("piece-shipment", "piece-status-public")
_EVENTS = ("piece-event", "pieceevent")
_FORMATS = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y, %H:%M")
# Result codes of the `*-list` element: 0 found; the rest as DHL lists them.
_LIST_ERRORS = {
    "5": "unauthorized",  # log-in failed
    "6": "unauthorized",
    "100": "not_found",  # no data found
    "200": "not_found",  # no electronic data for the piece
}


def parse(body: bytes) -> list[Tracking]:
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        _raise_html(body)
    if head.startswith(b"<"):
        return _parse_xml(body)
    return parse_unified(body, NAME, _HOME_ZONE)


def _raise_html(body: bytes) -> None:
    """A gateway's HTML error page (401, 404, 429) instead of tracking data."""
    page = body.decode("utf-8", "replace")
    title = re.search(r"<title>(.*?)</title>", page, re.IGNORECASE | re.DOTALL)
    message = " ".join((title[1] if title else page[:120]).split())
    if re.search(r"\b(401|403)\b|unauthori[sz]ed|forbidden", page, re.IGNORECASE):
        raise CarrierError("unauthorized", message)
    if re.search(r"\b429\b|too many requests", page, re.IGNORECASE):
        raise CarrierError("rate_limited", message)
    if re.search(r"\b404\b|not found", page, re.IGNORECASE):
        raise CarrierError("not_found", message)
    raise CarrierError("carrier_error", message or "DHL answered with an HTML page")


def _read_xml(body: bytes) -> ET.Element:
    # No DTDs at all: a DOCTYPE or ENTITY declaration is how entity expansion starts.
    if _DECLARATION.search(body):
        raise CarrierError("unparseable", "XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        # Safe here: declarations are refused above, and ElementTree fetches nothing.
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise CarrierError("unparseable", f"not a DHL Parcel DE response: {exc}") from None


def _parse_xml(body: bytes) -> list[Tracking]:
    root = _read_xml(body)
    if root.tag != "data":
        raise CarrierError("unparseable", f"not a DHL Parcel DE response (<{root.tag}>)")
    elements = [root, *root.iter("data")]
    for element in elements:
        code = (element.get("code") or "").strip()
        if code and code != "0":
            message = element.get("error") or f"DHL Parcel DE result code {code}"
            raise CarrierError(_LIST_ERRORS.get(code, "carrier_error"), message)
    found: list[Tracking] = []
    for element in elements:
        if element.get("name") not in _SHIPMENTS:
            continue
        if (element.get("error-status") or "0").strip() not in ("", "0"):
            continue
        events = [e for e in element.iter("data") if e.get("name") in _EVENTS]
        scans = [_scan(e) for e in events] if events else _summary_scan(element)
        found.append(
            Tracking(
                carrier=NAME,
                tracking_number=element.get("piece-code")
                or element.get("searched-piece-code")
                or element.get("piece-identifier")
                or "",
                scans=tuple(scans),
                service=element.get("product-name") or None,
            )
        )
    return found


def _summary_scan(piece: ET.Element) -> list[Scan]:
    """The piece's own latest status, when DHL sends no event list (`d-get-piece`)."""
    stamp = piece.get("status-timestamp") or piece.get("last-event-timestamp")
    if not stamp or not (piece.get("status") or piece.get("ice")):
        return []
    return [
        _make_scan(
            stamp,
            piece.get("status") or piece.get("short-status"),
            ice=piece.get("ice"),
            ric=piece.get("ric"),
            sec=piece.get("standard-event-code"),
            location=_location(piece.get("event-location"), piece.get("event-country")),
        )
    ]


def _scan(event: ET.Element) -> Scan:
    return _make_scan(
        event.get("event-timestamp") or "",
        event.get("event-text") or event.get("event-status") or event.get("event-short-status"),
        ice=event.get("ice"),
        ric=event.get("ric"),
        sec=event.get("standard-event-code"),
        location=_location(event.get("event-location"), event.get("event-country")),
    )


def _make_scan(
    stamp: str,
    description: str | None,
    *,
    ice: str | None,
    ric: str | None,
    sec: str | None,
    location: Location | None,
) -> Scan:
    occurred_at, tz = _when(stamp, location)
    codes = parcel_code_keys(ice or "", ric or "", sec or "")
    raw = "_".join(p for p in (ice, ric, sec) if p) or None
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=codes,
        raw_code=raw,
        description=text(description),
        location=location,
    )


def _location(place: str | None, country: str | None) -> Location | None:
    location = Location(city=text(place), country=country_code(country))
    return location if location.describe() else None


def _when(stamp: str, location: Location | None) -> tuple[datetime, str | None]:
    naive = local_naive(stamp, _FORMATS)
    if naive is not None:
        return localise(naive, location, _HOME_ZONE)
    return parse_instant(stamp, location, _HOME_ZONE)
