"""The agent started from a signed order link: verified for that one order, by `link`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from wismo.bootstrap import Wismo, make_agent
from wismo.conversation.agent import Agent
from wismo.conversation.replies import prompt_reply
from wismo.conversation.testing import InMemoryHelpDesk, RecordingCodeSender
from wismo.storage.integrations import upsert_integration
from wismo.storage.tables import conversation_turns, conversations
from wismo.testing import FakeClock, encode, envelope, order_created, shipment_created, tracking

UPS_1001 = "1Z999AA10123456784"
UPS_1002 = "1Z999AA10123456791"
GREETING = prompt_reply("greeting", channel="chat").text
ASK_CONTACT = prompt_reply("ask_contact", channel="chat").text
NEED_STRONGER = prompt_reply("need_stronger", channel="chat").text


@pytest.fixture
def orders(wismo: Wismo, store_id: int, clock: FakeClock) -> dict[str, int]:
    """Ada's order 1001 (in transit, two lines) and 1002 (delivered, refunded): their ids."""
    now = clock.now
    ada: dict[str, Any] = {"email": "ada@example.com", "postal_code": "10001"}
    events = [
        order_created(
            "1001",
            placed_at=now - timedelta(days=3),
            lines=[("L1", "Trail Mug", 2), ("L2", "Camp Stove", 1)],
            **ada,
        ),
        shipment_created(
            "1001",
            "S1",
            created_at=now - timedelta(days=2),
            tracking_number=UPS_1001,
            lines=[("L1", 2), ("L2", 1)],
        ),
        tracking("in_transit", now - timedelta(hours=5), shipment_ref="S1", city="Reno"),
        order_created("1002", placed_at=now - timedelta(days=12), **ada),
        shipment_created(
            "1002", "S2", created_at=now - timedelta(days=11), tracking_number=UPS_1002
        ),
        tracking("delivered", now - timedelta(days=8), shipment_ref="S2", city="Reno"),
        envelope(
            "refund.created",
            {
                "order_number": "1002",
                "refund_ref": "F1",
                "amount": "24.50",
                "currency": "USD",
                "state": "processed",
                "updated_at": (now - timedelta(days=1)).isoformat(),
                "processed_at": (now - timedelta(days=1)).isoformat(),
            },
        ),
    ]
    results = wismo.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results
    ids = {}
    for number in ("1001", "1002"):
        answer = wismo.status.lookup(store_id, number, email="ada@example.com")
        assert answer is not None
        ids[number] = answer.order_id
    return ids


@pytest.fixture
def agent(wismo: Wismo, orders: dict[str, int]) -> Agent:
    return make_agent(wismo, help_desk=InMemoryHelpDesk(), code_sender=RecordingCodeSender())


def test_a_linked_start_is_verified_for_that_order_and_says_so(
    agent: Agent, wismo: Wismo, store_id: int, orders: dict[str, int]
) -> None:
    """The greeting names the order; the row records level, method and order; grounded."""
    started = agent.start(store_id, "chat", linked_order_id=orders["1001"])
    assert "1001" in started.reply
    assert started.reply != GREETING
    with wismo.engine.connect() as conn:
        row = conn.execute(
            select(conversations).where(conversations.c.public_id == started.conversation_id)
        ).one()
        turn = conn.execute(
            select(conversation_turns).where(conversation_turns.c.conversation_id == row.id)
        ).one()
    assert (row.level, row.method, row.order_id) == ("verified", "link", orders["1001"])
    assert turn.grounded is True
    assert not turn.violations


def test_where_is_my_order_is_answered_at_once(
    agent: Agent, store_id: int, orders: dict[str, int]
) -> None:
    """No order number, no contact: the linked order's status and tracking number."""
    started = agent.start(store_id, "chat", linked_order_id=orders["1001"])
    result = agent.turn(started.conversation_id, "where is my order")
    assert result.level == "verified"
    assert result.order_number == "1001"
    assert result.asks == "none"
    assert UPS_1001 in result.reply
    assert result.grounded
    assert result.violations == ()


def test_hello_names_the_linked_order(agent: Agent, store_id: int, orders: dict[str, int]) -> None:
    """A greeting mid-conversation names the order, grounded, and asks for nothing."""
    started = agent.start(store_id, "chat", linked_order_id=orders["1001"])
    result = agent.turn(started.conversation_id, "hello there")
    assert "1001" in result.reply
    assert result.asks == "none"
    assert result.grounded


def test_a_link_unlocks_items_and_refund_amounts(
    agent: Agent, store_id: int, orders: dict[str, int]
) -> None:
    """Like an email or phone, a link unlocks what is in the order and refund amounts."""
    first = agent.start(store_id, "chat", linked_order_id=orders["1001"])
    items = agent.turn(first.conversation_id, "what's in my order?")
    assert "Camp Stove" in items.reply
    second = agent.start(store_id, "chat", linked_order_id=orders["1002"])
    refund = agent.turn(second.conversation_id, "where is my refund?")
    assert "24.50" in refund.reply
    assert refund.grounded


def test_other_orders_still_need_their_own_verification(
    agent: Agent, store_id: int, orders: dict[str, int]
) -> None:
    """Asked about another order, the agent asks for its contact; nothing of it is said."""
    started = agent.start(store_id, "chat", linked_order_id=orders["1001"])
    other = agent.turn(started.conversation_id, "where is order 1002?")
    assert other.asks == "ask_contact"
    assert other.reply == ASK_CONTACT
    assert UPS_1002 not in other.reply
    proved = agent.turn(started.conversation_id, "ada@example.com")
    assert proved.order_number == "1002"
    assert UPS_1002 in proved.reply


def test_a_store_can_keep_amounts_from_link_holders(
    wismo: Wismo, store_id: int, orders: dict[str, int]
) -> None:
    """A policy that leaves `link` out of `amounts` withholds the refund amount."""
    with wismo.engine.begin() as conn:
        upsert_integration(
            conn, store_id, "agent", "acme", settings={"policy": {"amounts": ["otp"]}}
        )
    agent = make_agent(wismo, help_desk=InMemoryHelpDesk(), code_sender=RecordingCodeSender())
    started = agent.start(store_id, "chat", linked_order_id=orders["1002"])
    refund = agent.turn(started.conversation_id, "where is my refund?")
    assert refund.level == "verified"
    assert "24.50" not in refund.reply
    assert refund.grounded


def test_a_linked_order_that_is_gone_starts_anonymous(agent: Agent, store_id: int) -> None:
    """An order id the store does not have: the plain greeting, nothing verified."""
    started = agent.start(store_id, "chat", linked_order_id=987_654)
    assert started.reply == GREETING
    result = agent.turn(started.conversation_id, "where is my order")
    assert result.level == "anonymous"
    assert result.asks == "ask_order_number"


def test_a_handoff_says_the_link_verified_the_order(
    wismo: Wismo, store_id: int, orders: dict[str, int]
) -> None:
    """The person taking over reads how the customer was verified."""
    desk = InMemoryHelpDesk()
    agent = make_agent(wismo, help_desk=desk, code_sender=RecordingCodeSender())
    started = agent.start(store_id, "chat", linked_order_id=orders["1001"])
    result = agent.turn(started.conversation_id, "I want to speak to a human")
    assert result.handed_over
    handoff = desk.handoffs[0]
    assert handoff.verified
    assert handoff.verification_method == "link"
    assert handoff.order_number == "1001"
    assert "signed tracking link" in handoff.summary
