"""The conversation as a state machine: what to ask, check, say or hand over next.

Pure: `step(state, event, ctx) -> (state, actions)` reads no clock and does no I/O. An
event is what the customer said (`Heard`) or the outcome of an action the agent carried
out (`Verified`, `CodeSent`, `CodeChecked`, `Orders`, `Focused`); actions are what the
agent must do (`Say` a prompt, `Answer` from the order, `Verify`, `SendCode`, `CheckCode`,
`ListOrders`, `Focus`, `HandOver`, `End`). An action that has an outcome comes last in its
list; the agent feeds the outcome back in as the next event. The state is a plain
dataclass kept as JSON in the conversation row.

The rules, in the order they are tried on a message:

1. After a handoff the bot no longer answers (a person will).
2. Anger and billing disputes go to a person at once.
3. A slot being waited for is filled from what the message names, whatever the intent
   (a code, an order number, a contact).
4. Below the confidence threshold: a clarifying question, never a guess; the third in a
   row hands over.
5. Small talk and side questions are answered and the pending question is asked again:
   changing the subject mid-verification keeps the intent that started it.
6. Order questions need a verified order: ask for the order number, then a contact that
   matches it (or use the contact given at the start), or send a one-time code to the
   contact on file; a verified customer with several orders is asked which one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from wismo.conversation.lexicon import (
    cue,
    damage_or_missing,
    is_angry,
    is_billing_dispute,
    wants_person,
)
from wismo.conversation.nlu.intents import INTENTS, ORDER_STATUS_FAMILY
from wismo.conversation.nlu.understanding import CONFIDENT

# Intents answered from the verified order's record (the topic is the intent's name).
ANSWERED = ORDER_STATUS_FAMILY | {"return_status", "refund_status"}
# Changes to an order: a person decides once a package has left.
CHANGES = frozenset({"cancel_order", "change_address"})
_CHANGE = {"cancel_order": "cancel", "change_address": "address"}
# Topics the NLU has no intent for, recognised by their words (`cue`): what is in the
# order, and its tracking numbers and carriers.
CUE_TOPICS = frozenset({"items", "tracking"})
NEEDS_ORDER = ANSWERED | CHANGES | CUE_TOPICS
_NOT_A_QUESTION = frozenset({"provide_info", "affirm", "deny", "greeting", "goodbye"})
WAITING = frozenset({"await_order", "await_contact", "await_code", "await_choice"})
if not set(INTENTS) >= ANSWERED | CHANGES:
    raise RuntimeError("the dialogue names an intent the NLU does not know")


# -- state, events, actions ------------------------------------------------------------


@dataclass(slots=True)
class State:
    """Where the conversation is. Stored as JSON; never holds a code or a guess at one."""

    phase: str = "open"  # open | await_order | await_contact | await_code | await_choice
    #                       | handed_over | ended
    pending: str | None = None  # the intent waiting for an order or a verification
    order_number: str | None = None  # as the customer typed it, not verified yet
    level: str = "anonymous"  # anonymous | identified | verified
    method: str | None = None  # postal_code | email | phone | link | otp
    customer_id: int | None = None
    contact: str | None = None  # the email or phone the customer is identified by
    contact_channel: str | None = None  # email | sms: where a code for `contact` goes
    customer_name: str | None = None  # as on file, for the person a handoff goes to
    postal_code: str | None = None  # proven with an earlier order: tried for the next one
    remembered: bool = False  # the verification under way uses a contact given earlier
    verified_order_ids: list[int] = field(default_factory=list)
    order_id: int | None = None  # the order being talked about (verified)
    focus_number: str | None = None
    shipped: bool = False  # the focused order has a package with the carrier
    choices: list[str] = field(default_factory=list)  # order numbers offered to pick from
    not_understood: int = 0  # in a row
    failures: int = 0  # failed verifications in this conversation
    last_failure_at: str | None = None  # ISO instant, for the lockout's duration
    codes_sent: int = 0
    asked: list[str] = field(default_factory=list)  # intents acted on, for the summary
    answered: list[str] = field(default_factory=list)  # topics answered
    handoff_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> State:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            k: (list(v) if isinstance(v, list) else v) for k, v in data.items() if k in known
        }
        return cls(**values)

    @property
    def verified(self) -> bool:
        return self.level == "verified"

    @property
    def as_customer(self) -> bool:
        """Verified as a customer (a code to a contact on file), not for one order."""
        return self.verified and self.method == "otp"


@dataclass(frozen=True, slots=True)
class Context:
    confident: float = CONFIDENT
    max_failures: int = 5  # failed verifications in one conversation before lockout
    max_codes: int = 3  # codes sent in one conversation
    max_not_understood: int = 3


@dataclass(frozen=True, slots=True)
class Heard:
    """One customer message as the dialogue needs it."""

    text: str
    intent: str
    confidence: float
    order_number: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    code: str | None = None  # six digits, read only while a code is awaited

    @property
    def contact_given(self) -> bool:
        return bool(self.email or self.phone or self.postal_code)


@dataclass(frozen=True, slots=True)
class Verified:
    """Outcome of `Verify`. `locked`: too many failures (the attempt was not judged);
    `hand_over`: this conversation's own failures reached the limit."""

    ok: bool
    order_id: int | None = None
    order_number: str | None = None
    method: str | None = None
    shipped: bool = False
    locked: bool = False
    hand_over: bool = False
    counted: bool = False  # a failed attempt, counted against the limits
    prior_contacts: int = 0  # other conversations about this order lately
    contact: str | None = None  # what proved it (email, E.164 phone, postal code)


