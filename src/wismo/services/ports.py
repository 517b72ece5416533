"""Ports: what the use cases need from the outside world, as Protocols.

Storage implements them with SQLAlchemy (`wismo.storage`); tests can pass fakes. The
repository calls are set-based (one call for a whole batch) because ingestion must keep up
with peak-season volume: one round trip per event would not.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from wismo.domain.arrival import Place
from wismo.domain.commands import (
    CancelOrder,
    Command,
    CreateShipment,
    UpsertRefund,
    UpsertReturn,
)
from wismo.domain.milestones import Milestone
from wismo.domain.model import (
    Customer,
    Order,
    Refund,
    Return,
    ShipmentLine,
    TrackingEvent,
)
from wismo.domain.promise import Predicted, Shown
from wismo.domain.status import ShipmentState


@dataclass(frozen=True, slots=True)
class OrderRef:
    id: int
    source_updated_at: datetime | None
    cancelled: bool


@dataclass(frozen=True, slots=True)
class ShipmentRef:
    id: int
    order_id: int
    shipment_ref: str
    carrier: str
    tracking_number: str | None


@dataclass(frozen=True, slots=True)
class ShipmentView:
    ref: ShipmentRef
    state: ShipmentState
    lines: tuple[ShipmentLine, ...]
    service_level: str | None
    created_at: datetime
    predicted: Predicted | None = None  # Wismo's forecast as of the last sweep
    first_estimate_on: date | None = None
    first_estimate_source: str | None = None
    open_findings: tuple[str, ...] = ()  # what the last sweep found, still current


@dataclass(frozen=True, slots=True)
class OrderView:
    """Everything the order-status answer is built from, read in one go."""

    order: Order
    stage: Milestone
    customer: Customer | None
    shipments: tuple[ShipmentView, ...]
    returns: tuple[Return, ...]
    refunds: tuple[Refund, ...]
    store_time_zone: str
    timeline: tuple[TimelineEntry, ...] = ()  # what the sweeper found, oldest first


class OrderRepository(Protocol):
    def get_orders(self, store_id: int, numbers: Collection[str]) -> dict[str, OrderRef]: ...

    def upsert_customer(self, customer: Customer) -> int: ...

    def insert_order(self, order: Order, stage: Milestone) -> int: ...

    def update_order(self, order_id: int, order: Order, stage: Milestone) -> None: ...

    def cancel_order(self, order_id: int, command: CancelOrder) -> None: ...

    def upsert_return(self, order_id: int, command: UpsertReturn) -> None: ...

    def upsert_refund(self, order_id: int, command: UpsertRefund) -> None: ...

    def load_view(self, store_id: int, order_id: int) -> OrderView | None: ...

    def find_for_lookup(
        self, store_id: int, order_number: str | Sequence[str]
    ) -> tuple[int, str | None, str | None, str | None] | None:
        """(order id, email, phone, postal code) of the order with that number (or the
        first of several spellings that exists), if any."""
        ...


class ShipmentRepository(Protocol):
    def find_shipments(
        self,
        store_id: int,
        refs: Collection[str],
        tracking: Collection[tuple[str | None, str, datetime]],
    ) -> tuple[dict[str, ShipmentRef], dict[tuple[str | None, str, datetime], ShipmentRef]]:
        """Shipments by reference, and by (carrier or None, tracking number, scan time)."""
        ...

    def create_shipment(self, order_id: int, command: CreateShipment) -> int: ...

    def load_states(self, shipment_ids: Collection[int]) -> dict[int, ShipmentState]:
        """Current states, locked against concurrent writers until the transaction ends."""
        ...

    def load_events(self, shipment_ids: Collection[int]) -> dict[int, list[TrackingEvent]]: ...

    def add_events(self, events: Sequence[tuple[int, TrackingEvent]]) -> set[tuple[int, str]]:
        """Insert events not stored yet; return the (shipment id, fingerprint) inserted."""
        ...

    def save_states(self, states: Mapping[int, ShipmentState], due: datetime | None) -> None:
        """Store states; `due` brings each shipment's next sweeper check forward to it."""
        ...

    def revise_estimates(self, revised: Sequence[tuple[int, str, datetime]]) -> None:
        """Give stored scans (shipment id, fingerprint) a new carrier estimate."""
        ...

    def note_unmapped(self, codes: Sequence[tuple[str, str, str | None]], now: datetime) -> None:
        """Count carrier codes (carrier, code, message) no table knew."""
        ...


@dataclass(frozen=True, slots=True)
class Inbound:
    """One inbound payload, as received.

    `format` names the parser that reads it ("canonical", "shopify:orders/create",
    "carrier:ups", "easypost", ...) and is stored with it, so a replay reads it the same way.
    `source` and `event_id` are set when the transport tells them (webhook headers);
    otherwise the parser reads them from the body.
    """

    body: bytes
    format: str = "canonical"
    source: str | None = None
    event_id: str | None = None


