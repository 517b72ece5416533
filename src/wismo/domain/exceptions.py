"""Delivery problems found before the customer asks: stalls, lateness, failed attempts (pure).

A sweeper calls `detect` for each shipment due for a check and stores each finding as a
timeline event deduplicated on `Detected.key`. A key depends on the facts only, never on
`now`: sweeping an unchanged shipment again finds the same keys, and a new occurrence of a
problem (stalled again after a new scan, late against a new promise) has a new key.

`Detection.next_check_at` is the first instant at which a time-based rule could fire on the
same facts. Before it, `detect` finds exactly what it finds now; at it, at least one rule
fires. So the sweeper need not look again until then, or until a new event changes the facts.

Days are local: scan-based rules (stuck label, no scan in transit, out for delivery) count in
the zone the carrier reported for its latest scan, falling back to the customer's zone;
promise rules and a sibling's delivery count in the customer's zone. Business days come from
the caller's `BusinessCalendar`. "N business days after an instant" means the rule fires at
the start (local midnight) of the N-th business day after the instant's local date, which is
when `BusinessCalendar.business_days_between(that date, today)` first reaches N.

A naive datetime is read as UTC, never rejected: Wismo stores instants in UTC, so a naive one
is a UTC value whose zone a driver or a fixture dropped, and a sweep must not stop on one
bad row. An unknown zone label falls back to the customer's zone, then to UTC, for the same
reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from typing import Any

from wismo.domain.estimate import BusinessCalendar
from wismo.domain.milestones import FINAL_MILESTONES, Milestone, Reason
from wismo.domain.zones import reported_zone, zone


class FindingCode(StrEnum):
    """What is wrong with a shipment, as stored on its timeline."""

    STUCK_LABEL_CREATED = "stuck_label_created"
    NO_SCAN_IN_TRANSIT = "no_scan_in_transit"
    LATE = "late"
    PREDICTED_LATE = "predicted_late"
    OUT_FOR_DELIVERY_NOT_DELIVERED = "out_for_delivery_not_delivered"
    FAILED_ATTEMPT = "failed_attempt"
    CUSTOMS_HOLD = "customs_hold"
    RETURNING_TO_SENDER = "returning_to_sender"
    SPLIT_STALLED = "split_stalled"
    ESTIMATE_SLIPPED = "carrier_estimate_slipped"


_BUSINESS_DAY_FIELDS = (
    "label_no_scan_business_days",
    "in_transit_no_scan_business_days",
    "split_stalled_business_days",
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How long a silence may last before it is a problem. Counts are whole business days,
    at least 1 (0 would flag every shipment the moment it is created); `slip_min_days` is
    calendar days, at least 1."""

    label_no_scan_business_days: int = 2
    in_transit_no_scan_business_days: int = 3
    split_stalled_business_days: int = 2
    # Local time in the delivery area from which an out-for-delivery parcel counts as not
    # delivered today; inclusive, so that the finding exists at `next_check_at`.
    out_for_delivery_end_of_day: time = time(21, 0)
    slip_min_days: int = 1

    def __post_init__(self) -> None:
        for name in (*_BUSINESS_DAY_FIELDS, "slip_min_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        end = self.out_for_delivery_end_of_day
        if not isinstance(end, time) or end.tzinfo is not None:
            raise ValueError(
                f"out_for_delivery_end_of_day must be a local time of day, got {end!r}"
            )


_THRESHOLD_NAMES = frozenset(f.name for f in fields(Thresholds))
_DEFAULT_THRESHOLDS = Thresholds()


class ThresholdRules:
    """Thresholds per carrier and per carrier service, over a default.

    Overrides layer field by field: a "ups/ground" entry changes only the fields it names,
    on top of the "ups" entry, on top of the default. Everything is resolved when the rules
    are built, so `for_shipment` is two dictionary look-ups on the sweep's hot path. Carrier
    and service names are matched case-insensitively.
    """

    __slots__ = ("_carriers", "_default", "_services")

    def __init__(
        self,
        default: Thresholds | None = None,
        carriers: Mapping[str, Thresholds] | None = None,
        services: Mapping[tuple[str, str], Thresholds] | None = None,
    ) -> None:
        self._default = _DEFAULT_THRESHOLDS if default is None else default
        self._carriers = {_name(c): t for c, t in (carriers or {}).items()}
        self._services = {(_name(c), _name(s)): t for (c, s), t in (services or {}).items()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ThresholdRules:
        """Build from plain data, e.g. from TOML or JSON:
        `{"default": {...}, "carriers": {"ups": {...}, "ups/ground": {...}}}`.

        Each section holds `Thresholds` field names; `out_for_delivery_end_of_day` may be a
        `time` or an "HH:MM" string. Raises ValueError naming the offending key path
        (e.g. `carriers.ups/ground.slip_min_days`) for an unknown key or a bad value.
        """
        if not isinstance(config, Mapping):
            raise ValueError(f"threshold config must be a mapping, got {type(config).__name__}")
        unknown = sorted(str(k) for k in config if k not in ("default", "carriers"))
        if unknown:
            raise ValueError(f"unknown threshold config key(s): {', '.join(unknown)}")
        default = _overlay(_DEFAULT_THRESHOLDS, config.get("default", {}), "default")
        entries = config.get("carriers", {})
        if not isinstance(entries, Mapping):
            raise ValueError("carriers must be a mapping of carrier or carrier/service to fields")
        carrier_entries: dict[str, tuple[str, Any]] = {}
        service_entries: dict[tuple[str, str], tuple[str, Any]] = {}
        for raw_key, overrides in entries.items():
            path = f"carriers.{raw_key}"
            parts = raw_key.split("/") if isinstance(raw_key, str) else []
            if not parts or len(parts) > 2 or not all(p.strip() for p in parts):
                raise ValueError(f"{path}: expected 'carrier' or 'carrier/service'")
            names = [_name(p) for p in parts]
            if len(names) == 1:
                seen = names[0] in carrier_entries
                carrier_entries[names[0]] = (path, overrides)
            else:
                seen = (names[0], names[1]) in service_entries
                service_entries[(names[0], names[1])] = (path, overrides)
            if seen:
                raise ValueError(f"{path}: given twice (names are case-insensitive)")
        carriers = {
            carrier: _overlay(default, overrides, path)
            for carrier, (path, overrides) in carrier_entries.items()
        }
        services = {
            (carrier, service): _overlay(carriers.get(carrier, default), overrides, path)
            for (carrier, service), (path, overrides) in service_entries.items()
        }
        return cls(default, carriers, services)

    def for_shipment(self, carrier: str, service: str | None) -> Thresholds:
        """The most specific thresholds: carrier + service, then carrier, then default."""
        carrier = _name(carrier)
        if service is not None:
            found = self._services.get((carrier, _name(service)))
            if found is not None:
                return found
        return self._carriers.get(carrier, self._default)


def _name(value: str) -> str:
    return value.strip().casefold()


def _overlay(base: Thresholds, overrides: object, path: str) -> Thresholds:
    if not isinstance(overrides, Mapping):
        raise ValueError(f"{path} must be a mapping of threshold fields")
    changes: dict[str, Any] = {}
    for name, given in overrides.items():
        if name not in _THRESHOLD_NAMES:
            raise ValueError(f"{path}.{name}: unknown threshold")
        value = given
        if name == "out_for_delivery_end_of_day" and isinstance(given, str):
            try:
                value = time.fromisoformat(given)
            except ValueError:
                raise ValueError(
                    f"{path}.{name} must be a time like '21:00', got {value!r}"
                ) from None
        changes[name] = value
    try:
        return replace(base, **changes)
    except ValueError as error:
        raise ValueError(f"{path}.{error}") from None


# Not frozen: a sweep builds these for every due shipment, and frozen construction costs
# about twice as much. Treat them as immutable.
@dataclass(slots=True)
class SiblingFacts:
    """Another shipment of the same order."""

    delivered_at: datetime | None


@dataclass(slots=True)
class ShipmentFacts:
    """What detection needs to know about one shipment. Instants are aware (naive = UTC)."""

    carrier: str
    service: str | None
    milestone: Milestone
    reason: Reason
    created_at: datetime  # when the shipment / label was created
    status_at: datetime | None  # when the current milestone was set
    last_event_at: datetime | None  # latest carrier event, whatever it said
    last_event_tz: str | None  # as the carrier reported it: IANA name, "+01:00", "Z" or None
    delivered_at: datetime | None
    carrier_eta_on: date | None  # the carrier's latest estimated delivery date
    previous_carrier_eta_on: date | None  # the estimate the carrier gave before that one
    predicted_on: date | None  # Wismo's own most likely date
    promised_to_on: date | None  # the merchant's promise: last day of the window
    zone: str  # the customer's IANA zone
    siblings: tuple[SiblingFacts, ...] = ()


@dataclass(slots=True)
class Detected:
    """One problem. `key` names this occurrence, for deduplication; `detail` holds small
    facts for the message, as ISO 8601 strings."""

    code: FindingCode
    reason: Reason
    key: str
    detail: Mapping[str, str]


@dataclass(slots=True)
class Detection:
    """The findings for a shipment now, and when to look again (aware UTC, after `now`;
    None when no time-based rule can fire on these facts)."""

    findings: tuple[Detected, ...]
    next_check_at: datetime | None


_NOTHING = Detection((), None)
_DAY = timedelta(days=1)
_MIDNIGHT = time(0, 0)

# Before the carrier's first pickup scan: the label exists (or not even that), the parcel
# has not moved. Order-level stages count here because a shipment whose status never left
# them has had no carrier scan worth the name.
_PRE_TRANSIT = frozenset(
    {
        Milestone.ORDER_PLACED,
        Milestone.CONFIRMED,
        Milestone.AWAITING_FULFILMENT,
        Milestone.UNKNOWN,
        Milestone.LABEL_CREATED,
    }
)
# The parcel is with the carrier and should keep being scanned. Out for delivery and a
# failed attempt are in: one that then goes quiet for days is stalled, whatever the evening
# finding said. EXPIRED (the carrier stopped reporting) is in: silence is its symptom.
# AVAILABLE_FOR_PICKUP is out: waiting at a pickup point is normal, and the carrier ends the
# hold with its own return scan.
_IN_TRANSIT = frozenset(
    {
        Milestone.PICKED_UP,
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.DELIVERY_ATTEMPT_FAILED,
        Milestone.EXCEPTION,
        Milestone.EXPIRED,
    }
)


def _zone(name: str) -> tzinfo:
    """The customer's zone; UTC when the name is not a zone this machine knows."""
    return zone(name)


def _scan_zone(label: str | None, fallback: str) -> tzinfo:
    """The zone a carrier reported; the customer's zone when absent or unknown."""
    return reported_zone(label, fallback) or UTC


def _utc(moment: datetime) -> datetime:
    zone = moment.tzinfo
    if zone is UTC:
        return moment
    if zone is None or zone.utcoffset(moment) is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@lru_cache(maxsize=4096)
def _start_of(day: date, zone: tzinfo) -> datetime:
    """The instant `day` begins in `zone`, in UTC. When midnight falls in a DST gap, the
    pre-transition offset (fold=0) gives the gap's start, which is when the day begins.
    Cached: a sweep asks for the same few days in the same few zones thousands of times."""
    return datetime.combine(day, _MIDNIGHT, tzinfo=zone).astimezone(UTC)


def _after_business_days(
    anchor: datetime, zone: tzinfo, n: int, calendar: BusinessCalendar
) -> datetime:
    """The instant the n-th business day strictly after `anchor`'s local date begins.

    From then on `business_days_between(anchor's date, today) >= n`. Computed forward from
    the anchor rather than by counting up to today, which for a parcel stalled for months
    would walk every day since.
    """
    day = anchor.astimezone(zone).date()
    if type(calendar) is BusinessCalendar:
        # Keyed on the calendar's contents, not its identity, so a calendar built afresh
        # per call still hits; a subclass may decide differently and is not cached.
        return _nth_business_day_start(day, n, zone, calendar.holidays, calendar.weekend)
    return _start_of(calendar.add_business_days(day + _DAY, n - 1), zone)


@lru_cache(maxsize=16384)
def _nth_business_day_start(
    day: date, n: int, zone: tzinfo, holidays: frozenset[date], weekend: frozenset[int]
) -> datetime:
    calendar = BusinessCalendar(holidays, weekend)
    return _start_of(calendar.add_business_days(day + _DAY, n - 1), zone)


def detect(
    facts: ShipmentFacts,
    *,
    now: datetime,
    calendar: BusinessCalendar,
    thresholds: Thresholds,
) -> Detection:
    """The problems `facts` show at `now`, and when a time-based rule could next fire.

    Delivered, returned and cancelled shipments have none. A shipment returning to sender
    has that finding only: lateness and stalls no longer concern the customer, and the
    sender learns of the return from its own scans, so there is no next check either.
    """
    milestone = facts.milestone
    if milestone in FINAL_MILESTONES:
        return _NOTHING
    created_at = _utc(facts.created_at)
    last_event_at = None if facts.last_event_at is None else _utc(facts.last_event_at)
    status_at = created_at
    if facts.status_at is not None:
        status_at = _utc(facts.status_at)
    elif last_event_at is not None:
        status_at = last_event_at
    reason = facts.reason

    if milestone is Milestone.RETURNING_TO_SENDER:
        status_text = status_at.isoformat()
        code = FindingCode.RETURNING_TO_SENDER
        finding = Detected(code, reason, f"{code}:{status_text}", {"since": status_text})
        return Detection((finding,), None)

    now = _utc(now)
    found: list[Detected] = []
    if milestone is Milestone.DELIVERY_ATTEMPT_FAILED:
        status_text = status_at.isoformat()
        code = FindingCode.FAILED_ATTEMPT
        found.append(Detected(code, reason, f"{code}:{status_text}", {"since": status_text}))
    if reason is Reason.CUSTOMS_HOLD:
        status_text = status_at.isoformat()
        code = FindingCode.CUSTOMS_HOLD
        found.append(Detected(code, reason, f"{code}:{status_text}", {"since": status_text}))

    scan_zone = _scan_zone(facts.last_event_tz, facts.zone)
    next_at: datetime | None = None
    if milestone in _PRE_TRANSIT:
        next_at = _stall(
            found,
            FindingCode.STUCK_LABEL_CREATED,
            # A label nobody scanned is the textbook case of this reason.
            Reason.LABEL_NOT_SCANNED if reason is Reason.NONE else reason,
            last_event_at or created_at,
            business_days=thresholds.label_no_scan_business_days,
            zone=scan_zone,
            now=now,
            calendar=calendar,
        )
    elif milestone in _IN_TRANSIT:
        next_at = _stall(
            found,
            FindingCode.NO_SCAN_IN_TRANSIT,
            reason,
            last_event_at or status_at,
            business_days=thresholds.in_transit_no_scan_business_days,
            zone=scan_zone,
            now=now,
            calendar=calendar,
        )
    if milestone is Milestone.OUT_FOR_DELIVERY:
        deadline = _out_for_delivery(
            found,
            facts,
            status_at,
            zone=scan_zone,
            now=now,
            end=thresholds.out_for_delivery_end_of_day,
        )
        next_at = _earlier(next_at, deadline)
    customer_zone = _zone(facts.zone)
    if facts.promised_to_on is not None:
        late_at = _promise(found, facts, facts.promised_to_on, customer_zone, now)
        next_at = _earlier(next_at, late_at)
    _slip(found, facts, thresholds.slip_min_days)
    if facts.siblings:
        stalled_at = _split(
            found,
            facts,
            last_event_at or created_at,
            zone=customer_zone,
            now=now,
            calendar=calendar,
            business_days=thresholds.split_stalled_business_days,
        )
        next_at = _earlier(next_at, stalled_at)
    return Detection(tuple(found), next_at)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _stall(
    found: list[Detected],
    code: FindingCode,
    reason: Reason,
    anchor: datetime,
    *,
    business_days: int,
    zone: tzinfo,
    now: datetime,
    calendar: BusinessCalendar,
) -> datetime | None:
    """No scan for `business_days` after `anchor`: a finding, or when there will be one."""
    fires_at = _after_business_days(anchor, zone, business_days, calendar)
    if now < fires_at:
        return fires_at
    since = anchor.isoformat()
    detail = {"since": since, "business_days": str(business_days)}
    found.append(Detected(code, reason, f"{code}:{since}", detail))
    return None


def _out_for_delivery(
    found: list[Detected],
    facts: ShipmentFacts,
    status_at: datetime,
    *,
    zone: tzinfo,
    now: datetime,
    end: time,
) -> datetime | None:
    """Out for delivery and the status day's evening has come without a delivery.

    The scan's zone is where the van is, which is the customer's area; the customer's own
    zone stands in when the carrier reported none (`_scan_zone` falls back to it).
    """
    status_day = status_at.astimezone(zone).date()
    deadline = datetime.combine(status_day, end, tzinfo=zone).astimezone(UTC)
    if now < deadline:
        return deadline
    code = FindingCode.OUT_FOR_DELIVERY_NOT_DELIVERED
    status_text = status_at.isoformat()
    detail = {"since": status_text, "deadline": deadline.isoformat()}
    found.append(Detected(code, facts.reason, f"{code}:{status_text}", detail))
    return None


def _promise(
    found: list[Detected], facts: ShipmentFacts, promised: date, zone: tzinfo, now: datetime
) -> datetime | None:
    """Late once the promised day is over in the customer's zone; until then, predicted
    late when the carrier's estimate (else Wismo's) is after the promise."""
    late_at = _start_of(promised + _DAY, zone)
    promised_text = promised.isoformat()
    if now >= late_at:
        code = FindingCode.LATE
        found.append(
            Detected(code, facts.reason, f"{code}:{promised_text}", {"promised": promised_text})
        )
        return None
    estimate, source = facts.carrier_eta_on, "carrier"
    if estimate is None or estimate <= promised:
        estimate, source = facts.predicted_on, "wismo"
    if estimate is not None and estimate > promised:
        code = FindingCode.PREDICTED_LATE
        detail = {"promised": promised_text, "estimate": estimate.isoformat(), "source": source}
        found.append(Detected(code, facts.reason, f"{code}:{promised_text}", detail))
    return late_at


def _slip(found: list[Detected], facts: ShipmentFacts, min_days: int) -> None:
    """The carrier moved its estimate later by at least `min_days`; earlier is good news."""
    latest, previous = facts.carrier_eta_on, facts.previous_carrier_eta_on
    if latest is None or previous is None or (latest - previous).days < min_days:
        return
    code = FindingCode.ESTIMATE_SLIPPED
    previous_text, latest_text = previous.isoformat(), latest.isoformat()
    detail = {"previous": previous_text, "estimate": latest_text}
    found.append(Detected(code, facts.reason, f"{code}:{previous_text}->{latest_text}", detail))


def _split(
    found: list[Detected],
    facts: ShipmentFacts,
    own_last: datetime,
    *,
    zone: tzinfo,
    now: datetime,
    calendar: BusinessCalendar,
    business_days: int,
) -> datetime | None:
    """A sibling was delivered, in the customer's zone, N business days ago, and this
    parcel has had no scan since.

    The earliest sibling delivery after this parcel's last scan reaches the threshold
    first, and stays the anchor when more siblings arrive, so the key is stable.
    """
    sibling_at: datetime | None = None
    for sibling in facts.siblings:
        if sibling.delivered_at is not None:
            delivered_at = _utc(sibling.delivered_at)
            if delivered_at > own_last and (sibling_at is None or delivered_at < sibling_at):
                sibling_at = delivered_at
    if sibling_at is None:
        return None
    fires_at = _after_business_days(sibling_at, zone, business_days, calendar)
    if now < fires_at:
        return fires_at
    code = FindingCode.SPLIT_STALLED
    sibling_text, own_text = sibling_at.isoformat(), own_last.isoformat()
    detail = {"sibling_delivered": sibling_text, "since": own_text}
    found.append(Detected(code, facts.reason, f"{code}:{sibling_text}:{own_text}", detail))
    return None
