"""The Zendesk help-desk adapter against a local server speaking the Tickets API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from wismo.channels.helpdesk import ZendeskHelpDesk, handoff_tag
from wismo.channels.testing_helpdesk import Step, ZendeskServer
from wismo.conversation.ports import Handoff, HandoffError, TicketRef

HANDOFF = Handoff(
    conversation_id="conv-7f3a",
    store_id=3,
    channel="chat",
    reason="damaged_item",
    reason_text="The customer reports a damaged item",
    summary="Ada Lovelace (verified by email) says order 1001 arrived with a broken lid.",
    verified=True,
    verification_method="email",
    customer_name="Ada Lovelace",
    contact="ada@example.com",
    order_number="1001",
    transcript=(
        ("customer", "Where is order 1001? ada@example.com"),
        ("agent", "Order 1001 was delivered on 3 December."),
        ("customer", "It arrived broken."),
    ),
    created_at=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
    tags=("vip customer",),
)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


_OPENED: list[ZendeskHelpDesk] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def opened(helpdesk: ZendeskHelpDesk) -> ZendeskHelpDesk:
    _OPENED.append(helpdesk)
    return helpdesk


def desk(server: ZendeskServer, sleeps: Sleeps | None = None, **kw: Any) -> ZendeskHelpDesk:
    sleep = Sleeps() if sleeps is None else sleeps
    return opened(
        ZendeskHelpDesk(server.base_url, server.email, server.api_token, sleep=sleep, **kw)
    )


def test_ticket_created_with_zendesk_shape_and_token_auth() -> None:
    """One POST to /api/v2/tickets.json with basic auth `{email}/token:{token}` and the
    Create Ticket body: private comment with summary and transcript, requester, priority,
    tags, external_id; the answer's id becomes the TicketRef."""
    with ZendeskServer() as server:
        ref = desk(server).open_ticket(HANDOFF)
        [request] = server.requests
    assert ref == TicketRef("zendesk", "35436", f"{server.base_url}/agent/tickets/35436")
    assert request.method == "POST"
    assert request.path == "/api/v2/tickets.json"
    token = base64.b64encode(b"agent@shop.example/token:zd-test-token").decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    assert request.headers["Content-Type"] == "application/json"
    ticket = request.body["ticket"]
    assert set(ticket) == {
        "subject",
        "comment",
        "priority",
        "tags",
        "external_id",
        "requester",
    }
    assert ticket["subject"] == "Order 1001: The customer reports a damaged item (chat)"
    assert ticket["comment"]["public"] is False
    body = ticket["comment"]["body"]
    assert body.startswith(HANDOFF.summary)
    assert "Identity verified: yes (email)" in body
    assert "Customer: It arrived broken." in body
    assert "Agent: Order 1001 was delivered on 3 December." in body
    assert ticket["requester"] == {"email": "ada@example.com", "name": "Ada Lovelace"}
    assert ticket["priority"] == "high"
    assert ticket["external_id"] == "conv-7f3a"
    assert ticket["tags"] == [
        "wismo",
        "wismo_damaged_item",
        "wismo_chat",
        handoff_tag(HANDOFF),
        "vip_customer",
    ]


def test_phone_contact_goes_in_the_comment_not_the_requester() -> None:
    """Zendesk's requester takes an email, not a phone: a phone contact is written in the
    comment and no requester is sent; a plain question gets normal priority."""
    handoff = replace(
        HANDOFF,
        contact="+34600111222",
        reason="human_requested",
        reason_text="The customer asked for a person",
        order_number=None,
    )
    with ZendeskServer() as server:
        desk(server).open_ticket(handoff)
        ticket = server.requests[0].body["ticket"]
    assert "requester" not in ticket
    assert "Contact: +34600111222" in ticket["comment"]["body"]
    assert ticket["priority"] == "normal"
    assert ticket["subject"] == "The customer asked for a person (chat)"


def test_server_error_retried_with_backoff_then_created() -> None:
    """Two 500s, then success: three POSTs, waits 0.5 s and 1 s, one ticket."""
    sleeps = Sleeps()
    with ZendeskServer(script=[Step.error(500), Step.error(503)]) as server:
        ref = desk(server, sleeps).open_ticket(HANDOFF)
        creates = len(server.creates())
        tickets = len(server.tickets)
    assert ref.ticket_id == "35436"
    assert (creates, tickets) == (3, 1)
    assert sleeps == [0.5, 1.0]


def test_rate_limit_waits_retry_after() -> None:
    """A 429 with Retry-After: 7 waits exactly 7 s before the next attempt."""
    sleeps = Sleeps()
    with ZendeskServer(script=[Step.rate_limited(7)]) as server:
        ref = desk(server, sleeps).open_ticket(HANDOFF)
        creates = len(server.creates())
    assert ref.ticket_id == "35436"
    assert creates == 2
    assert sleeps == [7.0]


