"""Shopify webhook bodies -> commands, per topic, from fixtures in Shopify's documented shapes.

No database: the order finder is a dictionary standing in for the one bootstrap wires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

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
from wismo.domain.model import Channel, RefundState, ReturnState
from wismo.ingestion.shopify import OrderClues, ShopifyParser, normalise_shop, sign, verify
from wismo.ingestion.shopify.backfill import ExportError, read_export
from wismo.ingestion.shopify.mapping import carrier_code
from wismo.services.ports import Inbound, Parsed, Rejected
from wismo.testing import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
STORE = 7


class Finder:
    """Answers like the database would, and records what it was asked."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = known or {}
        self.asked: list[OrderClues] = []

    def __call__(self, store_id: int, clues: OrderClues) -> str | None:
        self.asked.append(clues)
        for key in (*clues.numbers, *clues.return_refs, *clues.line_refs):
            if key in self.known:
                return self.known[key]
        return None


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return data


def parse(
    parser: ShopifyParser, topic: str, body: dict[str, Any] | None = None
) -> Parsed | Rejected:
    payload = body if body is not None else load(topic.replace("/", "_"))
    return parser(STORE, Inbound(orjson.dumps(payload), f"shopify:{topic}", "shopify", "wh-1"))


def commands(parser: ShopifyParser, topic: str, body: dict[str, Any] | None = None) -> list[Any]:
    result = parse(parser, topic, body)
    assert isinstance(result, Parsed), result
    return list(result.commands)


