"""Wismo's canonical event schema, version 1, and its translation into commands.

An event is one JSON object (one line of an NDJSON batch):

    {"version": 1, "id": "evt-123", "source": "oms", "type": "tracking.event",
     "data": {...}}

`id` is unique per `source`; the pair deduplicates. The `data` shape per `type` is the model
of the same name below; `docs/events.md` documents them with examples. Unknown fields are
refused rather than ignored, so a typo is a 422 and not silently lost data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import phonenumbers
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from wismo.domain.commands import (
    CancelOrder,
    Command,
    CreateShipment,
    RecordTrackingEvent,
    UpsertCustomer,
    UpsertOrder,
    UpsertRefund,
    UpsertReturn,
)
from wismo.domain.milestones import MILESTONE_OF, Milestone, Reason
from wismo.domain.model import (
    Address,
    Channel,
    Customer,
    Location,
    Money,
    Order,
    OrderLine,
    RefundMethod,
    RefundState,
    ReturnState,
    ShipmentLine,
    TrackingEvent,
    zone_label,
)
from wismo.ingestion.carriers.registry import canonical_carrier
from wismo.services.ports import Inbound, Parsed, Rejected

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", to_upper=True)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

ORDER_STAGES = {
    "placed": Milestone.ORDER_PLACED,
    "confirmed": Milestone.CONFIRMED,
    "awaiting_fulfilment": Milestone.AWAITING_FULFILMENT,
}

# Milestones a tracking event may carry: the order-level ones come from order events.
SHIPMENT_MILESTONES = [m for m in Milestone if m not in ORDER_STAGES.values()]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise ValueError("not an email address")
    return value


def _phone(value: str | None, info: ValidationInfo) -> str | None:
    """E.164, using the store's country for numbers written without a country code."""
    if value is None:
        return None
    region = (info.context or {}).get("region")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


class AddressIn(_Model):
    name: Text | None = None
    line1: Text | None = None
    line2: Text | None = None
    city: Text | None = None
    region: Text | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Country | None = None


class LocationIn(_Model):
    city: Text | None = None
    region: Text | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Country | None = None
    facility: Text | None = None


class LineIn(_Model):
    line_ref: Ref
    title: Text
    quantity: int = Field(gt=0, le=100_000)
    sku: Ref | None = None
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    image_url: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ShipmentLineIn(_Model):
    line_ref: Ref
    quantity: int = Field(gt=0, le=100_000)


