"""What a person taking a conversation over is told: why (`REASON_TEXT`) and a summary of
who the customer is, how far they were verified, which order, and what was asked and
answered (`summary`), so that the customer is not asked again. Read from the dialogue's
state; used by `agent.Agent` when it hands over."""

from __future__ import annotations

from wismo.conversation.dialogue import State

REASON_TEXT = {
    "damaged_item": "The customer reports a damaged or wrong item",
    "missing_item": "The customer reports a missing item or parcel",
    "billing_dispute": "The customer disputes a charge",
    "cancel_after_dispatch": "The customer wants to cancel an order that has shipped",
    "address_after_dispatch": "The customer wants to change the address of a shipped order",
    "cancel_before_dispatch": "The customer wants to cancel an order before it ships",
    "address_before_dispatch": "The customer wants to change the address before it ships",
    "anger": "The customer is upset",
    "human_requested": "The customer asked for a person",
    "not_understood": "The agent did not understand the customer three times in a row",
    "locked_out": "Too many failed verification attempts",
}


def summary(s: State, reason: str, prior_contacts: int = 0) -> str:
    """The handoff summary: who, how far verified, which order, what was asked and
    answered, and why a person is needed, so the customer is not asked again."""
    who = s.contact or "a customer who gave no contact"
    if s.verified and s.method == "link":
        proof = "verified for this order by opening its signed tracking link"
    elif s.verified:
        proof = f"verified by {s.method}"
    elif s.level == "identified":
        proof = "identified by the contact given at the start, not verified"
    else:
        proof = "not verified"
    order = s.focus_number or s.order_number
    lines = [
        f"Customer: {who} ({proof}).",
        f"Order: {order or 'not given'}"
        + (" (verified)" if s.verified and s.focus_number else "")
        + ".",
        f"Asked about: {', '.join(s.asked) or 'nothing specific yet'}.",
        f"Answered: {', '.join(s.answered) or 'nothing yet'}.",
        f"Why handed over: {REASON_TEXT.get(reason, reason.replace('_', ' '))}.",
    ]
    if s.failures:
        lines.append(f"Failed verification attempts: {s.failures}.")
    if prior_contacts:
        lines.append(f"Repeat contact: {prior_contacts} earlier conversation(s) about this order.")
    return "\n".join(lines)
