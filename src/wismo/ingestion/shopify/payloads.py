"""The parts of Shopify's webhook bodies Wismo reads (REST Admin API shapes, 2024-10+).

Shopify adds fields in every API version, so unknown fields are ignored (unlike canonical
events, where a typo must be a 422). Ids are JSON numbers; many fields are null in practice
(`customer`, `shipping_address`, `tracking_company`, a transaction's `currency`), so nearly
everything is optional and the mapping decides what a missing value means.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Ref(_Model):
    """A reference to another resource: `{"id": ..., "admin_graphql_api_id": ...}`."""

    id: int


class Address(_Model):
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str | None = None
    phone: str | None = None


class Consent(_Model):
    """`email_marketing_consent` / `sms_marketing_consent`."""

    state: str | None = None


class Customer(_Model):
    id: int
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    email_marketing_consent: Consent | None = None
    sms_marketing_consent: Consent | None = None
    default_address: Address | None = None


class LineItem(_Model):
    id: int
    title: str | None = None
    name: str | None = None
    quantity: int = 0
    # Quantity minus what order edits and refunds removed; absent in older payloads.
    current_quantity: int | None = None
    sku: str | None = None
    price: Decimal | None = None
    requires_shipping: bool | None = None


class Fulfillment(_Model):
    id: int
    order_id: int | None = None
    name: str | None = None  # "#1001.1": the order's name, ".", the fulfillment's number
    status: str | None = None  # pending | open | success | cancelled | error | failure
    shipment_status: str | None = None
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_numbers: list[str | None] | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    line_items: list[LineItem] | None = None


class Money(_Model):
    amount: Decimal
    currency_code: str | None = None


class MoneySet(_Model):
    shop_money: Money | None = None
    presentment_money: Money | None = None


class Transaction(_Model):
    amount: Decimal = Field(ge=0)
    currency: str | None = None
    kind: str | None = None  # refund | sale | capture | authorization | void | ...
    status: str | None = None  # success | pending | failure | error
    gateway: str | None = None
    created_at: AwareDatetime | None = None
    processed_at: AwareDatetime | None = None


class RefundLine(_Model):
    line_item_id: int | None = None
    quantity: int = 0
    subtotal_set: MoneySet | None = None


class Refund(_Model):
    id: int
    order_id: int | None = None
    created_at: AwareDatetime
    processed_at: AwareDatetime | None = None
    transactions: list[Transaction] | None = None
    refund_line_items: list[RefundLine] | None = None
    return_: Ref | None = Field(default=None, alias="return")
    total_duties_set: MoneySet | None = None


class Order(_Model):
    id: int
    name: str = Field(min_length=1, max_length=100)  # "#1001": what the customer knows
    created_at: AwareDatetime
    processed_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    cancel_reason: str | None = None
    financial_status: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    presentment_currency: str | None = None
    total_price: Decimal | None = Field(default=None, ge=0)
    email: str | None = None
    contact_email: str | None = None
    phone: str | None = None
    customer_locale: str | None = None
    customer: Customer | None = None
    shipping_address: Address | None = None
    line_items: list[LineItem] | None = None
    fulfillments: list[Fulfillment] | None = None
    refunds: list[Refund] | None = None


class FulfillmentLineItemRef(_Model):
    id: int | None = None
    line_item: Ref | None = None


class ReturnLine(_Model):
    quantity: int = 0
    return_reason: str | None = None
    fulfillment_line_item: FulfillmentLineItemRef | None = None


class Decline(_Model):
    reason: str | None = None
    note: str | None = None


class Return(_Model):
    """`returns/*`. request and approve carry `order`, close and cancel `order_id`, decline
    neither; none carries a timestamp."""

    id: int
    status: str | None = None  # requested | open | declined | closed | canceled
    name: str | None = None  # "#1001-R1" when Shopify sends it (often null)
    order: Ref | None = None
    order_id: int | None = None
    return_line_items: list[ReturnLine] | None = None
    decline: Decline | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


ORDER = TypeAdapter(Order)
FULFILLMENT = TypeAdapter(Fulfillment)
REFUND = TypeAdapter(Refund)
RETURN = TypeAdapter(Return)
CUSTOMER = TypeAdapter(Customer)
