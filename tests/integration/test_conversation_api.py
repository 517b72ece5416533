"""The conversation API: open, talk, read back; bad input is a 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from wismo.bootstrap import Wismo, make_agent
from wismo.conversation.testing import InMemoryHelpDesk, RecordingCodeSender
from wismo.services.ratelimit import RateLimiter
from wismo.storage import stores
from wismo.testing import FakeClock, encode, order_created, shipment_created, tracking
from wismo.web.app import create_app
from wismo.web.conversation_routes import Limits

TRACKING = "1Z999AA10123456784"
TURN_FIELDS = {
    "conversation_id",
    "reply",
    "intent",
    "confidence",
    "entities",
    "level",
    "order_number",
    "handed_over",
    "handoff_reason",
    "ticket_id",
    "grounded",
    "violations",
    "ended",
    "asks",
}


@pytest.fixture
def client(wismo: Wismo, store_id: int, clock: FakeClock) -> Iterator[TestClient]:
    placed = clock.now - timedelta(days=3)
    events = [
        order_created("1001", placed_at=placed, email="ada@example.com"),
        shipment_created("1001", "S1", created_at=placed, tracking_number=TRACKING),
        tracking("in_transit", clock.now - timedelta(hours=5), shipment_ref="S1", city="Reno"),
    ]
    assert all(
        r.status == "processed"
        for r in wismo.ingestor.ingest(store_id, [encode(e) for e in events])
    )
    with TestClient(create_app(wismo)) as c:
        c.app.state.agent = make_agent(  # type: ignore[attr-defined]
            wismo, help_desk=InMemoryHelpDesk(), code_sender=RecordingCodeSender()
        )
        yield c


def start(client: TestClient, **body: Any) -> str:
    response = client.post("/v1/conversations", json={"store": "acme", **body})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def say(client: TestClient, cid: str, text: Any) -> Any:
    return client.post(f"/v1/conversations/{cid}/turns", json={"text": text})


def fields(response: Any) -> list[str]:
    """The last element of each error's location: the fields the 4xx names."""
    return [str(e["loc"][-1]) for e in response.json()["detail"]]


def test_a_conversation_over_http(client: TestClient) -> None:
    """Open, ask, verify: each turn answers with the whole TurnResult."""
    opened = client.post("/v1/conversations", json={"store": "acme"})
    assert opened.status_code == 201
    body = opened.json()
    assert set(body) == {"id", "reply"}
    assert body["reply"]
    cid = body["id"]
    first = say(client, cid, "where is order 1001?")
    assert first.status_code == 200
    assert set(first.json()) == TURN_FIELDS
    assert first.json()["asks"] == "ask_contact"
    assert first.json()["entities"]["order_number"] == "1001"
    second = say(client, cid, "ada@example.com").json()
    assert second["level"] == "verified"
    assert second["order_number"] == "1001"
    assert TRACKING in second["reply"]
    assert second["grounded"] is True
    assert second["violations"] == []


def test_reading_a_conversation_back_is_redacted(client: TestClient) -> None:
    """The owner reads state and turns, with contacts and numbers masked."""
    cid = start(client)
    say(client, cid, "where is order 1001?")
    say(client, cid, "ada@example.com")
    got = client.get(f"/v1/conversations/{cid}")
    assert got.status_code == 200
    body = got.json()
    assert body["level"] == "verified"
    assert body["order_number"] == "1001"
    assert body["state"]["phase"] == "open"
    assert [t["role"] for t in body["turns"]] == ["agent", "customer", "agent", "customer", "agent"]
    texts = " ".join(t["text"] for t in body["turns"])
    assert "ada@example.com" not in texts
    assert TRACKING not in texts
    assert "[email]" in texts


def test_unknown_ids_are_404(client: TestClient) -> None:
    """A token nobody was given finds nothing."""
    assert say(client, "not-a-conversation", "hi").status_code == 404
    assert client.get("/v1/conversations/not-a-conversation").status_code == 404
    assert client.get("/v1/conversations/" + "x" * 65).status_code == 422


def test_unknown_store_is_404_naming_the_store(client: TestClient) -> None:
    """Opening a conversation with a store that does not exist."""
    response = client.post("/v1/conversations", json={"store": "nope"})
    assert response.status_code == 404
    assert "store" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "store"),
        ({"store": ""}, "store"),
        ({"store": "acme", "channel": "fax"}, "channel"),
        ({"store": "acme", "email": "a" * 400}, "email"),
        ({"store": "acme", "language": 7}, "language"),
        ({"store": "acme", "link": "x" * 101}, "link"),
        ({"store": "acme", "link": 7}, "link"),
    ],
)
def test_bad_start_bodies_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    """Every bad field is named; nothing is a 500."""
    response = client.post("/v1/conversations", json=body)
    assert response.status_code == 422
    assert field in fields(response)