def test_rate_limit_longer_than_the_cap_fails_without_waiting() -> None:
    """A Retry-After beyond the cap is not slept through inside a turn: HandoffError now."""
    sleeps = Sleeps()
    with (
        ZendeskServer(script=[Step.rate_limited(600)]) as server,
        pytest.raises(HandoffError, match="retry after 600s"),
    ):
        desk(server, sleeps).open_ticket(HANDOFF)
    assert sleeps == []


def test_validation_error_is_final_and_names_the_field() -> None:
    """A 422 RecordInvalid is not retried; the HandoffError carries Zendesk's details."""
    sleeps = Sleeps()
    step = Step.invalid("base", "Description: cannot be blank")
    with ZendeskServer(script=[step]) as server:
        with pytest.raises(HandoffError) as caught:
            desk(server, sleeps).open_ticket(HANDOFF)
        creates = len(server.creates())
    message = str(caught.value)
    assert "(422)" in message
    assert "RecordInvalid" in message
    assert "base: Description: cannot be blank" in message
    assert (creates, sleeps) == (1, [])


def test_mistyped_email_does_not_lose_the_handoff() -> None:
    """Zendesk refuses a malformed requester email (422 on `requester`): the ticket is sent
    again at once without a requester, the contact still written in the comment."""
    sleeps = Sleeps()
    with ZendeskServer() as server:
        ref = desk(server, sleeps).open_ticket(replace(HANDOFF, contact="ada@"))
        first, second = (r.body["ticket"] for r in server.creates())
        tickets = len(server.tickets)
    assert ref.ticket_id == "35436"
    assert first["requester"] == {"email": "ada@", "name": "Ada Lovelace"}
    assert "requester" not in second
    assert "Contact: ada@" in second["comment"]["body"]
    assert (tickets, sleeps) == (1, [])


def test_bad_credentials_fail_at_once() -> None:
    """A wrong token gets Zendesk's 401 and a HandoffError saying so, without retries."""
    with ZendeskServer() as server:
        wrong = opened(ZendeskHelpDesk(server.base_url, server.email, "wrong", sleep=Sleeps()))
        with pytest.raises(HandoffError, match=r"401.*Couldn't authenticate you"):
            wrong.open_ticket(HANDOFF)
        assert len(server.requests) == 1


def test_timeout_after_create_finds_the_ticket_instead_of_duplicating() -> None:
    """The server creates the ticket but answers after the client's timeout: the retry
    first lists tickets by external_id, finds this handoff's ticket, and posts no more."""
    with ZendeskServer(script=[Step.created_but_slow(2.0)]) as server:
        ref = desk(server, timeout_seconds=0.3).open_ticket(HANDOFF)
        methods = [(r.method, r.query.get("external_id")) for r in server.requests]
        tickets = len(server.tickets)
    assert ref.ticket_id == "35436"
    assert tickets == 1
    assert methods == [("POST", None), ("GET", "conv-7f3a")]


def test_earlier_ticket_of_the_same_conversation_is_not_mistaken_for_this_one() -> None:
    """After a timeout that created nothing, a ticket from an earlier handoff in the same
    conversation (same external_id, other handoff tag) does not stop the retry."""
    earlier = replace(HANDOFF, created_at=datetime(2026, 12, 1, tzinfo=UTC))
    with ZendeskServer() as server:
        first = desk(server).open_ticket(earlier)
        server.script.append(Step(500, delay_seconds=2.0, create=False))
        second = desk(server, timeout_seconds=0.3).open_ticket(HANDOFF)
        tickets = len(server.tickets)
    assert first.ticket_id != second.ticket_id
    assert tickets == 2


def test_gives_up_after_max_attempts() -> None:
    """Four 500s with max_attempts=4: HandoffError naming the last error, three waits,
    and a final lookup so a ticket created on the last try would still be found."""
    sleeps = Sleeps()
    with ZendeskServer(script=[Step.error(500)] * 4) as server:
        with pytest.raises(HandoffError, match=r"help desk error \(500\).*after 4 attempts"):
            desk(server, sleeps).open_ticket(HANDOFF)
        creates = len(server.creates())
    assert creates == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_unreachable_help_desk_is_a_handoff_error() -> None:
    """Nothing listening: each attempt fails to connect, then HandoffError (no lookup,
    since no request reached a server)."""
    with ZendeskServer() as server:
        url = server.base_url
    helpdesk = opened(ZendeskHelpDesk(url, "a@b.example", "t", max_attempts=2, sleep=Sleeps()))
    with pytest.raises(HandoffError, match="unreachable"):
        helpdesk.open_ticket(HANDOFF)


def test_find_ticket_for_a_later_retry() -> None:
    """`find_ticket` returns the ticket an earlier call opened for the same handoff, and
    None for a handoff that has none."""
    with ZendeskServer() as server:
        helpdesk = desk(server)
        opened = helpdesk.open_ticket(HANDOFF)
        assert helpdesk.find_ticket(HANDOFF) == opened
        assert helpdesk.find_ticket(replace(HANDOFF, conversation_id="other")) is None
