"""Shopify resources -> Wismo commands.

References: an order is named by its Shopify `name` without the leading "#" ("#1001" ->
"1001"), the number customers see; lines by Shopify's line item id; shipments, returns and
refunds by "shopify-" and Shopify's id (a fulfillment with several tracking numbers becomes
one shipment per number: "shopify-<id>", "shopify-<id>-2", ...).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import phonenumbers

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
from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import (
    Address,
    Channel,
    Customer,
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
from wismo.ingestion.canonical import _email
from wismo.ingestion.shopify import payloads as p

SOURCE = "shopify"

# Fulfillment `shipment_status` (REST) and the fulfillment event statuses Shopify also
# reports there. "picked_up" is the customer collecting a local-pickup order, so delivered;
# the carrier collecting a parcel is "carrier_picked_up". "failure" means Shopify could not
# track the parcel (bad number, parcel cancelled): a problem, not a verdict.
SHIPMENT_STATUS: dict[str, tuple[Milestone, Reason]] = {
    "label_purchased": (Milestone.LABEL_CREATED, Reason.NONE),
    "label_printed": (Milestone.LABEL_CREATED, Reason.NONE),
    "confirmed": (Milestone.LABEL_CREATED, Reason.NONE),  # carrier knows, has not scanned
    "carrier_picked_up": (Milestone.PICKED_UP, Reason.NONE),
    "in_transit": (Milestone.IN_TRANSIT, Reason.NONE),
    "out_for_delivery": (Milestone.OUT_FOR_DELIVERY, Reason.NONE),
    "attempted_delivery": (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.NONE),
    "ready_for_pickup": (Milestone.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "picked_up": (Milestone.DELIVERED, Reason.NONE),
    "delivered": (Milestone.DELIVERED, Reason.NONE),
    "delayed": (Milestone.EXCEPTION, Reason.CARRIER_DELAY),
    "failure": (Milestone.EXCEPTION, Reason.OTHER),
}

# Fulfillment `status` values meaning the fulfillment will not ship.
DEAD_FULFILLMENT = frozenset({"cancelled", "error", "failure"})

RETURN_STATUS: dict[str, ReturnState] = {
    "requested": ReturnState.REQUESTED,
    "open": ReturnState.APPROVED,
    "declined": ReturnState.DECLINED,
    "closed": ReturnState.CLOSED,
    "canceled": ReturnState.CANCELLED,
    "cancelled": ReturnState.CANCELLED,
}

# financial_status values meaning the merchant has the money (or its promise).
_PAID = frozenset({"authorized", "paid", "partially_paid", "partially_refunded", "refunded"})

# Shopify's tracking_company names -> Wismo carrier codes, compared lower-cased with only
# letters and digits kept. A name not listed is kept as a code ("Evri" -> "evri").
CARRIERS: dict[str, str] = {
    "ups": "ups",
    "upsmailinnovations": "ups",
    "fedex": "fedex",
    "usps": "usps",
    "dhlexpress": "dhl_express",
    "dhl": "dhl",
    "dhlecommerce": "dhl_ecommerce",
    "dhlecommerceasia": "dhl_ecommerce",
    "dhlparcel": "dhl_parcel_de",
    "dhlpaket": "dhl_parcel_de",
    "deutschepost": "deutschepost",
    "deutschepostde": "deutschepost",
    "deutscheposten": "deutschepost",
    "canadapost": "canadapost",
    "royalmail": "royalmail",
    "parcelforce": "parcelforce",
    "australiapost": "australiapost",
    "laposte": "laposte",
    "colissimo": "colissimo",
    "dpd": "dpd",
    "dpduk": "dpd",
    "dpdlocal": "dpd",
    "gls": "gls",
    "glsus": "gls",
    "ontrac": "ontrac",
    "lasership": "lasership",
    "purolator": "purolator",
    "canpar": "canpar",
    "evri": "evri",
    "hermes": "evri",
    "postnl": "postnl",
    "postnlinternational": "postnl",
    "sendle": "sendle",
    "asendiausa": "asendia",
    "asendia": "asendia",
    "yunexpress": "yunexpress",
    "startrack": "startrack",
    "amazonlogisticsus": "amazon",
    "amazonlogisticsuk": "amazon",
    "chinapost": "chinapost",
    "japanposten": "japanpost",
    "japanpostja": "japanpost",
}
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_SPACES = re.compile(r"[\s\-/]+")
_RETURN_NAME = re.compile(r"^(?P<order>.+)-R\d+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class PayloadError(ValueError):
    """A body that parses but cannot become commands; `loc` names the field."""

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg
        self.kind = kind


def order_number(name: str) -> str:
    """Wismo's order number for a Shopify order name: "#1001" -> "1001"."""
    return name.strip().removeprefix("#").strip()


