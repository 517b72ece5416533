"""La Poste "Suivi v2" API (`GET /suivi/v2/idships/{idship}`): Colissimo, Chronopost and
letters tracked through La Poste's unified tracking.

Body: one result `{"lang", "scope", "returnCode": 200, "shipment": {"idShip", "product",
"isFinal", "estimDate", "event": [{"code": "DI1", "label", "date": "...+01:00"}],
"timeline": [...]}}`, a list of them, or `{"responses": [...]}`. A result for an unknown or
malformed number carries `returnCode` 404 / 400 and `returnMessage`; the API gateway answers
401 / 429 with `{"code": "UNAUTHORIZED", "message"}`-style bodies.

`event` is the scan history (codes DR1, PC1, ET1..ET4, MD2, DI1, ...); `timeline` is La
Poste's five-step summary of it and is not read as events. Dates carry an offset; one
without is Paris time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "laposte"
DISPLAY_NAME = "La Poste (Colissimo, Chronopost, lettres)"
ALIASES = ("la_poste",)

_HOME_ZONE = "Europe/Paris"
_OK = {0, 200, 207}
_RETURN_CODES = {
    401: "unauthorized",
    403: "unauthorized",
    404: "not_found",
    429: "rate_limited",
}
_GATEWAY_CODES = {
    "UNAUTHORIZED": "unauthorized",
    "INVALID_KEY": "unauthorized",
    "INVALID_API_KEY": "unauthorized",
    "FORBIDDEN": "unauthorized",
    "NOT_FOUND": "not_found",
    "RESOURCE_NOT_FOUND": "not_found",
    "TOO_MANY_REQUESTS": "rate_limited",
    "RATE_LIMIT_EXCEEDED": "rate_limited",
}


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not a La Poste response: not JSON ({exc})") from None
    results = _results(data)
    found = [
        _tracking(r["shipment"])
        for r in results
        if isinstance(r.get("shipment"), dict) and _return_code(r) in _OK
    ]
    if not found:
        for result in results:
            _raise_result(result)
    return found


def _results(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("responses"), list):
        items = data["responses"]
    elif isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        items = [data]
    else:
        raise CarrierError("unparseable", "not a La Poste response: expected a JSON object")
    results = [i for i in items if isinstance(i, dict)]
    if results and not any("shipment" in r or "returnCode" in r or "code" in r for r in results):
        raise CarrierError("unparseable", "not a La Poste Suivi v2 response")
    return results


def _return_code(result: dict[str, Any]) -> int:
    try:
        return int(result.get("returnCode") or 200)
    except (TypeError, ValueError):
        return -1


def _raise_result(result: dict[str, Any]) -> None:
    message = str(
        result.get("returnMessage") or result.get("message") or result.get("description") or ""
    )
    gateway = str(result.get("code") or "").upper()
    if gateway in _GATEWAY_CODES:
        raise CarrierError(_GATEWAY_CODES[gateway], message or gateway)
    status = _return_code(result) if "returnCode" in result else _int(result.get("status"))
    if status in _RETURN_CODES:
        raise CarrierError(_RETURN_CODES[status], message or f"La Poste returnCode {status}")
    if status is not None and status not in _OK:
        raise CarrierError("carrier_error", message or f"La Poste returnCode {status}")
    if gateway:
        raise CarrierError("carrier_error", message or gateway)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _tracking(shipment: dict[str, Any]) -> Tracking:
    events = shipment.get("event") or []
    estimate = shipment.get("estimDate")
    return Tracking(
        carrier=NAME,
        tracking_number=str(shipment.get("idShip") or ""),
        scans=tuple(_scan(e) for e in events if isinstance(e, dict) and e.get("date")),
        estimated_delivery_at=_estimate(estimate),
        service=str(shipment["product"]) if shipment.get("product") else None,
    )


def _estimate(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_instant(str(value), None, _HOME_ZONE)[0]
    except ValueError:
        return None


def _scan(event: dict[str, Any]) -> Scan:
    occurred_at, tz = parse_instant(str(event["date"]), None, _HOME_ZONE)
    code = str(event.get("code") or "").strip()
    label = " ".join(str(event.get("label") or "").split()) or None
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=(code,) if code else (),
        raw_code=code or None,
        description=label,
    )
