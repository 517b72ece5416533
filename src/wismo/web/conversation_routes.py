"""The conversation API: the chat widget (and any channel) talks to the agent here.

Public, like the tracking page: no API key. A conversation is opened for a store by its
slug; its id is a random token and the only credential: whoever holds it may post turns
and read it back (turns redacted). Opened from an order's tracking page, the widget passes
that page's signed link token (`link`): a genuine, unexpired link for this store starts the
conversation verified for that one order; any other token starts it anonymous, with the
same answer as no token at all. Requests are rate-limited per client IP. Nothing here
logs request data. See docs/agent.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path as Path_
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from wismo.bootstrap import Wismo, make_agent
from wismo.conversation.agent import MAX_TEXT_CHARS, Agent, UnknownConversation, UnknownStore
from wismo.conversation.dialogue import State, asks
from wismo.conversation.ports import ConversationConflict
from wismo.services.links import LinkError
from wismo.services.ratelimit import RateLimiter
from wismo.storage import page as page_db
from wismo.web.deps import WismoDep, json_response

router = APIRouter(tags=["conversations"])

# The tracking page's chat widget: one small script from our own origin (the page's CSP
# allows 'self' scripts and fetches only); read once, it never changes while running.
_WIDGET = (Path_(__file__).parent / "static" / "chat.js").read_bytes()


@router.get("/static/chat.js", include_in_schema=False)
async def chat_script() -> Response:
    return Response(
        _WIDGET,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


ConversationId = Annotated[str, Path(min_length=1, max_length=64)]
Channel = Literal["chat", "web", "widget", "email", "sms", "voice"]


class StartRequest(BaseModel):
    """Open a conversation with a store's agent. A contact identifies the customer (it is
    a claim, not proof: order details still need verification). `link` is the token of
    the signed order link the tracking page was opened with (already in its URL)."""

    store: str = Field(min_length=1, max_length=64, description="The store's slug")
    channel: Channel = "chat"
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, max_length=35)
    link: str | None = Field(
        default=None, max_length=100, description="The order page's signed link token"
    )


class TurnRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT_CHARS, description="The customer's message")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class Limits:
    """Per client IP, in this process (services/ratelimit.py): a burst of conversations
    then one every 30 s; turns at a typing pace."""

    def __init__(self) -> None:
        self.starts = RateLimiter(capacity=10, per_second=1 / 30)
        self.turns = RateLimiter(capacity=30, per_second=1.0)


def _limits(request: Request) -> Limits:
    state = request.app.state
    if not hasattr(state, "conversation_limits"):
        state.conversation_limits = Limits()
    limits: Limits = state.conversation_limits
    return limits


def _agent(request: Request) -> Agent:
    """One agent per app, made on first use (a test may put its own in `app.state.agent`)."""
    state = request.app.state
    if not hasattr(state, "agent"):
        state.agent = make_agent(state.wismo)
    agent: Agent = state.agent
    return agent


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(limiter: RateLimiter, key: str) -> None:
    wait = limiter.allow(key)
    if wait > 0:
        raise HTTPException(
            429, "too many requests; try again later", headers={"Retry-After": f"{wait:.0f}"}
        )


@router.post(
    "/v1/conversations",
    status_code=201,
    summary="Open a conversation with a store's order-status agent",
    responses={
        201: {"description": "The conversation's id (its owner's secret) and the greeting"},
        404: {"description": "No store with that slug"},
        429: {"description": "Too many conversations from this client"},
    },
)
def start_conversation(body: StartRequest, request: Request, w: WismoDep) -> Response:
    client = _client(request)
    _limit(_limits(request).starts, client)
    with w.engine.connect() as conn:
        store = page_db.store_by_slug(conn, body.store)
    if store is None:
        raise HTTPException(404, "store: no such store")
    try:
        started = _agent(request).start(
            store.id,
            body.channel,
            email=body.email,
            phone=body.phone,
            client=client,
            language=body.language,
            linked_order_id=_linked_order(w, store.id, body.link),
        )
    except UnknownStore:
        raise HTTPException(404, "store: no such store") from None
    return json_response({"id": started.conversation_id, "reply": started.reply}, 201)


def _linked_order(w: Wismo, store_id: int, token: str | None) -> int | None:
    """The order a genuine, unexpired link of this store opens; None for anything else.
    Altered, expired and other stores' links are all just "no link": the answer must not
    tell a guesser which one it was."""
    if not token:
        return None
    try:
        target = w.links.verify(token, w.clock())
    except LinkError:
        return None
    return target.order_id if target.store_id == store_id else None


@router.post(
    "/v1/conversations/{conversation_id}/turns",
    summary="Send the customer's message; the agent's reply and what it understood",
    responses={
        200: {"description": "The turn result"},
        404: {"description": "No such conversation"},
        409: {"description": "Another message of this conversation is being answered"},
        422: {"description": "`text` is empty or longer than 10,000 characters"},
        429: {"description": "Too many messages from this client"},
    },
)
def post_turn(conversation_id: ConversationId, body: TurnRequest, request: Request) -> Response:
    _limit(_limits(request).turns, _client(request))
    try:
        result = _agent(request).turn(conversation_id, body.text)
    except UnknownConversation:
        raise HTTPException(404, "no such conversation") from None
    except ConversationConflict:
        raise HTTPException(409, "another message is being answered; send again") from None
    body_out = dataclasses.asdict(result)
    body_out["violations"] = list(result.violations)
    return json_response(body_out)


@router.get(
    "/v1/conversations/{conversation_id}",
    summary="The conversation's state and turns, redacted (for its owner)",
    responses={200: {"description": "State and turns"}, 404: {"description": "Unknown id"}},
)
def get_conversation(conversation_id: ConversationId, request: Request) -> Response:
    _limit(_limits(request).turns, _client(request))
    try:
        conversation, turns = _agent(request).history(conversation_id)
    except UnknownConversation:
        raise HTTPException(404, "no such conversation") from None
    state = State.from_json(conversation.state)
    out: dict[str, Any] = {
        "id": conversation.id,
        "channel": conversation.channel,
        "language": conversation.language,
        "status": conversation.status,
        "level": conversation.level,
        "method": conversation.method,
        "order_number": state.focus_number if state.verified else None,
        "ticket_id": conversation.ticket.ticket_id if conversation.ticket else None,
        "started_at": conversation.started_at,
        "updated_at": conversation.updated_at,
        # What the dialogue is doing, not what it holds: no contact, no typed number.
        "state": {
            "phase": state.phase,
            "pending": state.pending,
            "asks": asks(state),
            "handoff_reason": state.handoff_reason,
        },
        "turns": [
            {
                "seq": t.seq,
                "role": t.role,
                "text": t.redacted,
                "intent": t.intent,
                "confidence": t.confidence,
                "grounded": t.grounded,
                "violations": list(t.violations),
                "created_at": t.created_at,
            }
            for t in turns
        ],
    }
    return json_response(out)
