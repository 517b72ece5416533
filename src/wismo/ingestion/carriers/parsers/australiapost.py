"""Australia Post Track API (`/shipping/v1/track`).

`{"tracking_results": [{"tracking_id", "status", "trackable_items": [{"article_id",
"product_type", "events": [{"date": "...+10:00", "description", "location"}], "status"}]}]}`;
a consignment nests its articles one level deeper (`trackable_items[].items[]`). A result
that failed carries `errors: [{"code": "ESB-10001", "name": "Invalid tracking ID"}]`; a
request that failed has top-level `errors` (`code`, `name`, `message`).

Events carry no code, only Australia Post's fixed wording, so the wording is the code: the
table is keyed by the description (upper case), tried whole first, then without the part
after " - " ("Delivered - Left in a safe place" -> "DELIVERED"), without a bracketed note
("(Inbound)") and without a trailing " in <place>". An event's own `status`, when sent, is
the last key ("STATUS:<status>").
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from wismo.domain.model import Location
from wismo.ingestion.carriers.base import CarrierError, Scan, Tracking
from wismo.ingestion.carriers.zones import parse_instant

NAME = "australiapost"
DISPLAY_NAME = "Australia Post"
ALIASES = ("australia_post", "auspost", "startrack_auspost")

_HOME_ZONE = "Australia/Sydney"
_STATES = frozenset({"NSW", "ACT", "VIC", "QLD", "SA", "NT", "WA", "TAS"})
_ABROAD = re.compile(r"\(([A-Z]{2})\)\s*$")  # "CHICAGO (US)", "SYDNEY (AU)"
_NOT_FOUND = re.compile(r"ESB-1000[12]|not found|invalid tracking|no tracking", re.I)
_UNAUTHORIZED = re.compile(r"unauthori[sz]ed|authenticat|forbidden|api.?key|credential", re.I)
_RATE_LIMITED = re.compile(r"too.?many.?requests|rate.?limit|throttl|quota", re.I)


def parse(body: bytes) -> list[Tracking]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CarrierError("unparseable", f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CarrierError("unparseable", "expected a JSON object")
    if "tracking_results" not in data:
        if data.get("errors"):
            _raise(data["errors"])
        raise CarrierError("unparseable", "no 'tracking_results' in the response")
    found: list[Tracking] = []
    failed: list[list[dict[str, Any]]] = []
    for result in data["tracking_results"] or []:
        if result.get("errors") and not result.get("trackable_items"):
            failed.append(result["errors"])
            continue
        found.extend(_trackings(result))
    if not found and failed:
        _raise(failed[0])
    return found


def _trackings(result: dict[str, Any]) -> list[Tracking]:
    found: list[Tracking] = []
    items = result.get("trackable_items") or []
    # A consignment lists its articles under `items`; a single article has `events`.
    pairs = [(item, article) for item in items for article in item.get("items") or [item]]
    for item, article in pairs:
        # One article: the number asked for; several: each article's own number.
        asked = result.get("tracking_id") if len(pairs) == 1 else None
        number = str(asked or article.get("article_id") or item.get("consignment_id") or "")
        found.append(
            Tracking(
                carrier=NAME,
                tracking_number=number,
                scans=tuple(_scan(e) for e in article.get("events") or []),
                service=article.get("product_type") or item.get("product_type") or None,
                extra={"status": str(article["status"])} if article.get("status") else {},
            )
        )
    return found


def _location(text: str) -> Location | None:
    text = text.strip()
    if not text:
        return None
    abroad = _ABROAD.search(text)
    if abroad:
        return Location(city=text[: abroad.start()].strip() or None, country=abroad[1])
    head, _, last = text.rpartition(" ")
    if last.upper() in _STATES:
        return Location(city=head.strip() or None, region=last.upper(), country="AU")
    return Location(city=text)


def _scan(event: dict[str, Any]) -> Scan:
    location = _location(str(event.get("location") or ""))
    occurred_at, tz = parse_instant(str(event["date"]), location, _HOME_ZONE)
    description = str(event.get("description") or "").strip()
    codes = description_keys(description)
    status = str(event.get("status") or "").strip()
    if status:
        codes = (*codes, f"STATUS:{status}")
    return Scan(
        occurred_at=occurred_at,
        occurred_tz=tz,
        codes=codes,
        raw_code=status or None,
        description=description or None,
        location=location,
    )


def description_keys(description: str) -> tuple[str, ...]:
    """Lookup keys for one event wording, most specific first."""
    text = " ".join(description.upper().replace("\u2019", "'").split()).rstrip(".")
    if not text:
        return ()
    keys = [text]
    unbracketed = re.sub(r"\s*\([^)]*\)", "", text).strip()
    keys.append(unbracketed)
    keys.append(unbracketed.split(" - ", 1)[0].strip())
    for key in list(keys):
        head, sep, _ = key.rpartition(" IN ")
        if sep and head:
            keys.append(head.strip())
    return tuple(dict.fromkeys(k for k in keys if k))


def _raise(errors: list[dict[str, Any]]) -> None:
    first = errors[0] if errors else {}
    code = str(first.get("code") or first.get("error_code") or "")
    message = str(first.get("message") or first.get("name") or first.get("error") or code)
    text = f"{code}: {message}" if code else message
    words = f"{code} {first.get('name') or ''} {message}"
    if _NOT_FOUND.search(words):
        raise CarrierError("not_found", text)
    if _UNAUTHORIZED.search(words) or code in ("401", "403"):
        raise CarrierError("unauthorized", text)
    if _RATE_LIMITED.search(words) or code == "429":
        raise CarrierError("rate_limited", text)
    raise CarrierError("carrier_error", text)