@dataclass(slots=True)
class InboxItem:
    """One inbound payload as the inbox keeps it."""

    id: int
    source: str
    event_id: str | None
    body: bytes
    format: str = "canonical"
    attempts: int = 0

    def inbound(self) -> Inbound:
        return Inbound(self.body, self.format, self.source, self.event_id)


@dataclass(slots=True)
class Outcome:
    """What happened to one inbox item."""

    status: str  # processed | parked | dead | duplicate
    waiting_for: str | None = None
    error: list[dict[str, object]] = field(default_factory=list)


class Inbox(Protocol):
    def add(
        self,
        store_id: int,
        items: Sequence[tuple[str, str | None, str, bytes]],
        now: datetime,
    ) -> list[int | None]:
        """Store (source, event id, format, body) rows; None for a duplicate id."""
        ...

    def record(self, outcomes: Mapping[int, Outcome], now: datetime) -> None: ...

    def waiting_for(self, store_id: int, keys: Collection[str]) -> list[InboxItem]: ...

    def load(self, ids: Collection[int]) -> list[InboxItem]: ...


class UnitOfWork(Protocol):
    """One transaction. The caller (entry point) decides when to commit."""

    # Read-only members, so an adapter may expose its concrete repository types.
    @property
    def orders(self) -> OrderRepository: ...

    @property
    def shipments(self) -> ShipmentRepository: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def notifications(self) -> NotificationPlanner: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *args: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> UnitOfWork:
        """A unit of work; `write=False` for reads, which must never wait for writers."""
        ...


@dataclass(slots=True)
class Parsed:
    """A payload the parser understood: who sent it, its id, and the commands it means."""

    source: str
    event_id: str | None
    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A payload the parser refused, with one entry per bad field."""

    errors: list[dict[str, object]]
    source: str | None = None
    event_id: str | None = None


class Parser(Protocol):
    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


# Carrier polling (`wismo.services.polling`): accounts, claimed shipments, fetch results.


@dataclass(frozen=True, slots=True)
class CarrierAccount:
    """A store's account at a carrier (integration "carrier:<name>"), used for pulling."""

    id: int
    store_id: int
    carrier: str
    account: str
    credentials: Mapping[str, object]
    settings: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class PollState:
    """What the polling schedule reads of a shipment."""

    milestone: Milestone
    created_at: datetime
    status_at: datetime | None = None
    last_event_at: datetime | None = None
    carrier_eta_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PollTarget:
    """A shipment claimed for one poll."""

    shipment_id: int
    store_id: int
    carrier: str
    tracking_number: str
    poll_failures: int
    last_poll_error: str | None
    state: PollState


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll leaves on the shipment. `refreshed_at` None keeps the stored value."""

    shipment_id: int
    next_poll_at: datetime | None
    poll_failures: int
    last_poll_error: str | None
    refreshed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A carrier's raw tracking response, and a dedup key for its content if known."""

    body: bytes
    event_id: str | None = None


class FetchFailed(Exception):
    """The carrier gave no tracking data. `kind`: unauthorized, not_found, rate_limited,
    carrier_error (and unsupported for a carrier without a client)."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class TrackingFetcher(Protocol):
    def carriers(self) -> frozenset[str]:
        """Carrier names (as shipments spell them) that can be fetched."""
        ...

    def fetch(self, account: CarrierAccount, tracking_number: str) -> Fetched:
        """The carrier's current tracking response; raises `FetchFailed`."""
        ...


class PollingRepository(Protocol):
    """Polling bookkeeping on shipments. Each call is its own committed transaction."""

    def accounts(self, carriers: Collection[str]) -> list[CarrierAccount]:
        """Carrier integrations with polling enabled, for these carriers."""
        ...

    def schedule_new(self, accounts: Sequence[CarrierAccount], now: datetime, limit: int) -> int:
        """Give never-polled open shipments with an account a first poll time (`now`)."""
        ...

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[PollTarget]:
        """Take up to `limit` shipments due by `now`, moving them to `lease_until` so no
        other poller takes them meanwhile (and so they come back if this one dies)."""
        ...

    def poll_states(self, shipment_ids: Collection[int]) -> dict[int, PollState]: ...

    def record(self, outcomes: Sequence[PollOutcome]) -> None: ...

    def open_shipments(self, store_id: int | None) -> list[tuple[str, datetime, datetime | None]]:
        """(carrier, created_at, refreshed_at) of every shipment not finished."""
        ...


# --- Sweeper: time-based checks and re-forecasts (`wismo.services.sweep`) ---------------
# Not frozen: built per due shipment, thousands per sweep, and frozen construction costs
# about twice as much. Treat them as immutable.