@dataclass(frozen=True, slots=True)
class CodeSent:
    ok: bool


@dataclass(frozen=True, slots=True)
class CodeChecked:
    result: str  # ok | wrong | expired | exhausted | none | locked
    tries_left: int = 0
    hand_over: bool = False
    counted: bool = False


@dataclass(frozen=True, slots=True)
class Orders:
    numbers: tuple[str, ...]  # the verified customer's orders, newest first


@dataclass(frozen=True, slots=True)
class Focused:
    ok: bool
    order_id: int | None = None
    order_number: str | None = None
    shipped: bool = False
    prior_contacts: int = 0


Event = Heard | Verified | CodeSent | CodeChecked | Orders | Focused


@dataclass(frozen=True, slots=True)
class Say:
    key: str
    slots: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    topic: str


@dataclass(frozen=True, slots=True)
class Verify:
    order_number: str
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class SendCode:
    """Send a one-time code to the identified customer's contact on file."""


@dataclass(frozen=True, slots=True)
class CheckCode:
    code: str


@dataclass(frozen=True, slots=True)
class ListOrders:
    """Look up the verified customer's orders and ask which one."""


@dataclass(frozen=True, slots=True)
class Focus:
    order_number: str


@dataclass(frozen=True, slots=True)
class HandOver:
    reason: str


@dataclass(frozen=True, slots=True)
class End:
    """The customer said goodbye: close the conversation."""


Action = Say | Answer | Verify | SendCode | CheckCode | ListOrders | Focus | HandOver | End
Step = tuple[State, list[Action]]


def step(state: State, event: Event, ctx: Context | None = None) -> Step:
    """The next state and what to do; `state` is not changed."""
    ctx = ctx or Context()
    s = State.from_json(state.to_json())
    match event:
        case Heard():
            return s, _heard(s, event, ctx)
        case Verified():
            return s, _verified(s, event)
        case CodeSent():
            return s, _code_sent(s, event)
        case CodeChecked():
            return s, _code_checked(s, event, ctx)
        case Orders():
            return s, _orders(s, event)
        case Focused():
            return s, _focused(s, event)
    raise TypeError(f"not a dialogue event: {event!r}")  # pragma: no cover


