"""What the aggregator parsers share: code tables, carrier names, times, commands."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from babel.core import get_global

from wismo.domain.commands import RecordTrackingEvent
from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import Location, TrackingEvent
from wismo.ingestion.carriers.base import Scan
from wismo.ingestion.carriers.classifier import classify
from wismo.ingestion.carriers.detect import detect
from wismo.ingestion.carriers.mapping import CodeTable, parse_table
from wismo.ingestion.carriers.zones import parse_instant, zone_for
from wismo.services.ports import Inbound, Parsed, Rejected

log = logging.getLogger(__name__)
_PACKAGE = "wismo.ingestion.aggregators"
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


class PayloadError(ValueError):
    """A webhook body that is not the shape the aggregator documents."""

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg
        self.kind = kind


@cache
def table(provider: str) -> CodeTable:
    """The provider's status table from `codes/<provider>.csv`."""
    path = resources.files(_PACKAGE).joinpath("codes", f"{provider}.csv")
    return parse_table(provider, path.read_text(encoding="utf-8"))


def _key(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


@cache
def _carrier_names() -> dict[tuple[str, str], str]:
    path = resources.files(_PACKAGE).joinpath("codes", "_carriers.csv")
    names: dict[tuple[str, str], str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "provider,")):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"aggregator carriers, line {number}: needs provider,code,carrier")
        names[(parts[0], _key(parts[1]))] = parts[2]
    return names


def carrier_code(provider: str, name: str | None, tracking_number: str) -> str | None:
    """The Wismo carrier code for the aggregator's carrier name.

    A missing name is detected from the tracking number; when the number fits several
    carriers (or none) the result is None and storage matches by number and time alone.
    """
    if name and name.strip():
        names = _carrier_names()
        key = _key(name)
        found = names.get((provider, key)) or names.get(("*", key))
        return found or name.strip().lower().replace("-", "_").replace(" ", "_")
    candidates = detect(tracking_number)
    return candidates[0] if len(candidates) == 1 else None


def country2(code: str | None) -> str | None:
    """ISO 3166 alpha-2 from alpha-2 or alpha-3 ("NLD" -> "NL"); None if unknown."""
    if not code:
        return None
    code = code.strip().upper()
    if len(code) == 2 and code.isalpha():
        return code
    found = get_global("territory_aliases").get(code)
    first = str(found[0]) if found else ""
    return first if len(first) == 2 else None


