"""Commands: what a source asks the order record to do, in the imperative.

Every inbound payload, whatever its wire format (Wismo's canonical events, Shopify, a
carrier), becomes one of these before any state changes. Orders and shipments are named by
the source's own references (order number, shipment reference), never by Wismo's ids, so a
command can arrive before the thing it refers to and wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from wismo.domain.milestones import Milestone
from wismo.domain.model import (
    Customer,
    Money,
    Order,
    RefundMethod,
    RefundState,
    ReturnState,
    ShipmentLine,
    TrackingEvent,
)


@dataclass(frozen=True, slots=True)
class UpsertCustomer:
    customer: Customer


@dataclass(frozen=True, slots=True)
class UpsertOrder:
    """Create or update an order from a full snapshot; older snapshots are ignored."""

    order: Order
    stage: Milestone = Milestone.ORDER_PLACED


@dataclass(frozen=True, slots=True)
class CancelOrder:
    store_id: int
    order_number: str
    cancelled_at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CreateShipment:
    store_id: int
    order_number: str
    shipment_ref: str
    carrier: str
    tracking_number: str | None
    created_at: datetime
    lines: tuple[ShipmentLine, ...] = ()
    service_level: str | None = None
    carrier_eta_at: datetime | None = None
    origin_region: str | None = None


@dataclass(slots=True)
class RecordTrackingEvent:
    """A scan for a shipment named by its reference, or by carrier and tracking number.

    Carriers recycle tracking numbers, so a number alone is resolved to the newest shipment
    of the store that carries it and is not long finished (see the storage repository).
    """

    store_id: int
    event: TrackingEvent
    shipment_ref: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    order_number: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertReturn:
    store_id: int
    order_number: str
    return_ref: str
    state: ReturnState
    updated_at: datetime
    reason: str | None = None
    lines: tuple[ShipmentLine, ...] = ()
    carrier: str | None = None
    tracking_number: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertRefund:
    store_id: int
    order_number: str
    refund_ref: str
    amount: Money
    method: RefundMethod
    state: RefundState
    updated_at: datetime
    processed_at: datetime | None = None
    expected_by_on: date | None = None
    return_ref: str | None = None


Command = (
    UpsertCustomer
    | UpsertOrder
    | CancelOrder
    | CreateShipment
    | RecordTrackingEvent
    | UpsertReturn
    | UpsertRefund
)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A command that refers to something not known yet; it is retried when that arrives."""

    key: str
    why: str = field(default="")


def order_key(store_id: int, order_number: str) -> str:
    return f"order:{store_id}:{order_number}"


def shipment_key(store_id: int, shipment_ref: str) -> str:
    return f"shipment:{store_id}:{shipment_ref}"


def tracking_key(store_id: int, carrier: str | None, tracking_number: str) -> str:
    return f"tracking:{store_id}:{(carrier or '').lower()}:{tracking_number.upper()}"