def expecting(state: State) -> str | None:
    """The slot the last question asked for, so a bare number is read as that."""
    return {
        "await_order": "order_number",
        "await_choice": "order_number",
        "await_contact": "postal_code",
    }.get(state.phase)


def asks(state: State) -> str:
    """What the agent is waiting for after this turn (for tests and scenario runs)."""
    return {
        "await_order": "ask_order_number",
        "await_contact": "ask_contact",
        "await_code": "ask_code",
        "await_choice": "confirm",
    }.get(state.phase, "none")


def hand_over(s: State, reason: str) -> list[Action]:
    s.phase = "handed_over"
    s.handoff_reason = reason
    return [HandOver(reason)]


def reprompt(s: State) -> list[Action]:
    """The question still open, asked again after a side question."""
    match s.phase:
        case "await_order":
            return [Say("ask_order_number")]
        case "await_contact":
            return [Say("ask_contact", {"order_number": s.order_number or ""})]
        case "await_code":
            return [Say("code_sent", {"again": True})]
        case "await_choice":
            return [Say("ask_which_order", {"orders": list(s.choices)})]
    return []


def _heard(s: State, m: Heard, ctx: Context) -> list[Action]:
    if s.phase == "handed_over":
        return [Say("handoff", {"waiting": True})]
    if s.phase == "ended":
        s.phase = "open"
    if is_angry(m.text):
        return hand_over(s, "anger")
    if is_billing_dispute(m.text):
        return hand_over(s, "billing_dispute")
    if wants_person(m.text):
        return hand_over(s, "human_requested")
    confident = m.confidence >= ctx.confident
    named = cue(m.text, m.intent, confident)
    if named is not None:
        # A rule on the words, not a guess: acted on like a confident intent.
        m = replace(m, intent=named, confidence=1.0)
        confident = True
    filled = _fill_slot(s, m, confident, ctx)
    if filled is not None:
        s.not_understood = 0
        return filled
    if not confident:
        s.not_understood += 1
        if s.not_understood >= ctx.max_not_understood:
            return hand_over(s, "not_understood")
        return [Say("clarify")]
    s.not_understood = 0
    return _intent(s, m, ctx)


def _fill_slot(s: State, m: Heard, confident: bool, ctx: Context) -> list[Action] | None:
    """What the message gives for the question being asked, if anything; None to go on
    to the intent. A confident intent other than giving details is a change of subject."""
    side = confident and m.intent not in ("provide_info", "affirm", "deny")
    side = side and not (m.intent in NEEDS_ORDER and m.intent == s.pending)
    if s.phase == "await_code" and m.code:
        return [CheckCode(m.code)]
    if s.phase == "await_choice" and not side:
        listed = m.order_number and m.order_number.lstrip("#") in s.choices
        picked = (m.order_number if listed else None) or _nth(s.choices, m.text) or m.order_number
        if picked:
            return [Focus(picked)]
    if side and not (m.order_number or m.contact_given):
        return None
    if m.order_number and (s.phase in WAITING or not confident or m.intent == "provide_info"):
        s.pending = s.pending or (m.intent if m.intent in NEEDS_ORDER else "order_status")
        s.order_number = m.order_number
        return _need_order(s, m, ctx)
    if m.contact_given and s.phase in ("await_contact", "await_order") and not side:
        return _need_order(s, m, ctx)
    if m.contact_given and s.phase == "open" and m.intent == "provide_info" and not s.verified:
        s.pending = s.pending or "order_status"
        return _need_order(s, m, ctx)
    return None


