"""Shopify webhooks end to end: signature, inbox, dedup, ordering, answer; backfill CLI."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from wismo.bootstrap import Wismo, bootstrap
from wismo.cli.main import app as cli
from wismo.domain.milestones import Milestone
from wismo.domain.model import RefundState, ReturnState
from wismo.ingestion.shopify import sign
from wismo.services.status import OrderStatusAnswer
from wismo.storage.integrations import find_integration, upsert_integration
from wismo.storage.tables import inbox, orders
from wismo.testing import FakeClock
from wismo.web.app import create_app

FIXTURES = Path(__file__).parents[1] / "contract" / "fixtures" / "shopify"
SHOP = "acme.myshopify.com"
SECRET = "shpss_test_secret"
_ids = itertools.count(1)
runner = CliRunner()


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return data


@pytest.fixture
def client(wismo: Wismo, store_id: int) -> Iterator[TestClient]:
    with wismo.engine.begin() as conn:
        upsert_integration(conn, store_id, "shopify", SHOP, secret=SECRET)
    with TestClient(create_app(wismo)) as c:
        yield c


def deliver(
    client: TestClient,
    topic: str,
    body: dict[str, Any] | bytes | None = None,
    *,
    webhook_id: str | None = None,
    shop: str | None = SHOP,
    secret: str | None = SECRET,
) -> tuple[int, dict[str, Any]]:
    """POST a webhook as Shopify does: raw body, topic, shop, id, HMAC of the body."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body or load(topic.replace("/", "_")))
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id or f"b54557e4-{next(_ids):04d}",
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Triggered-At": "2026-11-28T12:00:00Z",
    }
    if shop is not None:
        headers["X-Shopify-Shop-Domain"] = shop
    if secret is not None:
        headers["X-Shopify-Hmac-Sha256"] = sign(raw, secret)
    resp = client.post("/webhooks/shopify", content=raw, headers=headers)
    return resp.status_code, resp.json()


def answer(wismo: Wismo, store_id: int, number: str = "1001") -> OrderStatusAnswer:
    found = wismo.status.by_number(store_id, number)
    assert found is not None, f"no order {number}"
    return found


def inbox_count(wismo: Wismo) -> int:
    with wismo.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


def test_signed_order_is_in_the_status_answer(
    client: TestClient, wismo: Wismo, store_id: int
) -> None:
    """A validly signed orders/create is stored, processed and answered from at once."""
    code, body = deliver(client, "orders/create")
    assert (code, body["status"]) == (200, "processed"), body
    found = answer(wismo, store_id)
    assert found.status is Milestone.CONFIRMED
    assert [(i.title, i.quantity) for i in found.not_yet_shipped] == [
        ("Blue mug - Large", 2),
        ("Tea towel", 1),
    ]
    assert found.language == "en-US"
    assert found.time_zone == "America/New_York"


@pytest.mark.parametrize(
    "how",
    ["forged", "wrong secret", "no signature", "unknown shop", "no shop", "tampered body"],
)
def test_unsigned_or_foreign_webhooks_are_401_and_never_stored(
    client: TestClient, wismo: Wismo, how: str
) -> None:
    """Forged, missing or wrong-shop signatures: 401, and nothing reaches the inbox."""
    raw = orjson.dumps(load("orders_create"))
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-401",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Hmac-Sha256": sign(raw, SECRET),
    }
    content = raw
    if how == "forged":
        headers["X-Shopify-Hmac-Sha256"] = "AAAA" + headers["X-Shopify-Hmac-Sha256"][4:]
    elif how == "wrong secret":
        headers["X-Shopify-Hmac-Sha256"] = sign(raw, "guessed")
    elif how == "no signature":
        del headers["X-Shopify-Hmac-Sha256"]
    elif how == "unknown shop":
        headers["X-Shopify-Shop-Domain"] = "other.myshopify.com"
    elif how == "no shop":
        del headers["X-Shopify-Shop-Domain"]
    else:
        content = raw.replace(b"58.00", b"0.01")
    resp = client.post("/webhooks/shopify", content=content, headers=headers)
    assert resp.status_code == 401
    assert resp.json()["detail"] == "missing or invalid Shopify signature"
    assert inbox_count(wismo) == 0