def order_number_of_fulfillment(name: str | None) -> str | None:
    """The order number inside a fulfillment name: "#1001.2" -> "1001" (documented shape)."""
    if not name or "." not in name:
        return None
    number = order_number(name.rpartition(".")[0])
    return number or None


def order_number_of_return(name: str | None) -> str | None:
    """The order number a return name suggests: "#1001-R1" -> "1001" (to be confirmed)."""
    match = _RETURN_NAME.match(name.strip()) if name else None
    return (order_number(match["order"]) or None) if match else None


def shipment_ref(fulfillment_id: int, index: int = 0) -> str:
    return f"shopify-{fulfillment_id}" if index == 0 else f"shopify-{fulfillment_id}-{index + 1}"


def return_ref(return_id: int) -> str:
    return f"shopify-{return_id}"


def refund_ref(refund_id: int) -> str:
    return f"shopify-{refund_id}"


def carrier_code(company: str | None) -> str:
    """Wismo's carrier code for Shopify's `tracking_company` ("other" when none is given)."""
    if not company or not company.strip():
        return "other"
    key = _NOT_ALNUM.sub("", company.lower())
    if not key:
        return "other"
    return CARRIERS.get(key) or _SPACES.sub("_", company.strip().lower())[:64]


def _text(value: str | None, limit: int = 500) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:limit] if value else None


def _valid_email(value: str | None) -> str | None:
    """A lower-cased email address, or None: a bad address does not lose the order."""
    if not value:
        return None
    try:
        return _email(value)
    except ValueError:
        return None


def e164(value: str | None, region: str | None) -> str | None:
    """The phone number in E.164, reading local numbers in `region`; None when invalid."""
    if not value or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _language(value: str | None) -> str | None:
    return value if value and _LANGUAGE.fullmatch(value) else None


def _consent(value: p.Consent | None) -> bool | None:
    """Marketing consent: subscribed is yes; pending (double opt-in unconfirmed) is not known."""
    if value is None or not value.state:
        return None
    state = value.state.lower()
    if state == "subscribed":
        return True
    if state == "pending":
        return None
    return False  # not_subscribed, unsubscribed, redacted, invalid


def _name(first: str | None, last: str | None) -> str | None:
    return _text(" ".join(part.strip() for part in (first, last) if part and part.strip()))


def customer(
    store_id: int, c: p.Customer, *, locale: str | None, region: str | None
) -> UpsertCustomer:
    home = c.default_address.country_code if c.default_address else None
    consent: dict[Channel, bool] = {}
    for channel, value in (
        (Channel.EMAIL, _consent(c.email_marketing_consent)),
        (Channel.SMS, _consent(c.sms_marketing_consent)),
    ):
        if value is not None:
            consent[channel] = value
    email = _valid_email(c.email)
    phone = e164(c.phone, home or region)
    return UpsertCustomer(
        Customer(
            store_id=store_id,
            external_id=str(c.id),
            name=_name(c.first_name, c.last_name),
            emails=[email] if email else [],
            phones=[phone] if phone else [],
            language=_language(c.locale or locale),
            consent=consent,
        )
    )


def _address(a: p.Address | None) -> Address | None:
    if a is None:
        return None
    postal = _text(a.zip, 20)
    country = a.country_code.strip().upper() if a.country_code else None
    return Address(
        name=_text(a.name) or _name(a.first_name, a.last_name),
        line1=_text(a.address1),
        line2=_text(a.address2),
        city=_text(a.city),
        region=_text(a.province_code) or _text(a.province),
        postal_code=postal,
        country=country if country and len(country) == 2 else None,
    )


def _ships(item: p.LineItem) -> bool:
    # Digital goods and gift cards never ship; left in, they would read "not shipped yet"
    # for ever.
    return item.requires_shipping is not False


def _quantity(item: p.LineItem) -> int:
    return item.current_quantity if item.current_quantity is not None else item.quantity


def _order_line(item: p.LineItem) -> OrderLine:
    return OrderLine(
        line_ref=str(item.id),
        title=_text(item.name) or _text(item.title) or f"Item {item.id}",
        quantity=_quantity(item),
        sku=_text(item.sku, 100),
        unit_price=item.price,
    )