def _intent(s: State, m: Heard, ctx: Context) -> list[Action]:
    intent = m.intent
    if intent in NEEDS_ORDER:
        s.pending = intent
        if m.order_number:
            s.order_number = m.order_number
        return _need_order(s, m, ctx)
    if intent not in _NOT_A_QUESTION:
        _note(s.asked, intent)
    match intent:
        case "human_agent":
            return hand_over(s, "human_requested")
        case "missing_or_damaged_item":
            return hand_over(s, damage_or_missing(m.text))
        case "goodbye":
            s.phase, s.pending = "ended", None
            return [Say("goodbye"), End()]
        case "greeting" if s.phase in ("open", "ended", "await_order"):
            # The greeting itself asks for the order number, or names the verified order.
            if s.verified and s.focus_number and s.phase != "await_order":
                return [Say("greeting_linked", {"order": s.focus_number})]
            return [Say("greeting")]
        case "greeting":
            return reprompt(s)
        case "start_return":
            return [Say("start_return"), *reprompt(s)]
        case "deny" if s.phase in ("await_order", "await_contact") and s.contact:
            # No order number to hand: a code to the contact on file proves who they are.
            return _send_code(s, ctx)
        case "affirm" | "deny" | "provide_info":
            return reprompt(s) or [Say("fallback")]
    return [Say("out_of_scope"), *reprompt(s)]


def _send_code(s: State, ctx: Context) -> list[Action]:
    if s.codes_sent >= ctx.max_codes or not s.contact:
        s.phase = "await_order"
        return [Say("ask_order_number")]
    s.codes_sent += 1
    return [SendCode()]


def _need_order(s: State, m: Heard, ctx: Context) -> list[Action]:
    """Move the pending order question on by one step."""
    number = s.order_number
    if s.verified and s.order_id is not None and (number is None or number == s.focus_number):
        return _act(s)
    if s.as_customer:
        if number is not None:
            return [Focus(number)]
        return [ListOrders()]
    if number is None:
        if m.email or m.phone:
            # A contact typed in the chat identifies, as one given at the start would: a
            # code goes to it only if it is on file (the agent checks), so nothing leaks.
            s.contact = m.email or m.phone
            s.contact_channel = "email" if m.email else "sms"
            s.phase = "await_order"
            return _send_code(s, ctx)
        if s.contact and s.codes_sent == 0:
            return _send_code(s, ctx)
        s.phase = "await_order"
        return [Say("ask_order_number")]
    s.remembered = False
    if m.contact_given:
        return [Verify(number, m.email, m.phone, m.postal_code)]
    if (s.contact or s.postal_code) and s.phase != "await_contact":
        # A contact given at the start, or proven for an earlier order, is tried on this
        # one: it proves it only if it is the one on the order (the same comparison as the
        # tracking page's lookup).
        s.remembered = True
        email = s.contact if s.contact_channel == "email" else None
        phone = s.contact if s.contact_channel == "sms" else None
        return [Verify(number, email, phone, None if s.contact else s.postal_code)]
    s.phase = "await_contact"
    return [Say("ask_contact", {"order_number": number})]


def _act(s: State) -> list[Action]:
    """Answer the pending question about the focused order (verified)."""
    intent = s.pending or "order_status"
    s.pending, s.phase, s.order_number = None, "open", None
    _note(s.asked, intent)
    if intent in CHANGES:
        if s.shipped:
            reason = (
                "cancel_after_dispatch" if intent == "cancel_order" else "address_after_dispatch"
            )
            return hand_over(s, reason)
        # Not shipped yet: the store can still change it, but only a person can do it.
        return [Say(intent), *hand_over(s, f"{_CHANGE[intent]}_before_dispatch")]
    _note(s.answered, intent)
    return [Answer(intent)]