class CustomerData(_Model):
    external_id: Ref
    name: Text | None = None
    emails: list[str] = Field(default_factory=list, max_length=20)
    phones: list[str] = Field(default_factory=list, max_length=20)
    language: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None
    ) = None
    time_zone: Ref | None = None
    consent: dict[Channel, bool] = Field(default_factory=dict)

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return [e for e in (_email(v) for v in value) if e]

    @field_validator("phones")
    @classmethod
    def _phones(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [p for p in (_phone(v, info) for v in value) if p]

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            _check_zone(value)
        return value


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone name") from None


class PromiseIn(_Model):
    from_on: date | None = None
    to_on: date

    @model_validator(mode="after")
    def _ordered(self) -> PromiseIn:
        if self.from_on is not None and self.from_on > self.to_on:
            raise ValueError("from_on is after to_on")
        return self


class OrderData(_Model):
    order_number: Ref
    placed_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    currency: Currency
    status: Literal["placed", "confirmed", "awaiting_fulfilment"] = "placed"
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    customer_external_id: Ref | None = None
    email: str | None = None
    phone: str | None = None
    shipping_address: AddressIn | None = None
    promised_delivery: PromiseIn | None = None
    confirmed_at: AwareDatetime | None = None
    total: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)

    @field_validator("email")
    @classmethod
    def _email_check(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("phone")
    @classmethod
    def _phone_check(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _phone(value, info)


class OrderCancelledData(_Model):
    order_number: Ref
    cancelled_at: AwareDatetime
    reason: Text | None = None


class ShipmentData(_Model):
    order_number: Ref
    shipment_ref: Ref
    carrier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    tracking_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None
    ) = None
    service_level: Text | None = None
    lines: list[ShipmentLineIn] = Field(default_factory=list, max_length=1000)
    created_at: AwareDatetime
    estimated_delivery_at: AwareDatetime | None = None
    origin_region: Text | None = None


class TrackingData(_Model):
    shipment_ref: Ref | None = None
    carrier: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    tracking_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None
    order_number: Ref | None = None
    milestone: Literal[tuple(m.value for m in SHIPMENT_MILESTONES)]  # type: ignore[valid-type]
    reason: Reason = Reason.NONE
    raw_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    location: LocationIn | None = None
    occurred_at: AwareDatetime
    occurred_tz: Annotated[str, StringConstraints(max_length=64)] | None = None
    estimated_delivery_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _names_a_shipment(self) -> TrackingData:
        if not self.shipment_ref and not self.tracking_number:
            raise ValueError("give shipment_ref, or tracking_number (with carrier if known)")
        return self


class ReturnData(_Model):
    order_number: Ref
    return_ref: Ref
    state: ReturnState
    updated_at: AwareDatetime
    reason: Text | None = None
    lines: list[ShipmentLineIn] = Field(default_factory=list, max_length=1000)
    carrier: Annotated[str, StringConstraints(max_length=64)] | None = None
    tracking_number: Annotated[str, StringConstraints(max_length=64)] | None = None


class RefundData(_Model):
    order_number: Ref
    refund_ref: Ref
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    currency: Currency
    method: RefundMethod = RefundMethod.ORIGINAL_PAYMENT
    state: RefundState
    updated_at: AwareDatetime
    processed_at: AwareDatetime | None = None
    expected_by_on: date | None = None
    return_ref: Ref | None = None


class _Envelope(_Model):
    version: Literal[1] = 1
    id: Ref
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class CustomerUpserted(_Envelope):
    type: Literal["customer.upserted"]
    data: CustomerData


class OrderCreated(_Envelope):
    type: Literal["order.created", "order.updated"]
    data: OrderData


class OrderCancelled(_Envelope):
    type: Literal["order.cancelled"]
    data: OrderCancelledData


class ShipmentCreated(_Envelope):
    type: Literal["shipment.created"]
    data: ShipmentData


class TrackingRecorded(_Envelope):
    type: Literal["tracking.event"]
    data: TrackingData


class ReturnChanged(_Envelope):
    type: Literal["return.created", "return.updated"]
    data: ReturnData


class RefundChanged(_Envelope):
    type: Literal["refund.created", "refund.updated"]
    data: RefundData


Event = Annotated[
    CustomerUpserted
    | OrderCreated
    | OrderCancelled
    | ShipmentCreated
    | TrackingRecorded
    | ReturnChanged
    | RefundChanged,
    Field(discriminator="type"),
]
EVENT = TypeAdapter(Event)
EVENT_TYPES = sorted(
    t
    for model in (
        CustomerUpserted,
        OrderCreated,
        OrderCancelled,
        ShipmentCreated,
        TrackingRecorded,
        ReturnChanged,
        RefundChanged,
    )
    for t in model.model_fields["type"].annotation.__args__  # type: ignore[union-attr]
)


def to_commands(store_id: int, event: Any, received_at: datetime) -> tuple[Command, ...]:
    """Translate a validated event into domain commands."""
    d = event.data
    # Tracking events first: they are most of the traffic.
    match event:
        case TrackingRecorded():
            loc = d.location
            return (
                RecordTrackingEvent(
                    store_id=store_id,
                    shipment_ref=d.shipment_ref,
                    carrier=canonical_carrier(d.carrier) if d.carrier else None,
                    tracking_number=d.tracking_number,
                    order_number=d.order_number,
                    event=TrackingEvent(
                        milestone=MILESTONE_OF[d.milestone],
                        reason=d.reason,
                        occurred_at=d.occurred_at.astimezone(UTC),
                        occurred_tz=d.occurred_tz or zone_label(d.occurred_at),
                        source=event.source,
                        received_at=received_at,
                        raw_code=d.raw_code,
                        description=d.description,
                        location=(
                            Location(
                                loc.city, loc.region, loc.postal_code, loc.country, loc.facility
                            )
                            if loc
                            else None
                        ),
                        estimated_delivery_at=d.estimated_delivery_at,
                    ),
                ),
            )
        case CustomerUpserted():
            return (
                UpsertCustomer(
                    Customer(
                        store_id=store_id,
                        external_id=d.external_id,
                        name=d.name,
                        emails=d.emails,
                        phones=d.phones,
                        language=d.language,
                        time_zone=d.time_zone,
                        consent=dict(d.consent),
                    )
                ),
            )
        case OrderCreated():
            address = d.shipping_address
            promise = d.promised_delivery
            return (
                UpsertOrder(
                    Order(
                        store_id=store_id,
                        order_number=d.order_number,
                        placed_at=d.placed_at,
                        currency=d.currency,
                        lines=[
                            OrderLine(
                                line_ref=ln.line_ref,
                                title=ln.title,
                                quantity=ln.quantity,
                                sku=ln.sku,
                                unit_price=ln.unit_price,
                                image_url=ln.image_url,
                            )
                            for ln in d.lines
                        ],
                        customer_external_id=d.customer_external_id,
                        email=d.email,
                        phone=d.phone,
                        shipping_address=Address(**address.model_dump()) if address else None,
                        promised_from_on=promise.from_on if promise else None,
                        promised_to_on=promise.to_on if promise else None,
                        confirmed_at=d.confirmed_at,
                        total=d.total,
                        source_updated_at=d.updated_at or d.placed_at,
                    ),
                    stage=ORDER_STAGES[d.status],
                ),
            )
        case OrderCancelled():
            return (CancelOrder(store_id, d.order_number, d.cancelled_at, d.reason),)
        case ShipmentCreated():
            return (
                CreateShipment(
                    store_id=store_id,
                    order_number=d.order_number,
                    shipment_ref=d.shipment_ref,
                    carrier=canonical_carrier(d.carrier),
                    tracking_number=d.tracking_number,
                    created_at=d.created_at,
                    lines=tuple(ShipmentLine(ln.line_ref, ln.quantity) for ln in d.lines),
                    service_level=d.service_level,
                    carrier_eta_at=d.estimated_delivery_at,
                    origin_region=d.origin_region,
                ),
            )
        case ReturnChanged():
            return (
                UpsertReturn(
                    store_id=store_id,
                    order_number=d.order_number,
                    return_ref=d.return_ref,
                    state=d.state,
                    updated_at=d.updated_at,
                    reason=d.reason,
                    lines=tuple(ShipmentLine(ln.line_ref, ln.quantity) for ln in d.lines),
                    carrier=d.carrier,
                    tracking_number=d.tracking_number,
                ),
            )
        case RefundChanged():
            return (
                UpsertRefund(
                    store_id=store_id,
                    order_number=d.order_number,
                    refund_ref=d.refund_ref,
                    amount=Money(d.amount, d.currency),
                    method=d.method,
                    state=d.state,
                    updated_at=d.updated_at,
                    processed_at=d.processed_at,
                    expected_by_on=d.expected_by_on,
                    return_ref=d.return_ref,
                ),
            )
    raise TypeError(f"unhandled event {type(event).__name__}")


def errors_of(exc: ValidationError) -> list[dict[str, object]]:
    """Pydantic's errors, trimmed to what a caller needs: where, what, and the rule."""
    out: list[dict[str, object]] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "." in p)]
        msg = err["msg"]
        if err["type"] == "json_invalid":
            msg = "body is not valid JSON (UTF-8): " + str(err.get("ctx", {}).get("error", ""))
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown event type; expected one of {', '.join(EVENT_TYPES)}"
            loc = ["type"]
        elif err["type"] == "union_tag_not_found":
            msg = "field required: type"
            loc = ["type"]
        elif err["type"] == "timezone_aware":
            msg = "timestamp needs a time zone offset, e.g. 2026-11-28T09:14:00+01:00"
        out.append({"loc": loc, "msg": msg, "type": err["type"]})
    return out


class CanonicalParser:
    """The `Parser` port for canonical events.

    `region_of` gives a store's country, used to read phone numbers written without a
    country code.
    """

    def __init__(
        self, region_of: Callable[[int], str | None], clock: Callable[[], datetime]
    ) -> None:
        self._region_of = region_of
        self._clock = clock
        self._contexts: dict[int, dict[str, str | None]] = {}

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        body = inbound.body
        context = self._contexts.get(store_id)
        if context is None:
            context = self._contexts[store_id] = {"region": self._region_of(store_id)}
        try:
            event = EVENT.validate_json(body, context=context)
        except ValidationError as exc:
            source, event_id = _claimed_identity(body)
            return Rejected(errors_of(exc), source, event_id)
        return Parsed(event.source, event.id, to_commands(store_id, event, self._clock()))


def _claimed_identity(body: bytes) -> tuple[str | None, str | None]:
    """The source and id a rejected payload claims, for operators; never trusted."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(raw, dict):
        return None, None
    source, event_id = raw.get("source"), raw.get("id")
    return (
        source[:64] if isinstance(source, str) else None,
        event_id[:200] if isinstance(event_id, str) else None,
    )
