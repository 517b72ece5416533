"""How a conversation begins: who the customer is at the start, and the greeting.

Two things a channel may know before the first message:

- a contact (a signed-in widget's email, a caller's number): when the store has an order
  with it, the customer is *identified*. A claim, never proof: it only lets a one-time
  code go to that contact, and it is tried against an order number the customer names.
- an order the channel has already proven the customer holds (`linked_order_id`): the
  tracking page opened from a signed, expiring order link, verified by the web layer
  before it calls `Agent.start`. The conversation starts *verified* with the `link`
  method (`policy.Method.LINK`) for that one order, focused on it, and the greeting names
  it. Any other order needs its own verification.

Pure apart from the reads through `OrderDirectory`; used by `agent.Agent.start`.
"""

from __future__ import annotations

from dataclasses import dataclass

from wismo.conversation import dialogue as dlg
from wismo.conversation.grounding import Facts
from wismo.conversation.policy import Method
from wismo.conversation.ports import OrderDirectory, StoreInfo
from wismo.conversation.replies import Reply, prompt_reply
from wismo.conversation.verification import e164, norm_number
from wismo.services.status import OrderStatusAnswer


@dataclass(frozen=True, slots=True)
class Opening:
    """The first state, the language to greet in, and the greeting with the facts it may
    state (the linked order's number, nothing else)."""

    state: dlg.State
    language: str
    greeting: Reply
    facts: Facts


def open_conversation(
    orders: OrderDirectory,
    store: StoreInfo,
    channel: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    linked_order_id: int | None = None,
) -> Opening:
    """Identify by the contact given, verify for the linked order if it still exists, and
    greet. An order that is gone leaves the conversation as it would be without a link."""
    state = dlg.State()
    known_language = _identify(orders, store, state, email, phone)
    linked = orders.answer(store.id, linked_order_id) if linked_order_id is not None else None
    if linked is not None:
        verify_by_link(state, linked)
        known_language = known_language or linked.language
    lang = (language or known_language or "en")[:35]
    if linked is None:
        greeting = prompt_reply("greeting", channel=channel, language=lang)
        return Opening(state, lang, greeting, greeting.facts)
    greeting = prompt_reply(
        "greeting_linked", channel=channel, language=lang, order=linked.order_number
    )
    # The order number is a fact of the one order this conversation is verified for.
    facts = greeting.facts.merge(Facts(order_numbers=frozenset({norm_number(linked.order_number)})))
    return Opening(state, lang, greeting, facts)


def verify_by_link(state: dlg.State, answer: OrderStatusAnswer) -> None:
    """Verified for this one order, by the signed link it was opened from, and focused on
    it: "where is my order" is answered at once."""
    state.level, state.method = "verified", Method.LINK.value
    state.verified_order_ids = [answer.order_id]
    state.order_id, state.focus_number = answer.order_id, answer.order_number
    state.shipped = bool(answer.packages)


def _identify(
    orders: OrderDirectory,
    store: StoreInfo,
    state: dlg.State,
    email: str | None,
    phone: str | None,
) -> str | None:
    """Mark the customer identified when a contact given is on an order of the store; the
    customer's language on file, if any."""
    email = email.strip().lower() if email and email.strip() else None
    phone = e164(phone, store.country) if phone else None
    for value, kind in ((email, "email"), (phone, "sms")):
        if value is None:
            continue
        known = orders.contact(
            store.id,
            email=value if kind == "email" else None,
            phone=value if kind == "sms" else None,
        )
        if known is not None:
            state.level, state.customer_id = "identified", known.customer_id
            state.customer_name = known.name
            state.contact, state.contact_channel = value, kind
            return known.language
    return None