def _verified(s: State, v: Verified) -> list[Action]:
    if v.counted:
        s.failures += 1
    if v.locked:
        s.phase, s.order_number = "open", None
        if v.hand_over:
            return [Say("locked_out"), *hand_over(s, "locked_out")]
        return [Say("locked_out")]
    if not v.ok:
        s.phase = "await_contact"
        if s.remembered:
            # Nothing the customer typed was wrong: ask for what matches this order.
            s.remembered = False
            return [Say("ask_contact", {"order_number": s.order_number or ""})]
        return [Say("verify_failed", {"order_number": s.order_number or ""})]
    assert v.order_id is not None
    if s.verified and s.method == v.method:
        _note(s.verified_order_ids, v.order_id)
    else:
        # One method per conversation: what was proven more weakly does not borrow the
        # stronger proof of an earlier order.
        s.method = v.method
        s.verified_order_ids = [v.order_id]
    s.remembered = False
    if v.contact and v.method in ("email", "phone"):
        s.contact, s.contact_channel = v.contact, "email" if v.method == "email" else "sms"
    elif v.contact and v.method == "postal_code":
        s.postal_code = v.contact
    s.level = "verified"
    s.order_id, s.focus_number, s.shipped = v.order_id, v.order_number, v.shipped
    s.order_number = None
    # "That matches" only when there is no answer to give at once: the answer says it.
    said = [] if s.pending else [Say("verified")]
    return [*said, *_repeat(v.prior_contacts), *_act(s)]


def _code_sent(s: State, c: CodeSent) -> list[Action]:
    if not c.ok:
        s.phase = "await_order"
        return [Say("ask_order_number")]
    s.phase = "await_code"
    return [Say("code_sent")]


def _code_checked(s: State, c: CodeChecked, ctx: Context) -> list[Action]:
    if c.counted:
        s.failures += 1
    match c.result:
        case "ok":
            s.level, s.method = "verified", "otp"
            s.phase = "open"
            s.pending = s.pending or "order_status"
            return [ListOrders()]
        case "wrong":
            return [Say("code_wrong", {"tries_left": c.tries_left})]
        case "locked":
            s.phase = "open"
            if c.hand_over:
                return [Say("locked_out"), *hand_over(s, "locked_out")]
            return [Say("locked_out")]
        case "exhausted":
            s.phase = "await_order"
            return [Say("verify_failed"), Say("ask_order_number")]
    # expired, or none at all: a new one, if the allowance is not used up
    s.phase = "await_order"
    if s.codes_sent < ctx.max_codes and s.contact:
        s.codes_sent += 1
        return [Say("code_expired"), SendCode()]
    return [Say("code_expired"), Say("ask_order_number")]


def _orders(s: State, o: Orders) -> list[Action]:
    if len(o.numbers) == 1:
        return [Focus(o.numbers[0])]
    if not o.numbers:
        s.phase = "await_order"
        return [Say("ask_order_number")]
    s.phase = "await_choice"
    s.choices = list(o.numbers)
    return [Say("ask_which_order", {"orders": list(o.numbers)})]


def _focused(s: State, f: Focused) -> list[Action]:
    if not f.ok or f.order_id is None:
        # Not one of theirs (or no such order): the same question again, nothing said
        # about the number.
        s.order_number = None
        if s.choices:
            s.phase = "await_choice"
            return [Say("ask_which_order", {"orders": list(s.choices)})]
        s.phase = "await_order"
        return [Say("ask_order_number")]
    s.order_id, s.focus_number, s.shipped = f.order_id, f.order_number, f.shipped
    _note(s.verified_order_ids, f.order_id)
    s.choices = []
    return [*_repeat(f.prior_contacts), *_act(s)]


def _repeat(prior_contacts: int) -> list[Action]:
    """A customer asking again about the same order is told we know."""
    return [Say("repeat_contact", {"count": prior_contacts})] if prior_contacts else []


def _nth(choices: list[str], text: str) -> str | None:
    """ "2" for the second order listed (unless 2 is itself one of the numbers)."""
    word = text.strip().lstrip("#").rstrip(".")
    if word.isdigit() and word not in choices and 1 <= int(word) <= len(choices):
        return choices[int(word) - 1]
    return None


def _note(items: list[Any], item: object) -> None:
    if not items or items[-1] != item:
        items.append(item)
