"""The HTTP API: keys, ingestion, bad input, status and lookup, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from wismo.bootstrap import Wismo
from wismo.services.access import Scope
from wismo.storage import stores
from wismo.testing import encode, order_created, shipment_created, tracking
from wismo.web.app import create_app

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def client(wismo: Wismo) -> Iterator[TestClient]:
    with TestClient(create_app(wismo)) as c:
        yield c


@pytest.fixture
def keys(wismo: Wismo, store_id: int) -> dict[str, str]:
    with wismo.engine.begin() as conn:
        other = stores.create_store(conn, "other", "Other", "GB", "Europe/London")
        return {
            "write": stores.create_key(conn, store_id, Scope.WRITE).token,
            "read": stores.create_key(conn, store_id, Scope.READ).token,
            "other": stores.create_key(conn, other, Scope.WRITE).token,
        }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(client: TestClient, token: str, event: dict[str, object]) -> tuple[int, dict[str, object]]:
    resp = client.post("/v1/events", content=encode(event), headers=auth(token))
    return resp.status_code, resp.json()


def seed(client: TestClient, token: str) -> None:
    for event in (
        order_created("1001", placed_at=T0, promised=(None, "2026-11-26")),
        shipment_created("1001", "S1", created_at=T0 + timedelta(hours=3)),
        tracking("in_transit", T0 + timedelta(days=1), shipment_ref="S1", city="Newark"),
    ):
        code, body = post(client, token, event)
        assert code == 202, body


def test_closed_by_default(client: TestClient, keys: dict[str, str]) -> None:
    """No key, a malformed key and a wrong secret are all 401; health needs none."""
    event = encode(order_created("1", placed_at=T0))
    assert client.post("/v1/events", content=event).status_code == 401
    assert client.post("/v1/events", content=event, headers=auth("nonsense")).status_code == 401
    forged = keys["write"][:-3] + "abc"
    resp = client.post("/v1/events", content=event, headers=auth(forged))
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/orders/1/status").status_code == 401
    assert client.get("/healthz").status_code == 200


def test_read_key_cannot_write(client: TestClient, keys: dict[str, str]) -> None:
    """A read-scoped key reads but gets 403 on ingestion."""
    code, body = post(client, keys["read"], order_created("1", placed_at=T0))
    assert code == 403
    assert "read" in str(body["detail"])


def test_ingest_then_status_by_id_and_number(
    client: TestClient, keys: dict[str, str], wismo: Wismo, store_id: int
) -> None:
    """Events posted one by one are visible in the status answer at once."""
    seed(client, keys["write"])
    resp = client.get("/v1/orders/by-number/1001/status", headers=auth(keys["read"]))
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "in_transit"
    assert body["packages"][0]["last_scan"]["location"] == "Newark, US"
    order_id = body["order_id"]
    by_id = client.get(f"/v1/orders/{order_id}/status", headers=auth(keys["read"]))
    assert by_id.json()["order_number"] == "1001"


def test_key_of_another_store_gets_404(client: TestClient, keys: dict[str, str]) -> None:
    """Another store's key cannot see this store's orders: 404, not 403."""
    seed(client, keys["write"])
    body = client.get("/v1/orders/by-number/1001/status", headers=auth(keys["read"])).json()
    resp = client.get(f"/v1/orders/{body['order_id']}/status", headers=auth(keys["other"]))
    assert resp.status_code == 404


def test_duplicate_event_is_200_and_not_applied_twice(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Posting the same event id twice: 202 then 200 duplicate."""
    event = order_created("5", placed_at=T0)
    assert post(client, keys["write"], event)[0] == 202
    code, body = post(client, keys["write"], event)
    assert (code, body["status"]) == (200, "duplicate")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b"{", []),
        (b"\xc3\x28\xa0\xa1", []),
        (b'{"id": "x", "source": "s", "type": "order.created"}', ["data"]),
        (b'{"id": "x", "source": "s", "type": "nope", "data": {}}', ["type"]),
        (
            encode(tracking("in_transit", "2026-11-20T10:00:00", shipment_ref="S1")),
            ["data", "occurred_at"],
        ),
    ],
)
def test_bad_event_is_422_naming_the_field(
    client: TestClient, keys: dict[str, str], body: bytes, loc: list[object]
) -> None:
    """Malformed JSON, non-UTF-8, missing data, unknown type, naive time: 422 with loc."""
    resp = client.post("/v1/events", content=body, headers=auth(keys["write"]))
    assert resp.status_code == 422
    payload = resp.json()
    assert payload["status"] == "rejected"
    assert payload["inbox_id"]
    assert any(e["loc"] == loc for e in payload["errors"]), payload
    dead = client.get("/v1/inbox?status=dead", headers=auth(keys["write"])).json()["items"]
    assert [d["id"] for d in dead] == [payload["inbox_id"]]