def test_replayed_webhook_id_is_a_duplicate(client: TestClient, wismo: Wismo) -> None:
    """Shopify retrying one delivery (same X-Shopify-Webhook-Id): stored once."""
    assert deliver(client, "orders/create", webhook_id="wh-same")[1]["status"] == "processed"
    code, body = deliver(client, "orders/create", webhook_id="wh-same")
    assert (code, body["status"], body["inbox_id"]) == (200, "duplicate", None)
    assert inbox_count(wismo) == 1


def test_late_orders_updated_does_not_overwrite_newer_data(
    client: TestClient, wismo: Wismo, store_id: int
) -> None:
    """A snapshot with an older updated_at, arriving last, leaves the newer one in place."""
    newer = load("orders_updated")
    older = {**load("orders_create"), "phone": "+12125550100", "email": "old@example.com"}
    assert deliver(client, "orders/updated", newer)[1]["status"] == "processed"
    code, body = deliver(client, "orders/updated", older)
    assert (code, body["status"]) == (200, "processed")  # stored, applied as a no-op
    with wismo.engine.connect() as conn:
        row = conn.execute(
            select(orders.c.phone, orders.c.email).where(orders.c.store_id == store_id)
        ).one()
    assert (row.phone, row.email) == ("+12125550199", "ada@example.com")
    assert len(answer(wismo, store_id).packages) == 1  # the newer snapshot's fulfillment


def test_fulfillments_with_tracking_become_packages(
    client: TestClient, wismo: Wismo, store_id: int
) -> None:
    """Fulfillments (one embedded, one by webhook) are packages with carrier and contents."""
    deliver(client, "orders/updated")
    deliver(client, "fulfillments/create")
    code, body = deliver(client, "fulfillments/update")
    assert (code, body["status"]) == (200, "processed"), body
    found = answer(wismo, store_id)
    packages = {p.shipment_ref: p for p in found.packages}
    ups, fedex = packages["shopify-3301"], packages["shopify-3302"]
    assert (ups.carrier_name, ups.tracking_number, ups.status) == (
        "UPS",
        "1Z999AA10123456784",
        Milestone.IN_TRANSIT,
    )
    assert [(i.title, i.quantity) for i in ups.contents] == [("Blue mug - Large", 2)]
    assert (fedex.carrier_name, fedex.tracking_number, fedex.status) == (
        "FedEx",
        "794612345678",
        Milestone.DELIVERED,
    )
    assert [(i.title, i.quantity) for i in fedex.contents] == [("Tea towel", 1)]
    assert found.not_yet_shipped == ()


def test_fulfillment_before_its_order_waits_for_it(
    client: TestClient, wismo: Wismo, store_id: int
) -> None:
    """A fulfillment that overtakes orders/create is parked and applied when it arrives."""
    code, body = deliver(client, "fulfillments/create")
    assert (code, body["status"], body["waiting_for"]) == (
        200,
        "parked",
        f"order:{store_id}:1001",
    )
    deliver(client, "orders/create")
    assert [p.shipment_ref for p in answer(wismo, store_id).packages] == ["shopify-3302"]


def test_refund_and_return_states_appear_in_the_answer(
    client: TestClient, wismo: Wismo, store_id: int
) -> None:
    """A return requested, approved, refunded and closed: each state is in the answer."""
    deliver(client, "orders/updated")
    deliver(client, "fulfillments/update")
    assert deliver(client, "returns/request")[1]["status"] == "processed"
    assert [r.state for r in answer(wismo, store_id).returns] == [ReturnState.REQUESTED]
    deliver(client, "returns/approve")
    assert [r.state for r in answer(wismo, store_id).returns] == [ReturnState.APPROVED]
    code, body = deliver(client, "refunds/create")
    assert (code, body["status"]) == (200, "processed"), body
    deliver(client, "returns/close")
    found = answer(wismo, store_id)
    (ret,) = found.returns
    assert (ret.return_ref, ret.state) == ("shopify-6601", ReturnState.CLOSED)
    assert [(i.title, i.quantity) for i in ret.items] == [("Tea towel", 1)]
    refunds = {r.refund_ref: r for r in found.refunds}
    assert set(refunds) == {"shopify-8801", "shopify-8802"}
    assert (refunds["shopify-8802"].amount, refunds["shopify-8802"].currency) == (
        Decimal("8.00"),
        "USD",
    )
    assert refunds["shopify-8802"].state is RefundState.PROCESSED