@pytest.mark.parametrize("text", ["", "   \n ", "a" * 10_001, 42, None])
def test_bad_messages_are_422_naming_text(client: TestClient, text: Any) -> None:
    """Empty, blank, longer than 10,000 characters, or not a string."""
    cid = start(client)
    response = say(client, cid, text)
    assert response.status_code == 422
    assert fields(response) == ["text"]


def test_a_message_of_exactly_ten_thousand_characters_is_answered(client: TestClient) -> None:
    """The limit is inclusive; emoji count as one character each."""
    cid = start(client)
    assert say(client, cid, "a" * 10_000).status_code == 200
    assert say(client, cid, "🙂" * 10_000).status_code == 200


@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe not even text", b'{"text": "a"'])
def test_a_body_that_is_not_json_is_a_4xx(client: TestClient, raw: bytes) -> None:
    """A body that is not JSON is refused, not a crash."""
    cid = start(client)
    response = client.post(
        f"/v1/conversations/{cid}/turns", content=raw, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500


def test_clients_are_rate_limited(client: TestClient) -> None:
    """Past its allowance a client gets 429 with Retry-After."""
    limits = Limits()
    limits.starts = RateLimiter(capacity=2, per_second=0.001)
    client.app.state.conversation_limits = limits  # type: ignore[attr-defined]
    statuses = [client.post("/v1/conversations", json={"store": "acme"}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [201, 201, 429]
    assert int(statuses[-1].headers["retry-after"]) > 0


# -- opened from the tracking page's signed link -----------------------------------------


def link_for(wismo: Wismo, store_id: int, number: str, email: str, hours: float = 24) -> str:
    """The token of a signed link to an order, as the tracking page's URL holds it."""
    answer = wismo.status.lookup(store_id, number, email=email)
    assert answer is not None
    return wismo.links.sign(store_id, answer.order_id, wismo.clock() + timedelta(hours=hours))


def opened(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/conversations", json={"store": "acme", **body})
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


def test_a_signed_link_answers_where_is_my_order_at_once(
    client: TestClient, wismo: Wismo, store_id: int
) -> None:
    """A genuine link: greeted about the order, then answered with its facts, no asking."""
    body = opened(client, link=link_for(wismo, store_id, "1001", "ada@example.com"))
    assert set(body) == {"id", "reply"}
    assert "1001" in body["reply"]
    first = say(client, body["id"], "where is my order").json()
    assert first["level"] == "verified"
    assert first["order_number"] == "1001"
    assert first["asks"] == "none"
    assert TRACKING in first["reply"]
    assert "Reno" in first["reply"]
    assert "email" not in first["reply"].lower()
    assert first["grounded"] is True
    state = client.get(f"/v1/conversations/{body['id']}").json()
    assert (state["level"], state["method"], state["order_number"]) == (
        "verified",
        "link",
        "1001",
    )


def anonymous_start(client: TestClient, **body: Any) -> None:
    """The start reads exactly like one with no link, and nothing is disclosed."""
    plain = opened(client)
    got = opened(client, **body)
    assert set(got) == set(plain) == {"id", "reply"}
    assert got["reply"] == plain["reply"]
    answer = say(client, got["id"], "where is my order").json()
    assert answer["level"] == "anonymous"
    assert answer["order_number"] is None
    assert answer["asks"] == "ask_order_number"
    assert TRACKING not in answer["reply"]
    assert "1001" not in answer["reply"]
    state = client.get(f"/v1/conversations/{got['id']}").json()
    assert (state["level"], state["method"], state["order_number"]) == ("anonymous", None, None)


def test_an_expired_link_starts_anonymous(
    client: TestClient, wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Past its expiry the link opens nothing: the customer is asked to verify."""
    token = link_for(wismo, store_id, "1001", "ada@example.com", hours=1)
    clock.advance(hours=2)
    anonymous_start(client, link=token)


def test_an_altered_or_malformed_link_starts_anonymous(
    client: TestClient, wismo: Wismo, store_id: int
) -> None:
    """A changed character, a truncated token or rubbish: no error, no hint, no order."""
    token = link_for(wismo, store_id, "1001", "ada@example.com")
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad in (flipped, token[:-1], "not-a-token", ""):
        anonymous_start(client, link=bad)


def test_a_link_of_another_store_starts_anonymous(
    client: TestClient, wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """A genuine link to another store's order opens nothing in this store."""
    with wismo.engine.begin() as conn:
        other = stores.create_store(conn, "globex", "Globex", "US", "America/New_York")
    placed = clock.now - timedelta(days=1)
    wismo.ingestor.ingest(
        other, [encode(order_created("1001", placed_at=placed, email="bo@example.com"))]
    )
    anonymous_start(client, link=link_for(wismo, other, "1001", "bo@example.com"))
    acme_link = link_for(wismo, store_id, "1001", "ada@example.com")
    got = client.post("/v1/conversations", json={"store": "globex", "link": acme_link})
    assert got.status_code == 201
    answer = say(client, got.json()["id"], "where is my order").json()
    assert answer["level"] == "anonymous"
    assert TRACKING not in answer["reply"]