def text(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def location(
    city: Any = None,
    region: Any = None,
    postal_code: Any = None,
    country: Any = None,
    facility: Any = None,
) -> Location | None:
    loc = Location(
        city=text(city),
        region=text(region),
        postal_code=text(postal_code),
        country=country2(text(country)),
        facility=text(facility),
    )
    return loc if any(dataclasses.astuple(loc)) else None


def instant(
    value: Any, loc: list[str | int], where: Location | None, default_zone: str | None = None
) -> tuple[datetime, str | None]:
    """An aware instant and its zone label; a local time is placed by `where`."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(loc, "a date-time is required", "missing")
    try:
        return parse_instant(value, where, default_zone)
    except ValueError as exc:
        raise PayloadError(loc, f"not a usable date-time ({exc})") from None


def eta(value: Any, zone: ZoneInfo | None) -> datetime | None:
    """A delivery estimate as an instant; None when absent or unreadable.

    Aggregators often send a date as midnight UTC ("2024-08-05T00:00:00Z"), which read as an
    instant is the evening before in the Americas. A bare date, or exactly midnight UTC, is
    taken as that date at noon in the destination's zone (UTC when unknown), so the date the
    customer is told is the date the carrier meant.
    """
    raw = text(value)
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            day = datetime.fromisoformat(raw).date()
        else:
            moment, _ = parse_instant(raw, None, zone.key if zone else "UTC")
            if moment.utcoffset() or moment.time() != time(0):
                return moment
            day = moment.date()
    except ValueError:
        return None
    return datetime.combine(day, time(12), zone or UTC)


def destination_zone(where: Location | None) -> ZoneInfo | None:
    return zone_for(where) if where is not None else None


def status_keys(status: str, detail: str | None) -> tuple[str, ...]:
    """Table keys for a status and its detail, most specific first (see the tables)."""
    if not detail:
        return (f"{status}/*", status)
    return (f"{status}/{detail}", f"{status}/*", f"*/{detail}", status)


def normalise(provider: str, scan: Scan, received_at: datetime, source: str) -> TrackingEvent:
    """One aggregator checkpoint as a Wismo event: code table first, then the message."""
    found = table(provider).lookup(scan.codes) if scan.codes else None
    milestone: Milestone
    reason: Reason
    if found is not None and found[0].milestone is not Milestone.UNKNOWN:
        milestone, reason, mapped_by = found[0].milestone, found[0].reason, "code"
    else:
        guess = classify(scan.description)
        if guess is not None:
            milestone, reason, mapped_by = guess.milestone, guess.reason, "message"
        elif found is not None:
            milestone, reason, mapped_by = found[0].milestone, found[0].reason, "code"
        else:
            milestone, reason, mapped_by = Milestone.UNKNOWN, Reason.NONE, "unmapped"
    return TrackingEvent(
        milestone=milestone,
        reason=reason,
        occurred_at=scan.occurred_at,
        occurred_tz=scan.occurred_tz,
        source=source,
        received_at=received_at,
        raw_code=scan.raw_code,
        description=scan.description,
        location=scan.location,
        mapped_by=mapped_by,
    )


def commands(
    store_id: int,
    provider: str,
    *,
    carrier: str | None,
    tracking_number: str,
    scans: Sequence[tuple[Scan, datetime | None]],
    estimate: datetime | None,
    received_at: datetime,
) -> tuple[RecordTrackingEvent, ...]:
    """One command per checkpoint; the tracker's estimate rides on the latest checkpoint."""
    events = [
        dataclasses.replace(
            normalise(provider, scan, received_at, provider), estimated_delivery_at=own_eta
        )
        for scan, own_eta in scans
    ]
    if estimate is not None and events:
        latest = max(range(len(events)), key=lambda i: events[i].occurred_at)
        if events[latest].estimated_delivery_at is None:
            events[latest] = dataclasses.replace(events[latest], estimated_delivery_at=estimate)
    return tuple(
        RecordTrackingEvent(
            store_id=store_id,
            event=event,
            carrier=carrier,
            tracking_number=tracking_number,
        )
        for event in events
    )


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def load_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError([], f"not valid JSON ({exc})", "json_invalid") from None
    if not isinstance(data, dict):
        raise PayloadError([], "expected a JSON object", "type_error")
    return data


def obj(value: Any, loc: list[str | int]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(loc, "expected an object", "type_error")
    return value


def items(value: Any, loc: list[str | int]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(loc, "expected a list", "type_error")
    return value


def require_number(value: Any, loc: list[str | int]) -> str:
    number = text(value)
    if number is None:
        raise PayloadError(loc, "a tracking number is required", "missing")
    if len(number) > 100:
        raise PayloadError(loc, "tracking number longer than 100 characters")
    return number


def parse_with(
    provider: str,
    inbound: Inbound,
    event_id: Callable[[dict[str, Any], bytes], str | None],
    read: Callable[[dict[str, Any]], tuple[RecordTrackingEvent, ...]],
) -> Parsed | Rejected:
    """Run a provider's reader, turning a bad body into a `Rejected` naming the field."""
    source = inbound.source or provider
    try:
        data = load_object(inbound.body)
    except PayloadError as exc:
        return Rejected([_error(exc)], source, inbound.event_id)
    ident = inbound.event_id or event_id(data, inbound.body)
    try:
        return Parsed(source, ident, read(data))
    except PayloadError as exc:
        return Rejected([_error(exc)], source, ident)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        # Our fault, not the sender's (a bad table, a bug): the payload is still stored, as
        # dead, and a replay after the fix heals it; the rest of its batch goes on.
        log.exception("%s parser failed on event %s", provider, ident)
        return Rejected(
            [{"loc": [], "msg": f"parser error ({type(exc).__name__})", "type": "parser_error"}],
            source,
            ident,
        )


def _error(exc: PayloadError) -> dict[str, object]:
    return {"loc": exc.loc, "msg": exc.msg, "type": exc.kind}