def test_refund_order_is_found_in_the_database(
    client: TestClient, wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """After a restart (a parser that has seen nothing), the order of a refund is found by
    its line items and that of a return by the return, in the database."""
    deliver(client, "orders/updated")
    deliver(client, "returns/request")
    restarted = bootstrap(wismo.settings, clock=clock, migrate=False)
    try:
        with TestClient(create_app(restarted)) as fresh:
            refund = deliver(fresh, "refunds/create", {**load("refunds_create"), "return": None})
            close = deliver(fresh, "returns/close")
    finally:
        restarted.close()
    assert (refund[0], refund[1]["status"], close[1]["status"]) == (200, "processed", "processed")
    found = answer(wismo, store_id)
    assert "shopify-8802" in {r.refund_ref for r in found.refunds}
    assert [r.state for r in found.returns] == [ReturnState.CLOSED]


def test_unparseable_payloads_are_kept_as_dead_and_answered_200(
    client: TestClient, wismo: Wismo
) -> None:
    """Unknown topic, bad JSON, unknown return: 200 (no Shopify retries), kept as dead."""
    for topic, raw in (
        ("products/update", b'{"id": 1}'),
        ("orders/create", b"{not json"),
        ("returns/decline", orjson.dumps(load("returns_decline"))),
    ):
        code, body = deliver(client, topic, raw)
        assert (code, body["status"]) == (200, "rejected"), (topic, body)
        assert body["inbox_id"]
        assert body["errors"]
    assert inbox_count(wismo) == 3


def test_backfill_and_connect_commands(
    wismo: Wismo, store_id: int, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wismo shopify backfill` imports an export (twice = duplicates); `connect` saves the
    shop; errors are one line."""
    monkeypatch.setenv("WISMO_DATABASE_URL", database_url)
    export = tmp_path / "orders.json"
    export.write_bytes(orjson.dumps({"orders": [load("orders_updated"), load("orders_cancelled")]}))
    result = runner.invoke(cli, ["shopify", "backfill", str(export), "--store", "acme"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "processed=2"
    assert len(answer(wismo, store_id).packages) == 1
    assert answer(wismo, store_id, "1002").cancelled
    again = runner.invoke(cli, ["shopify", "backfill", str(export), "--store", "acme"])
    assert again.output.strip() == "duplicate=2"

    ndjson = tmp_path / "orders.ndjson"
    broken = {**load("orders_create"), "id": 5501003, "name": "#1003", "currency": "dollars"}
    ndjson.write_bytes(orjson.dumps(broken) + b"\n")
    bad = runner.invoke(cli, ["shopify", "backfill", str(ndjson), "--store", "acme"])
    assert bad.exit_code == 1
    assert "order #1003: rejected: ['currency']" in bad.output
    assert "rejected=1" in bad.output
    for args, message in (
        (["shopify", "backfill", str(tmp_path / "missing.json"), "--store", "acme"], "no such"),
        (["shopify", "backfill", str(export), "--store", "nope"], "no store 'nope'"),
    ):
        failed = runner.invoke(cli, args)
        assert failed.exit_code == 1
        assert failed.output.count("\n") == 1
        assert message in failed.output

    connected = runner.invoke(
        cli,
        ["shopify", "connect", "--store", "acme", "--shop", "https://Other.myshopify.com/"],
        env={"WISMO_SHOPIFY_SECRET": "s3"},
    )
    assert connected.exit_code == 0, connected.output
    assert "s3" not in connected.output
    with wismo.engine.connect() as conn:
        found = find_integration(conn, "shopify", "other.myshopify.com")
    assert found is not None
    assert (found.store_id, found.secret) == (store_id, "s3")
