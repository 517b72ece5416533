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
    verification_method: str | None  # email | phone | postal_code | otp | None
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
