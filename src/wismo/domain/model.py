"""The order record: customers, orders, shipments, tracking events, returns and refunds.

Plain dataclasses. Every datetime is time-zone aware (instants are compared in UTC; the
zone the event happened in is kept next to it as `*_tz` so it can be shown in local time).
Money is a `Decimal` amount plus an ISO 4217 currency, never a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from wismo.domain.milestones import Milestone, Reason


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    VOICE = "voice"
    CHAT = "chat"


class ReturnState(StrEnum):
    """A return's own lifecycle, separate from the tracking of its parcel."""

    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# A return moves forward through these stages; a late or replayed update that would move it
# back is ignored. DECLINED, CLOSED and CANCELLED end it.
RETURN_STAGE: dict[ReturnState, int] = {
    ReturnState.REQUESTED: 0,
    ReturnState.APPROVED: 1,
    ReturnState.DECLINED: 9,
    ReturnState.IN_TRANSIT: 2,
    ReturnState.RECEIVED: 3,
    ReturnState.INSPECTED: 4,
    ReturnState.CLOSED: 9,
    ReturnState.CANCELLED: 9,
}


class RefundState(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundMethod(StrEnum):
    ORIGINAL_PAYMENT = "original_payment"
    STORE_CREDIT = "store_credit"
    GIFT_CARD = "gift_card"
    BANK_TRANSFER = "bank_transfer"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Address:
    name: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


@dataclass(slots=True)
class Location:
    """Where a scan happened, as precise as the carrier says."""

    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    facility: str | None = None

    def describe(self) -> str | None:
        parts = [p for p in (self.facility, self.city, self.region, self.country) if p]
        return ", ".join(parts) if parts else None


@dataclass(slots=True)
class Customer:
    store_id: int
    external_id: str
    name: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)  # E.164
    language: str | None = None  # BCP 47, e.g. "en", "fr-CA"
    time_zone: str | None = None  # IANA name
    consent: dict[Channel, bool] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_ref: str
    title: str
    quantity: int
    sku: str | None = None
    unit_price: Decimal | None = None
    image_url: str | None = None


@dataclass(slots=True)
class Order:
    store_id: int
    order_number: str
    placed_at: datetime
    currency: str
    lines: list[OrderLine] = field(default_factory=list)
    customer_external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    shipping_address: Address | None = None
    promised_from_on: date | None = None
    promised_to_on: date | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    total: Decimal | None = None
    source_updated_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    line_ref: str
    quantity: int


@dataclass(slots=True)
class TrackingEvent:
    """One carrier scan (or a synthetic milestone), normalised. Treat as immutable.

    Not a frozen dataclass on purpose: frozen construction costs several times more, and
    one of these is built per event on the ingestion hot path.

    `occurred_at` is aware; `occurred_tz` keeps the zone or offset the carrier reported so
    that "Tuesday 09:14 in Leeds" can be shown as the carrier meant it.
    """

    milestone: Milestone
    occurred_at: datetime
    source: str
    received_at: datetime
    reason: Reason = Reason.NONE
    raw_code: str | None = None
    description: str | None = None
    location: Location | None = None
    occurred_tz: str | None = None
    estimated_delivery_at: datetime | None = None
    # How the milestone was decided: "source" (the sender gave it), "code" (carrier code
    # table), "message" (classifier over the carrier's text), "unmapped" (nothing matched).
    mapped_by: str = "source"
    # Identity of a scan regardless of which source reported it: the same scan often
    # arrives twice (a webhook and a poll, or a replay); same instant, milestone and code
    # means the same scan. Computed once: the hot path reads it several times per event.
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.fingerprint = scan_fingerprint(self.occurred_at, self.milestone, self.raw_code)


def zone_label(moment: datetime) -> str | None:
    """The offset an aware datetime was given in, as "+01:00" (or "Z" for UTC)."""
    offset = moment.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds()) // 60
    if not minutes:
        return "Z"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def scan_fingerprint(occurred_at: datetime, milestone: Milestone, raw_code: str | None) -> str:
    # Whole seconds since the epoch: sources disagree on sub-second precision and zones.
    # A StrEnum formats as its value, without the slower `.value` descriptor.
    return f"{int(occurred_at.timestamp())}|{milestone}|{raw_code or ''}"


@dataclass(slots=True)
class Return:
    order_id: int
    return_ref: str
    state: ReturnState
    requested_at: datetime
    updated_at: datetime
    reason: str | None = None
    lines: list[ShipmentLine] = field(default_factory=list)
    carrier: str | None = None
    tracking_number: str | None = None
    id: int | None = None


@dataclass(slots=True)
class Refund:
    order_id: int
    refund_ref: str
    amount: Money
    method: RefundMethod
    state: RefundState
    updated_at: datetime
    processed_at: datetime | None = None
    expected_by_on: date | None = None
    return_ref: str | None = None
    id: int | None = None