def of(kind: type[Command], found: list[Any]) -> list[Any]:
    return [c for c in found if isinstance(c, kind)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def finder() -> Finder:
    return Finder({"1001": "1001", "shopify-6601": "1001", "shopify-6602": "1001", "4403": "1001"})


@pytest.fixture
def parser(clock: FakeClock, finder: Finder) -> ShopifyParser:
    return ShopifyParser(lambda _: "US", clock, finder)


def test_orders_create_maps_the_order_and_its_customer(parser: ShopifyParser) -> None:
    """orders/create: number from the name, shippable lines, contacts, total, Shopify's clock."""
    found = commands(parser, "orders/create")
    assert isinstance(found[0], UpsertCustomer)  # first, so the order links to it
    customer = found[0].customer
    assert (customer.external_id, customer.name) == ("7701", "Ada Lovelace")
    assert (customer.emails, customer.phones, customer.language) == (
        ["ada@example.com"],
        ["+12125550123"],
        "en-US",
    )
    assert customer.consent == {Channel.EMAIL: True, Channel.SMS: False}
    (upsert,) = of(UpsertOrder, found)
    order = upsert.order
    assert (order.store_id, order.order_number, order.currency) == (STORE, "1001", "USD")
    assert upsert.stage is Milestone.CONFIRMED
    assert [(ln.line_ref, ln.title, ln.quantity, ln.sku) for ln in order.lines] == [
        ("4401", "Blue mug - Large", 2, "MUG-BL-L"),
        ("4403", "Tea towel", 1, "TOWEL-01"),
    ]  # the gift card does not ship, so it is never "not shipped yet"
    assert order.lines[0].unit_price == Decimal("12.50")
    assert (order.email, order.phone, order.total) == (
        "ada@example.com",
        "+12125550123",
        Decimal("58.00"),
    )
    assert order.customer_external_id == "7701"
    address = order.shipping_address
    assert address is not None
    assert (address.line1, address.city, address.region, address.postal_code) == (
        "350 Fifth Avenue",
        "New York",
        "NY",
        "10118",
    )
    assert (address.country, address.name) == ("US", "Ada Lovelace")
    assert order.placed_at == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert order.source_updated_at == datetime(2026, 11, 20, 14, 0, 5, tzinfo=UTC)
    assert not of(CreateShipment, found)
    assert not of(UpsertRefund, found)


def test_orders_updated_carries_fulfillments_and_refunds(
    parser: ShopifyParser, clock: FakeClock
) -> None:
    """orders/updated: each fulfillment is a shipment plus its status; refunds come along."""
    found = commands(parser, "orders/updated")
    (shipment,) = of(CreateShipment, found)
    assert (shipment.order_number, shipment.shipment_ref, shipment.carrier) == (
        "1001",
        "shopify-3301",
        "ups",
    )
    assert shipment.tracking_number == "1Z999AA10123456784"
    assert [(ln.line_ref, ln.quantity) for ln in shipment.lines] == [("4401", 2)]
    (scan,) = of(RecordTrackingEvent, found)
    assert scan.shipment_ref == "shopify-3301"
    assert scan.event.milestone is Milestone.IN_TRANSIT
    assert scan.event.occurred_at == datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
    assert (scan.event.occurred_tz, scan.event.source) == ("-05:00", "shopify")
    assert scan.event.received_at == clock.now
    (refund,) = of(UpsertRefund, found)
    assert (refund.refund_ref, refund.amount.amount, refund.amount.currency) == (
        "shopify-8801",
        Decimal("5.00"),
        "USD",
    )
    assert refund.state is RefundState.PROCESSED
    assert of(UpsertOrder, found)[0].order.phone == "+12125550199"


def test_orders_cancelled_cancels_with_time_and_reason(parser: ShopifyParser) -> None:
    """orders/cancelled: the snapshot says cancelled, and a CancelOrder makes it stick."""
    found = commands(parser, "orders/cancelled")
    (upsert,) = of(UpsertOrder, found)
    assert upsert.stage is Milestone.CANCELLED
    (cancel,) = of(CancelOrder, found)
    assert (cancel.order_number, cancel.reason) == ("1002", "customer")
    assert cancel.cancelled_at == datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    assert upsert.order.cancelled_at == cancel.cancelled_at
    (refund,) = of(UpsertRefund, found)
    assert refund.amount.amount == Decimal("40.00")
    assert found.index(upsert) < found.index(cancel)


def test_fulfillments_create_names_its_order_by_the_fulfillment_name(
    parser: ShopifyParser, finder: Finder
) -> None:
    """fulfillments/create: "#1001.2" is order 1001; no status yet means no scan."""
    found = commands(parser, "fulfillments/create")
    (shipment,) = found
    assert isinstance(shipment, CreateShipment)
    assert (shipment.order_number, shipment.shipment_ref) == ("1001", "shopify-3302")
    assert (shipment.carrier, shipment.tracking_number) == ("fedex", "794612345678")
    assert [(ln.line_ref, ln.quantity) for ln in shipment.lines] == [("4403", 1)]
    assert shipment.created_at == datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
    assert finder.asked == []  # the name was enough


def test_fulfillments_update_status_is_a_scan_at_the_fulfillment_time(
    parser: ShopifyParser,
) -> None:
    """fulfillments/update with shipment_status delivered: a delivered scan at updated_at."""
    found = commands(parser, "fulfillments/update")
    (scan,) = of(RecordTrackingEvent, found)
    assert scan.event.milestone is Milestone.DELIVERED
    assert scan.event.raw_code == "delivered"
    assert scan.event.occurred_at == datetime(2026, 11, 23, 19, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "milestone", "reason"),
    [
        ("label_printed", Milestone.LABEL_CREATED, Reason.NONE),
        ("label_purchased", Milestone.LABEL_CREATED, Reason.NONE),
        ("confirmed", Milestone.LABEL_CREATED, Reason.NONE),
        ("in_transit", Milestone.IN_TRANSIT, Reason.NONE),
        ("out_for_delivery", Milestone.OUT_FOR_DELIVERY, Reason.NONE),
        ("attempted_delivery", Milestone.DELIVERY_ATTEMPT_FAILED, Reason.NONE),
        ("delivered", Milestone.DELIVERED, Reason.NONE),
        ("failure", Milestone.EXCEPTION, Reason.OTHER),
        ("ready_for_pickup", Milestone.AVAILABLE_FOR_PICKUP, Reason.NONE),
        ("picked_up", Milestone.DELIVERED, Reason.NONE),
    ],
)
def test_shipment_status_maps_to_a_milestone(
    parser: ShopifyParser, status: str, milestone: Milestone, reason: Reason
) -> None:
    """Every documented shipment_status maps onto Wismo's milestones."""
    body = {**load("fulfillments_update"), "shipment_status": status}
    (scan,) = of(RecordTrackingEvent, commands(parser, "fulfillments/update", body))
    assert (scan.event.milestone, scan.event.reason, scan.event.raw_code) == (
        milestone,
        reason,
        status,
    )


def test_cancelled_fulfillment_is_a_cancelled_scan(parser: ShopifyParser) -> None:
    """A fulfillment with status cancelled: its shipment gets a cancelled event."""
    body = {**load("fulfillments_update"), "status": "cancelled"}
    (scan,) = of(RecordTrackingEvent, commands(parser, "fulfillments/update", body))
    assert scan.event.milestone is Milestone.CANCELLED
    assert scan.event.raw_code == "fulfillment_cancelled"