def order_commands(
    store_id: int, o: p.Order, *, region: str | None, received_at: datetime
) -> list[Command]:
    """A whole order snapshot: customer, order, cancellation, shipments and refunds."""
    number = order_number(o.name)
    if not number:
        raise PayloadError(["name"], "the order has no name (its number, e.g. #1001)")
    country = o.shipping_address.country_code if o.shipping_address else None
    commands: list[Command] = []
    if o.customer is not None:
        commands.append(
            customer(store_id, o.customer, locale=o.customer_locale, region=country or region)
        )
    if o.cancelled_at is not None:
        stage = Milestone.CANCELLED
    elif (o.financial_status or "").lower() in _PAID:
        stage = Milestone.CONFIRMED
    else:
        stage = Milestone.ORDER_PLACED
    email = _valid_email(o.email) or _valid_email(o.contact_email)
    phone_region = country or region
    phone = e164(o.phone, phone_region) or (
        e164(o.shipping_address.phone, phone_region) if o.shipping_address else None
    )
    order = Order(
        store_id=store_id,
        order_number=number,
        # processed_at is the date Shopify shows on the order (earlier than created_at for
        # orders imported from another platform).
        placed_at=o.processed_at or o.created_at,
        currency=o.currency,
        lines=[_order_line(li) for li in o.line_items or () if _ships(li) and _quantity(li) > 0],
        customer_external_id=str(o.customer.id) if o.customer else None,
        email=email,
        phone=phone,
        shipping_address=_address(o.shipping_address),
        cancelled_at=o.cancelled_at,
        cancel_reason=_text(o.cancel_reason),
        total=o.total_price,
        # Shopify's own clock orders snapshots: a late webhook never overwrites newer data.
        source_updated_at=o.updated_at or o.created_at,
    )
    commands.append(UpsertOrder(order, stage))
    if o.cancelled_at is not None:
        # Also on its own: a cancellation must stick even when the snapshot carrying it
        # arrives after a newer one and is ignored.
        commands.append(CancelOrder(store_id, number, o.cancelled_at, _text(o.cancel_reason)))
    for f in o.fulfillments or ():
        commands.extend(fulfillment_commands(store_id, number, f, received_at=received_at))
    currency = o.presentment_currency or o.currency
    for r in o.refunds or ():
        refund = refund_command(store_id, number, r, fallback_currency=currency)
        if refund is not None:
            commands.append(refund)
    return commands


def fulfillment_commands(
    store_id: int, number: str, f: p.Fulfillment, *, received_at: datetime
) -> list[Command]:
    """One shipment per tracking number (the first carries the fulfillment's items), then
    the fulfillment's status as a scan on each."""
    numbers = list(
        dict.fromkeys(
            n.strip()[:64]
            for n in (f.tracking_number, *(f.tracking_numbers or ()))
            if n and n.strip()
        )
    )
    carrier = carrier_code(f.tracking_company)
    lines = tuple(
        ShipmentLine(str(li.id), li.quantity)
        for li in f.line_items or ()
        if _ships(li) and li.quantity > 0
    )
    refs = [shipment_ref(f.id, i) for i in range(max(len(numbers), 1))]
    # No service level: the fulfillment's `service` is a fulfillment service handle
    # ("manual"), not the shipping speed.
    commands: list[Command] = [
        CreateShipment(
            store_id=store_id,
            order_number=number,
            shipment_ref=ref,
            carrier=carrier,
            tracking_number=numbers[i] if i < len(numbers) else None,
            created_at=f.created_at,
            lines=lines if i == 0 else (),
        )
        for i, ref in enumerate(refs)
    ]
    at = f.updated_at or f.created_at
    status = (f.status or "").lower()
    shipment_status = (f.shipment_status or "").lower()
    if status in DEAD_FULFILLMENT:
        milestone, reason, code = Milestone.CANCELLED, Reason.NONE, f"fulfillment_{status}"
        description = f"Shipment {status} in Shopify"
    elif shipment_status in SHIPMENT_STATUS:
        milestone, reason = SHIPMENT_STATUS[shipment_status]
        code = shipment_status
        description = shipment_status.replace("_", " ").capitalize()
    else:
        return commands
    for ref in refs:
        commands.append(
            RecordTrackingEvent(
                store_id=store_id,
                shipment_ref=ref,
                event=TrackingEvent(
                    milestone=milestone,
                    reason=reason,
                    occurred_at=at.astimezone(UTC),
                    occurred_tz=zone_label(at),
                    source=SOURCE,
                    received_at=received_at,
                    raw_code=code,
                    description=description,
                ),
            )
        )
    return commands


