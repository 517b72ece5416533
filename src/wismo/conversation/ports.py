"""What the agent needs from outside, as Protocols; adapters live elsewhere.

`HelpDesk` is implemented for a Zendesk-style ticket API in `wismo.channels.helpdesk`,
`LanguageModel` for OpenAI-compatible chat completions in `wismo.channels.llm`; both have
in-memory fakes in `wismo.conversation.testing` that tests and the demo share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from wismo.services.status import OrderStatusAnswer


@dataclass(frozen=True, slots=True)
class Handoff:
    """Everything a person taking over needs, so the customer is not asked again."""

    conversation_id: str
    store_id: int
    channel: str  # chat | terminal | sms | email | voice
    reason: str  # a code: damaged_item, missing_item, billing_dispute, cancel_after_dispatch,
    #              address_after_dispatch, anger, human_requested, not_understood, locked_out
    reason_text: str  # the reason in words, for the ticket
    summary: str  # who, verified or not, which order, what was asked and answered, why
    verified: bool
    verification_method: str | None  # email | phone | postal_code | otp | link | None
    customer_name: str | None
    contact: str | None  # the email or phone the customer gave or we know them by
    order_number: str | None
    transcript: tuple[tuple[str, str], ...]  # (customer | agent, text), personal data kept:
    #                                          the help desk is where an agent needs it
    created_at: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketRef:
    provider: str
    ticket_id: str
    url: str | None = None


class HandoffError(Exception):
    """The help desk could not take the ticket (after the adapter's own retries)."""


class HelpDesk(Protocol):
    def open_ticket(self, handoff: Handoff) -> TicketRef: ...


@dataclass(frozen=True, slots=True)
class Interpretation:
    """A language model's reading of one message, in the offline model's own terms."""

    intent: str
    entities: Mapping[str, str] = field(default_factory=dict)  # same keys as nlu.Entities


class LanguageModel(Protocol):
    """Optional: consulted only when the offline model is unsure, and to phrase replies.

    Both methods return None on any failure (timeout, refusal, malformed output); the
    caller then falls back to the offline answer. A phrased reply is sent only if it passes
    the same grounding check as the template reply it replaces.
    """

    def interpret(
        self, text: str, *, intents: Sequence[str], language: str
    ) -> Interpretation | None: ...

    def phrase(self, draft: str, *, channel: str, language: str) -> str | None: ...


class CodeSender(Protocol):
    """Sends a one-time verification code to a contact already on file."""

    def send_code(
        self, store_id: int, channel: str, address: str, code: str, language: str
    ) -> None: ...


# -- storage and orders (used by `wismo.conversation.agent`) ------------------------------


class ConversationConflict(Exception):
    """Another turn of the same conversation was saved first; the caller may retry."""


@dataclass(slots=True)
class Conversation:
    """One conversation as stored. `id` is the public token: whoever holds it owns it."""

    id: str
    store_id: int
    channel: str
    client_hash: str | None  # the client (IP, caller phone) as a keyed hash, never in clear
    language: str
    state: dict[str, object]  # `dialogue.State.to_json()`
    started_at: datetime
    updated_at: datetime
    status: str = "open"  # open | handed_over | closed
    customer_id: int | None = None
    order_id: int | None = None  # the order the conversation is about, once verified
    level: str = "anonymous"
    method: str | None = None
    turn_count: int = 0  # turns stored; a save expects the stored row to still have it
    prior_contacts: int = 0  # other conversations about the same order in the last 7 days
    ticket: TicketRef | None = None


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One message. `text` is kept for the help desk; logs and the API show `redacted`."""

    seq: int
    role: str  # customer | agent
    text: str
    redacted: str
    created_at: datetime
    intent: str | None = None
    confidence: float | None = None
    grounded: bool | None = None
    violations: tuple[str, ...] = ()
    latency_ms: float | None = None


@dataclass(slots=True)
class OneTimeCode:
    """A verification code as stored: only its hash, where it went, and how it is used."""

    code_hash: str
    channel: str  # email | sms
    address: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    used: bool = False
    id: int | None = None


@dataclass(slots=True)
class QueuedHandoff:
    """A handoff as recorded: `sent` (a ticket exists), `queued` (waiting in Wismo's own
    queue, no help desk configured) or `pending` (the help desk failed; retried later)."""

    handoff: Handoff
    status: str
    attempts: int = 1
    ticket: TicketRef | None = None
    last_error: str | None = None
    id: int | None = None


class ConversationStore(Protocol):
    def create(self, conversation: Conversation, turns: Sequence[TurnRecord]) -> None: ...

    def load(self, conversation_id: str) -> Conversation | None: ...

    def save(
        self,
        conversation: Conversation,
        turns: Sequence[TurnRecord],
        *,
        failures: Sequence[tuple[str, str]] = (),
        code: OneTimeCode | None = None,
        handoff: QueuedHandoff | None = None,
    ) -> None:
        """Store the conversation (it had `turn_count - len(turns)` turns, else
        `ConversationConflict`), append its new turns, record failed verifications as
        (scope, key) at `conversation.updated_at`, insert or update the code and handoff."""
        ...

    def turns(self, conversation_id: str) -> list[TurnRecord]: ...

    def failures(
        self, store_id: int, keys: Sequence[tuple[str, str]], since: datetime
    ) -> dict[tuple[str, str], tuple[int, datetime | None]]:
        """Per (scope, key): failed verifications since `since`, and the latest one."""
        ...

    def code(self, conversation_id: str) -> OneTimeCode | None:
        """The conversation's latest one-time code, if any."""
        ...

    def prior_contacts(self, store_id: int, order_id: int, since: datetime, exclude: str) -> int:
        """Other conversations about this order that started since `since`."""
        ...

    def pending_handoffs(self, limit: int) -> list[QueuedHandoff]: ...

    def handoff_done(
        self, handoff_id: int, ticket: TicketRef | None, error: str | None, at: datetime
    ) -> None:
        """Record a retry: the ticket it opened (status sent), or the error (still pending)."""
        ...


@dataclass(frozen=True, slots=True)
class StoreInfo:
    id: int
    name: str
    country: str
    time_zone: str
    settings: Mapping[str, object]  # the store's "agent" integration settings


@dataclass(frozen=True, slots=True)
class Contact:
    """Whom a contact given at the start belongs to: a known customer of the store."""

    customer_id: int | None  # None for guest orders: the contact itself is the identity
    name: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class OrderBrief:
    order_id: int
    order_number: str
    placed_at: datetime


class OrderDirectory(Protocol):
    """What the agent reads about stores, customers and orders; answers come from
    `StatusService` (`by_id`, and `lookup` with its constant-time contact comparison)."""

    def store(self, store_id: int) -> StoreInfo | None: ...

    def contact(
        self, store_id: int, *, email: str | None = None, phone: str | None = None
    ) -> Contact | None:
        """The customer an email (lower case) or phone (E.164) is on file for, if any."""
        ...

    def orders_of(
        self,
        store_id: int,
        *,
        customer_id: int | None,
        email: str | None = None,
        phone: str | None = None,
        limit: int = 20,
    ) -> list[OrderBrief]:
        """The customer's orders (by customer, or by the contact on guest orders), newest
        first."""
        ...

    def answer(self, store_id: int, order_id: int) -> OrderStatusAnswer | None: ...

    def lookup(
        self,
        store_id: int,
        order_number: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        postal_code: str | None = None,
    ) -> OrderStatusAnswer | None:
        """The answer only if the contact matches; None alike for no order and no match."""
        ...