@dataclass(slots=True)
class DueShipment:
    """A shipment due for a check, with what the checks and the forecast read."""

    id: int
    store_id: int
    order_id: int
    carrier: str
    service_level: str | None
    origin_region: str | None
    state: ShipmentState
    created_at: datetime
    handed_over_at: datetime | None
    carrier_eta_seen_on: date | None
    predicted: Predicted | None
    estimate_on: date | None
    estimate_source: str | None
    first_estimate_on: date | None
    open_findings: tuple[str, ...]
    placed_at: datetime
    promised_from_on: date | None
    promised_to_on: date | None
    cancelled: bool
    country: str | None  # destination
    region: str | None  # destination region (state, province)
    zone: str  # the customer's time zone, else the store's
    split: bool = False  # the order has other shipments
    arrived_at: datetime | None = None  # at the facility that delivers it, once seen
    destination: Place | None = None  # the shipping address's town and postal code


@dataclass(slots=True)
class TimelineEntry:
    """Something Wismo found out about a shipment: an exception or an estimate revision."""

    store_id: int
    order_id: int
    shipment_id: int
    kind: str  # exception | estimate_revised
    code: str
    reason: str
    detail: Mapping[str, str]
    key: str  # one occurrence: recording the same key twice keeps one row
    occurred_at: datetime


@dataclass(slots=True)
class CheckResult:
    shipment_id: int
    next_check_at: datetime | None
    handed_over_at: datetime | None
    predicted: Predicted | None
    predicted_at: datetime
    carrier_eta_seen_on: date | None
    shown: Shown | None
    open_findings: tuple[str, ...]
    timeline: tuple[TimelineEntry, ...]
    arrived_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivered shipment, as the delivery-time model learns from it."""

    shipment_id: int
    carrier: str
    service_level: str | None
    origin_region: str | None
    country: str | None
    region: str | None
    placed_at: datetime
    handed_over_at: datetime | None
    delivered_at: datetime
    zone: str  # the customer's time zone, else the store's
    promised_to_on: date | None = None
    arrived_at: datetime | None = None


class SweepBatch(Protocol):
    """One transaction of the sweeper; the claimed rows stay locked until `commit`."""

    def due(self, now: datetime, limit: int) -> list[DueShipment]: ...

    def siblings(self, order_ids: Collection[int]) -> dict[int, list[tuple[int, datetime | None]]]:
        """Per order: (shipment id, delivered_at) of its shipments that are not cancelled."""
        ...

    def handovers(self, shipment_ids: Collection[int]) -> dict[int, datetime]:
        """When each shipment got its first carrier scan (after the label), where it has."""
        ...

    def transit_scans(
        self, shipment_ids: Collection[int]
    ) -> dict[int, list[tuple[datetime, str | None, Place | None]]]:
        """Per shipment: its in-transit scans (when, the carrier's text, where), oldest first."""
        ...

    def record(self, results: Sequence[CheckResult]) -> dict[str, int]:
        """Store the results; returns how many timeline entries were new, per kind."""
        ...

    def notify(self, facts: Sequence[PlannedFact], now: datetime) -> int:
        """Plan messages for new findings in this batch's transaction (the outbox)."""
        ...

    def commit(self) -> None: ...


class SweepRepository(Protocol):
    def batch(self) -> AbstractContextManager[SweepBatch]: ...

    def deliveries(self, store_id: int, after: datetime | None, limit: int) -> list[Delivery]:
        """Delivered shipments of a store, oldest first: the `limit` most recent ones when
        `after` is None, else those delivered at or after it."""
        ...

    def timeline(self, store_id: int, order_id: int) -> list[TimelineEntry]: ...


# -- notifications (docs/notifications.md) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedFact:
    """A fact that may become messages: planned in the transaction that recorded it.

    `occurrence` tells one occurrence of the fact from another (the instant a milestone was
    reached, a finding's key); with the trigger and channel it makes the idempotency key.
    """

    trigger: str
    occurrence: str
    order_id: int | None = None
    shipment_id: int | None = None
    detail: Mapping[str, object] = field(default_factory=dict)


class NotificationPlanner(Protocol):
    def plan(self, facts: Sequence[PlannedFact], now: datetime) -> int:
        """Write the outbox rows for `facts` (none for a fact already planned); how many."""
        ...


@dataclass(slots=True)
class Claimed:
    """A notification the relay holds a lease on."""

    id: int
    store_id: int
    order_id: int
    shipment_id: int | None
    trigger: str
    channel: str
    recipient: str
    language: str
    template: str
    payload: dict[str, object]
    idempotency_key: str
    attempts: int
    was_sending: bool  # a lease taken over from a worker that died mid-send
    order_number: str
    store_name: str
    store_slug: str
    time_zone: str
    milestone: str | None
    order_cancelled: bool
    sent_last_day: int
    created_at: datetime  # fixes the signed link's expiry: a resend has the same text
    past_commit_point: bool = False  # the holder before got to Message.commit_point