def test_several_tracking_numbers_make_several_packages(parser: ShopifyParser) -> None:
    """Two tracking numbers: two shipments; the items go with the first, the status to both."""
    body = {
        **load("fulfillments_update"),
        "tracking_number": "794612345678",
        "tracking_numbers": ["794612345678", "794612345679"],
    }
    found = commands(parser, "fulfillments/update", body)
    shipments = of(CreateShipment, found)
    assert [(s.shipment_ref, s.tracking_number, len(s.lines)) for s in shipments] == [
        ("shopify-3302", "794612345678", 1),
        ("shopify-3302-2", "794612345679", 0),
    ]
    assert [s.shipment_ref for s in of(RecordTrackingEvent, found)] == [
        "shopify-3302",
        "shopify-3302-2",
    ]


@pytest.mark.parametrize(
    ("company", "code"),
    [
        ("UPS", "ups"),
        ("FedEx", "fedex"),
        ("USPS", "usps"),
        ("DHL Express", "dhl_express"),
        ("DHL eCommerce", "dhl_ecommerce"),
        ("Canada Post", "canadapost"),
        ("Royal Mail", "royalmail"),
        ("Australia Post", "australiapost"),
        ("DPD UK", "dpd"),
        ("La Poste", "laposte"),
        ("Evri", "evri"),
        ("Speedy Local Couriers", "speedy_local_couriers"),
        (None, "other"),
        ("  ", "other"),
    ],
)
def test_tracking_company_maps_to_a_carrier_code(company: str | None, code: str) -> None:
    """Shopify's tracking_company names become Wismo carrier codes; others are kept."""
    assert carrier_code(company) == code


def test_refunds_create_finds_its_order_and_sums_transactions(
    parser: ShopifyParser, finder: Finder
) -> None:
    """refunds/create: the order is found from the refund's ids; currency from the lines."""
    (refund,) = commands(parser, "refunds/create")
    assert isinstance(refund, UpsertRefund)
    assert (refund.order_number, refund.refund_ref, refund.return_ref) == (
        "1001",
        "shopify-8802",
        "shopify-6601",
    )
    # The transaction's currency is null, as Shopify sometimes sends it.
    assert (refund.amount.amount, refund.amount.currency) == (Decimal("8.00"), "USD")
    assert refund.state is RefundState.PROCESSED
    assert refund.processed_at == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    (clues,) = finder.asked
    assert clues == OrderClues(
        shopify_order_id=5501001, return_refs=("shopify-6601",), line_refs=("4403",)
    )


def test_refund_that_pays_nothing_back_is_no_command(parser: ShopifyParser) -> None:
    """A restock-only refund has no transaction: nothing for the customer to wait for."""
    body = {**load("refunds_create"), "transactions": []}
    assert commands(parser, "refunds/create", body) == []


def test_pending_refund_is_pending(parser: ShopifyParser) -> None:
    """A refund whose transaction is pending is a pending refund without processed_at."""
    body = load("refunds_create")
    body["transactions"][0]["status"] = "pending"
    (refund,) = commands(parser, "refunds/create", body)
    assert (refund.state, refund.processed_at) == (RefundState.PENDING, None)


@pytest.mark.parametrize(
    ("topic", "ref", "state"),
    [
        ("returns/request", "shopify-6601", ReturnState.REQUESTED),
        ("returns/approve", "shopify-6601", ReturnState.APPROVED),
        ("returns/decline", "shopify-6602", ReturnState.DECLINED),
        ("returns/close", "shopify-6601", ReturnState.CLOSED),
        ("returns/cancel", "shopify-6603", ReturnState.CANCELLED),
    ],
)
def test_return_topics_map_to_return_states(
    clock: FakeClock, topic: str, ref: str, state: ReturnState
) -> None:
    """Each return topic becomes an UpsertReturn with the mapped state, stamped on receipt."""
    finder = Finder({"shopify-6601": "1001", "shopify-6602": "1001", "4403": "1001"})
    parser = ShopifyParser(lambda _: "US", clock, finder)
    commands(parser, "orders/create")  # close and cancel name the order by Shopify id only
    (ret,) = commands(parser, topic)
    assert isinstance(ret, UpsertReturn)
    assert (ret.order_number, ret.return_ref, ret.state) == ("1001", ref, state)
    assert ret.updated_at == clock.now  # return webhooks carry no timestamp


def test_return_request_reads_lines_and_reason(parser: ShopifyParser, finder: Finder) -> None:
    """returns/request: returned line items and reason; the name's order number is a clue."""
    (ret,) = commands(parser, "returns/request")
    assert [(ln.line_ref, ln.quantity) for ln in ret.lines] == [("4403", 1)]
    assert ret.reason == "size_too_small"
    assert finder.asked[0].numbers == ("1001",)


def test_decline_reason_is_kept(parser: ShopifyParser) -> None:
    """returns/decline: the decline reason is the return's reason."""
    (ret,) = commands(parser, "returns/decline")
    assert ret.reason == "return_period_ended"


