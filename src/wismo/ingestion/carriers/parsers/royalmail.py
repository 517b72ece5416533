"""Royal Mail Tracking API v2 (`/mailpieces/v2/{id}/events`, `/summary`).

Events: `{"mailPieces": {"mailPieceId", "summary", "estimatedDelivery", "events": [
{"eventCode": "EVKSP", "eventName", "eventDateTime": "...+01:00", "locationName"}]}}`.
Summary: `{"mailPieces": [{"mailPieceId", "summary": {"lastEventCode", ...}, "error"?}]}`, so
a summary-only piece becomes one scan from its last event. Errors: `{"httpCode": "404",
"httpMessage", "moreInformation", "errors": [{"errorCode": "E1142", "errorDescription"}]}`.
Event times carry their offset; the UK zone covers any that do not.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "royalmail"
DISPLAY_NAME = "Royal Mail"
ALIASES = ("royal_mail", "royalmail_uk")

_HOME_ZONE = "Europe/London"
# Barcode not recognised / not valid / not trackable: the piece is unknown to Royal Mail.
_NOT_FOUND_CODES = frozenset({"E1142", "E1143", "E1144", "E1145", "E1146", "E1147"})
_UNAUTHORIZED_CODES = frozenset({"E0010", "E0011", "E0012"})


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    responses = data if isinstance(data, list) else [data]
    pieces: list[dict[str, Any]] = []
    for response in responses:
        if not isinstance(response, dict):
            raise CarrierError("unparseable", "expected JSON objects")
        found = response.get("mailPieces")
        if found is None:
            if response.get("httpCode") or response.get("errors") or response.get("error"):
                if len(responses) == 1:
                    _raise_error(response)
                continue
            if "mailPieceId" in response or "events" in response:
                pieces.append(response)  # a bare piece, without the envelope
                continue
            raise CarrierError("unparseable", "no 'mailPieces' in the response")
        pieces.extend(found if isinstance(found, list) else [found])
    trackings: list[Tracking] = []
    errors: list[dict[str, Any]] = []
    for piece in pieces:
        tracking = _tracking(piece)
        if tracking is None:
            errors.append(piece.get("error") or {})
        else:
            trackings.append(tracking)
    if not trackings and errors:
        _raise_piece_error(errors[0])
    return trackings


def _tracking(piece: dict[str, Any]) -> Tracking | None:
    summary = piece.get("summary") or {}
    events = piece.get("events") or []
    if not events and summary.get("lastEventCode") and summary.get("lastEventDateTime"):
        events = [
            {
                "eventCode": summary.get("lastEventCode"),
                "eventName": summary.get("lastEventName"),
                "eventDateTime": summary.get("lastEventDateTime"),
                "locationName": summary.get("lastEventLocationName"),
            }
        ]
    if not events and piece.get("error"):
        return None
    number = str(
        summary.get("oneDBarcode") or piece.get("mailPieceId") or summary.get("uniqueItemId") or ""
    )
    country = _country(summary)
    return Tracking(
        carrier=NAME,
        tracking_number=number,
        scans=tuple(_scan(event, country) for event in events),
        estimated_delivery_at=_estimate(piece.get("estimatedDelivery") or {}),
        service=summary.get("productName") or None,
        extra={k: str(summary[k]) for k in ("statusCategory", "productId") if summary.get(k)},
    )


def _country(summary: dict[str, Any]) -> str:
    # International items are scanned abroad too; the location then names no country.
    code = str(summary.get("destinationCountryCode") or "")
    return "GB" if code in ("", "GBR", "GB") else ""


def _scan(event: dict[str, Any], country: str) -> Scan:
    name = event.get("locationName") or None
    location = Location(facility=name, country=country or None) if name else None
    occurred_at, tz = parse_instant(str(event["eventDateTime"]), location, _HOME_ZONE)
    code = str(event.get("eventCode") or "").strip()
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=event.get("eventName") or None,
        location=location,
    )


def _estimate(estimate: dict[str, Any]) -> datetime | None:
    text = str(estimate.get("date") or "")
    if not text:
        return None
    try:
        return parse_instant(text, None, _HOME_ZONE)[0] if "T" in text else _day(text)
    except ValueError:
        return None


def _day(text: str) -> datetime:
    day = datetime.strptime(text[:10], "%Y-%m-%d").date()  # noqa: DTZ007 - zone below
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(_HOME_ZONE))


def _raise_piece_error(error: dict[str, Any]) -> None:
    code = str(error.get("errorCode") or "")
    message = str(error.get("errorDescription") or error.get("errorCause") or code)
    if code in _NOT_FOUND_CODES:
        raise CarrierError("not_found", f"{code}: {message}")
    raise CarrierError("carrier_error", f"{code}: {message}" if code else message)


def _raise_error(data: dict[str, Any]) -> None:
    status = str(data.get("httpCode") or data.get("status") or "")
    errors = data.get("errors") or []
    codes = {str(e.get("errorCode") or "") for e in errors if isinstance(e, dict)}
    detail = "; ".join(
        str(e.get("errorDescription") or e.get("errorCode")) for e in errors if isinstance(e, dict)
    )
    message = detail or str(data.get("moreInformation") or data.get("httpMessage") or "")
    if status in ("401", "403") or codes & _UNAUTHORIZED_CODES:
        raise CarrierError("unauthorized", message or "Royal Mail refused the credentials")
    if status == "429":
        raise CarrierError("rate_limited", message or "too many requests")
    if status == "404" or codes & _NOT_FOUND_CODES:
        raise CarrierError("not_found", message or "mail piece not found")
    if isinstance(data.get("error"), dict):
        _raise_piece_error(data["error"])
    raise CarrierError("carrier_error", message or f"Royal Mail error {status}".strip())