def test_oversized_body_is_413(client: TestClient, keys: dict[str, str]) -> None:
    """A 50 MB body is refused with 413, not read into the database."""
    big = b'{"pad": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    resp = client.post("/v1/events", content=big, headers=auth(keys["write"]))
    assert resp.status_code == 413
    batch = client.post(
        "/v1/events/batch",
        content=big,
        headers={**auth(keys["write"]), "Content-Type": "application/x-ndjson"},
    )
    assert batch.status_code == 413


def test_ndjson_batch_reports_per_line(client: TestClient, keys: dict[str, str]) -> None:
    """A batch with good, bad and out-of-order lines: each line gets its own result."""
    lines = [
        encode(tracking("delivered", T0 + timedelta(days=2), shipment_ref="S9")),
        b"not json",
        encode(order_created("9", placed_at=T0)),
        encode(shipment_created("9", "S9", created_at=T0 + timedelta(hours=1))),
    ]
    resp = client.post(
        "/v1/events/batch",
        content=b"\n".join(lines) + b"\n\n",
        headers={**auth(keys["write"]), "Content-Type": "application/x-ndjson"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["counts"] == {"processed": 3, "rejected": 1}
    assert body["results"][1]["line"] == 2
    assert body["results"][1]["status"] == "rejected"
    status = client.get("/v1/orders/by-number/9/status", headers=auth(keys["read"])).json()
    assert status["status"] == "delivered"


def test_batch_needs_ndjson(client: TestClient, keys: dict[str, str]) -> None:
    """A batch sent as something else gets 415 with the expected type."""
    resp = client.post(
        "/v1/events/batch",
        content=b"<xml/>",
        headers={**auth(keys["write"]), "Content-Type": "application/xml"},
    )
    assert resp.status_code == 415


def test_lookup_same_answer_for_unknown_and_mismatch(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Wrong email and unknown order give the same 404 body; the right one gives 200."""
    seed(client, keys["write"])
    h = auth(keys["read"])
    ok = client.post(
        "/v1/orders/lookup", json={"order_number": "#1001", "email": "ada@example.com"}, headers=h
    )
    assert ok.status_code == 200
    wrong = client.post(
        "/v1/orders/lookup", json={"order_number": "1001", "email": "x@y.com"}, headers=h
    )
    missing = client.post(
        "/v1/orders/lookup", json={"order_number": "4242", "email": "x@y.com"}, headers=h
    )
    assert wrong.status_code == missing.status_code == 404
    assert wrong.json() == missing.json()
    none = client.post("/v1/orders/lookup", json={"order_number": "1001"}, headers=h)
    assert none.status_code == 422
    assert "email" in orjson.dumps(none.json()).decode()


def test_replay_dead_payload_over_http(client: TestClient, keys: dict[str, str]) -> None:
    """A dead payload can be listed and replayed; unknown ids are 404."""
    resp = client.post("/v1/events", content=b"{oops", headers=auth(keys["write"]))
    inbox_id = resp.json()["inbox_id"]
    replay = client.post(f"/v1/inbox/{inbox_id}/replay", headers=auth(keys["write"]))
    assert replay.status_code == 200
    assert replay.json()["status"] == "dead"
    assert client.post("/v1/inbox/999999/replay", headers=auth(keys["write"])).status_code == 404


def test_openapi_documents_the_routes(client: TestClient) -> None:
    """OpenAPI lists ingestion, status and lookup."""
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/events",
        "/v1/events/batch",
        "/v1/orders/{order_id}/status",
        "/v1/orders/lookup",
    ):
        assert path in paths