def _refund_method(transactions: list[p.Transaction]) -> RefundMethod:
    gateways = {(t.gateway or "").lower() for t in transactions}
    if gateways == {"gift_card"}:
        return RefundMethod.GIFT_CARD
    if gateways and all("store_credit" in g for g in gateways):
        return RefundMethod.STORE_CREDIT
    return RefundMethod.ORIGINAL_PAYMENT


def refund_currency(r: p.Refund) -> str | None:
    """The refund's currency when its transactions do not say (they often send null)."""
    sets = [ln.subtotal_set for ln in r.refund_line_items or ()] + [r.total_duties_set]
    for money_set in sets:
        for money in (money_set.presentment_money, money_set.shop_money) if money_set else ():
            if money is not None and money.currency_code:
                return money.currency_code
    return None


def _refund_transactions(r: p.Refund) -> list[p.Transaction]:
    return [t for t in r.transactions or () if (t.kind or "refund").lower() == "refund"]


def pays_back(r: p.Refund) -> bool:
    """Whether the refund moves money (a restock-only refund has no transaction)."""
    return bool(_refund_transactions(r))


def refund_command(
    store_id: int, number: str, r: p.Refund, *, fallback_currency: str | None
) -> UpsertRefund | None:
    """The money side of a refund; None for a refund that pays nothing back (a restock)."""
    transactions = _refund_transactions(r)
    if not transactions:
        return None
    succeeded = [t for t in transactions if (t.status or "").lower() == "success"]
    pending = [t for t in transactions if (t.status or "").lower() == "pending"]
    counted = succeeded or pending or transactions
    if succeeded:
        state = RefundState.PROCESSED
    elif pending:
        state = RefundState.PENDING
    else:
        state = RefundState.FAILED
    currency = next((t.currency for t in counted if t.currency), None) or fallback_currency
    if not currency or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise PayloadError(["transactions", "currency"], "the refund's currency is not given")
    moments = [r.created_at, *(m for m in (r.processed_at,) if m)]
    moments += [m for t in counted for m in (t.processed_at, t.created_at) if m]
    processed_at = None
    if state is RefundState.PROCESSED:
        done = [m for t in succeeded for m in (t.processed_at, t.created_at) if m]
        processed_at = r.processed_at or (max(done) if done else r.created_at)
    return UpsertRefund(
        store_id=store_id,
        order_number=number,
        refund_ref=refund_ref(r.id),
        amount=Money(sum((t.amount for t in counted), Decimal(0)), currency.upper()),
        method=_refund_method(counted),
        state=state,
        updated_at=max(moments),
        processed_at=processed_at,
        return_ref=return_ref(r.return_.id) if r.return_ else None,
    )


def return_state(topic: str, status: str | None) -> ReturnState:
    """The payload's status when it gives a known one, else what the topic says."""
    found = RETURN_STATUS.get((status or "").lower())
    if found is not None:
        return found
    return {
        "returns/request": ReturnState.REQUESTED,
        "returns/approve": ReturnState.APPROVED,
        "returns/decline": ReturnState.DECLINED,
        "returns/close": ReturnState.CLOSED,
        "returns/cancel": ReturnState.CANCELLED,
    }[topic]


def return_line_refs(r: p.Return) -> tuple[str, ...]:
    return tuple(
        str(ln.fulfillment_line_item.line_item.id)
        for ln in r.return_line_items or ()
        if ln.fulfillment_line_item and ln.fulfillment_line_item.line_item
    )


def return_command(
    store_id: int, number: str, topic: str, r: p.Return, *, received_at: datetime
) -> UpsertReturn:
    lines = tuple(
        ShipmentLine(str(ln.fulfillment_line_item.line_item.id), ln.quantity)
        for ln in r.return_line_items or ()
        if ln.fulfillment_line_item and ln.fulfillment_line_item.line_item and ln.quantity > 0
    )
    reasons = [ln.return_reason for ln in r.return_line_items or () if ln.return_reason]
    if r.decline and r.decline.reason:
        reasons = [r.decline.reason]
    return UpsertReturn(
        store_id=store_id,
        order_number=number,
        return_ref=return_ref(r.id),
        state=return_state(topic, r.status),
        # Return webhooks carry no timestamp: the time Wismo received it stands in.
        updated_at=r.updated_at or r.created_at or received_at,
        reason=_text(", ".join(dict.fromkeys(reasons))) if reasons else None,
        lines=lines,
    )