def test_return_of_an_unknown_order_is_rejected_naming_it(clock: FakeClock) -> None:
    """A return whose order Wismo does not know: rejected (kept as dead, replayable)."""
    parser = ShopifyParser(lambda _: "US", clock, Finder())
    result = parse(parser, "returns/close")
    assert isinstance(result, Rejected)
    assert result.errors[0]["type"] == "order_unknown"
    assert "5501001" in str(result.errors[0]["msg"])


def test_ids_from_order_payloads_are_remembered(clock: FakeClock) -> None:
    """Without any database, a refund resolves through the order seen just before."""
    parser = ShopifyParser(lambda _: "US", clock)
    commands(parser, "orders/updated")
    body = {**load("refunds_create"), "refund_line_items": [], "return": None}
    (refund,) = commands(parser, "refunds/create", body)
    assert refund.order_number == "1001"


def test_customers_update_reads_marketing_consent(parser: ShopifyParser) -> None:
    """customers/update: contacts and consent from email/sms_marketing_consent."""
    (upsert,) = commands(parser, "customers/update")
    assert isinstance(upsert, UpsertCustomer)
    customer = upsert.customer
    assert (customer.store_id, customer.external_id) == (STORE, "7701")
    assert customer.consent == {Channel.EMAIL: True, Channel.SMS: True}
    body = load("customers_update")
    body["email_marketing_consent"] = {"state": "unsubscribed"}
    body["sms_marketing_consent"] = {"state": "pending"}
    (upsert,) = commands(parser, "customers/update", body)
    assert upsert.customer.consent == {Channel.EMAIL: False}


def test_unknown_topic_is_rejected_naming_it(parser: ShopifyParser) -> None:
    """A topic Wismo does not read is rejected, naming the topic."""
    result = parser(STORE, Inbound(b"{}", "shopify:products/update", "shopify", "wh-9"))
    assert isinstance(result, Rejected)
    assert result.errors[0]["loc"] == ["topic"]
    assert "products/update" in str(result.errors[0]["msg"])


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b"{not json", []),
        (orjson.dumps({k: v for k, v in load("orders_create").items() if k != "name"}), ["name"]),
        (orjson.dumps({**load("orders_create"), "created_at": "2026-11-20T09:00:00"}), None),
    ],
)
def test_malformed_order_is_rejected_naming_the_field(
    parser: ShopifyParser, body: bytes, loc: list[str] | None
) -> None:
    """Bad JSON, a missing name, a time without offset: rejected, the field named."""
    result = parser(STORE, Inbound(body, "shopify:orders/create", "shopify", "wh-2"))
    assert isinstance(result, Rejected)
    locs = [e["loc"] for e in result.errors]
    assert (loc in locs) if loc is not None else (["created_at"] in locs)


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    """sign/verify: Shopify's scheme; forged, empty and missing signatures fail."""
    body = b'{"id": 1}'
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert sign(body, "s3cret") == expected
    assert verify(body, expected, "s3cret")
    assert not verify(body + b" ", expected, "s3cret")
    assert not verify(body, expected, "other")
    assert not verify(body, None, "s3cret")
    assert not verify(body, expected, None)


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("acme.myshopify.com", "acme.myshopify.com"),
        ("https://Acme.myshopify.com/admin", "acme.myshopify.com"),
        ("acme", "acme.myshopify.com"),
        ("", None),
        ("not a domain", None),
    ],
)
def test_shop_domains_are_normalised(typed: str, domain: str | None) -> None:
    """What a merchant types becomes the domain Shopify sends in X-Shopify-Shop-Domain."""
    assert normalise_shop(typed) == domain


def test_export_reader_takes_the_admin_api_list_and_ndjson() -> None:
    """Backfill input: {"orders": [...]} and NDJSON give the same payloads and event ids."""
    first, second = load("orders_create"), load("orders_cancelled")
    listed = read_export(orjson.dumps({"orders": [first, second]}))
    ndjson = read_export(orjson.dumps(first) + b"\n\n" + orjson.dumps({"order": second}) + b"\n")
    assert [name for name, _ in listed] == ["#1001", "#1002"]
    assert [i.event_id for _, i in listed] == [i.event_id for _, i in ndjson]
    assert listed[0][1].event_id == "backfill:5501001:2026-11-20T09:00:05-05:00"
    assert {i.format for _, i in listed} == {"shopify:orders/updated"}
    assert read_export(b"") == []
    with pytest.raises(ExportError, match="line 2"):
        read_export(orjson.dumps(first) + b"\n{oops\n")
