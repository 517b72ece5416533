"""AfterShip Tracking webhooks: `{"event", "event_id", "msg": <tracking>, "ts"}`.

`msg` is a tracking: `tracking_number`, `slug` (the courier), `tag`/`subtag`,
`expected_delivery` (or `courier_estimated_delivery_date`) and `checkpoints[]`
(checkpoint_time, tag, subtag, message, location, city, state, zip, country_iso3 or
country_region). `checkpoint_time` is the scan's local time, usually with its offset
("2021-03-20T15:32:37+01:00"), which is kept; one without an offset is placed by the
checkpoint's country, else the shipment's destination or origin country. The dedup key is
`event_id`, else the tracking id and `ts`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from wismo.domain.commands import RecordTrackingEvent
from wismo.domain.model import Location
from wismo.ingestion.aggregators.common import (
    body_hash,
    carrier_code,
    commands,
    destination_zone,
    eta,
    instant,
    items,
    location,
    obj,
    parse_with,
    require_number,
    text,
)
from wismo.ingestion.carriers.base import Scan
from wismo.services.ports import Inbound, Parsed, Rejected

PROVIDER = "aftership"


def event_id(data: dict[str, Any], body: bytes) -> str:
    found = text(data.get("event_id"))
    if found:
        return found
    msg = data.get("msg")
    tracking = text(msg.get("id")) if isinstance(msg, dict) else None
    ts = text(data.get("ts"))
    return f"{tracking}:{ts}" if tracking and ts else body_hash(body)


class AfterShipParser:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        return parse_with(
            PROVIDER, inbound, event_id, lambda data: read(store_id, data, self._clock())
        )


def _country(raw: dict[str, Any], prefix: str) -> Any:
    return raw.get(f"{prefix}_iso3") or raw.get(f"{prefix}_region")


def read(
    store_id: int, data: dict[str, Any], received_at: datetime
) -> tuple[RecordTrackingEvent, ...]:
    msg = data.get("msg")
    if not isinstance(msg, dict) or "tracking_number" not in msg:
        return ()  # not a tracking event (or a test ping): nothing to record
    number = require_number(msg.get("tracking_number"), ["msg", "tracking_number"])
    carrier = carrier_code(PROVIDER, text(msg.get("slug")), number)
    dest = location(country=_country(msg, "destination_country"))
    origin = location(country=_country(msg, "origin_country"))
    zone = destination_zone(dest)
    fallback = destination_zone(dest) or destination_zone(origin)
    scans: list[tuple[Scan, datetime | None]] = []
    for i, raw in enumerate(items(msg.get("checkpoints"), ["msg", "checkpoints"])):
        loc: list[str | int] = ["msg", "checkpoints", i]
        checkpoint = obj(raw, loc)
        where = _place(checkpoint)
        occurred_at, tz = instant(
            checkpoint.get("checkpoint_time"),
            [*loc, "checkpoint_time"],
            where,
            fallback.key if fallback else None,
        )
        tag = text(checkpoint.get("tag")) or "Pending"
        subtag = text(checkpoint.get("subtag"))
        scan = Scan(
            occurred_at=occurred_at,
            occurred_tz=tz,
            codes=(subtag, tag) if subtag else (tag,),
            raw_code=subtag or tag,
            description=text(checkpoint.get("message")),
            location=where,
        )
        scans.append((scan, None))
    estimate = eta(msg.get("expected_delivery"), zone)
    courier_edd = msg.get("courier_estimated_delivery_date")
    if estimate is None and isinstance(courier_edd, dict):
        estimate = eta(courier_edd.get("estimated_delivery_date"), zone)
    return commands(
        store_id,
        PROVIDER,
        carrier=carrier,
        tracking_number=number,
        scans=scans,
        estimate=estimate,
        received_at=received_at,
    )


def _place(checkpoint: dict[str, Any]) -> Location | None:
    city = checkpoint.get("city")
    country = _country(checkpoint, "country")
    # `location` is free text ("NL, Netherlands"); kept as the facility only when nothing
    # more structured is given, so the answer does not repeat itself.
    facility = None if city or country else checkpoint.get("location")
    return location(city, checkpoint.get("state"), checkpoint.get("zip"), country, facility)
