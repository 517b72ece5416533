"""The agent use case: `Agent.start` and `Agent.turn`, the one entry every channel calls.

A start: who the customer is from what the channel knows (a contact, or an order opened
from a signed link) and the greeting (`opening`). A turn: read the conversation,
understand the message (`hearing`: the offline model; the optional language model only
when that is unsure), run the dialogue (`dialogue.step`) and carry out its actions
(verification with lockout and one-time codes in `verification`, order answers, handoffs),
compose the reply from templates, check every piece against the facts it may use
(`outgoing.grounded_reply`), then store the conversation and both turns in one
transaction. Logs carry redacted text only. See docs/agent.md.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from wismo.conversation import dialogue as dlg
from wismo.conversation.grounding import Facts
from wismo.conversation.hearing import code_in, hear, reply_language
from wismo.conversation.opening import open_conversation
from wismo.conversation.outgoing import grounded_reply
from wismo.conversation.policy import DisclosurePolicy, Identity, Level, Method
from wismo.conversation.ports import (
    CodeSender,
    Conversation,
    ConversationStore,
    Handoff,
    HandoffError,
    HelpDesk,
    LanguageModel,
    OrderBrief,
    OrderDirectory,
    QueuedHandoff,
    StoreInfo,
    TicketRef,
    TurnRecord,
)
from wismo.conversation.redact import redact
from wismo.conversation.replies import Reply, answer_reply, mask_contact, prompt_reply
from wismo.conversation.summary import REASON_TEXT, summary
from wismo.conversation.verification import Limits, Verifier, Work, norm_number
from wismo.domain.zones import zone as zone_named
from wismo.services.ports import Clock

__all__ = [
    "Agent",
    "Limits",
    "QueueHelpDesk",
    "Started",
    "TurnResult",
    "UnknownConversation",
    "UnknownStore",
    "grounded_reply",
]

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 10_000
QUEUE_PROVIDER = "queue"


class UnknownStore(LookupError):
    """No store with that id or slug: the caller answers 404."""


class UnknownConversation(LookupError):
    """No conversation with that public id (or not this store's): answered as 404."""


@dataclass(frozen=True, slots=True)
class Started:
    conversation_id: str
    reply: str


@dataclass(frozen=True, slots=True)
class TurnResult:
    conversation_id: str
    reply: str
    intent: str
    confidence: float
    entities: dict[str, object]
    level: str
    order_number: str | None  # the verified order the conversation is about
    handed_over: bool
    handoff_reason: str | None
    ticket_id: str | None
    grounded: bool
    violations: tuple[str, ...]
    ended: bool
    asks: str = "none"  # what the agent waits for (`dialogue.asks`)


class QueueHelpDesk:
    """The help desk when none is configured: the handoff waits in Wismo's own queue (the
    `conversation_handoffs` table, status `queued`), summary and transcript included, for
    a person to pick up (`wismo chat --handoffs`). Nothing is lost."""

    def open_ticket(self, handoff: Handoff) -> TicketRef:
        return TicketRef(QUEUE_PROVIDER, handoff.conversation_id[:12], None)


@dataclass
class _Turn(Work):
    """What one turn gathers while its actions run."""

    pieces: list[tuple[Reply, Facts]] = field(default_factory=list)
    handoff: QueuedHandoff | None = None
    customer_orders: list[OrderBrief] | None = None
    ended: bool = False
    customer_text: str = ""
    package_ref: str | None = None  # a tracking number the customer named


class Agent:
    def __init__(
        self,
        conversations: ConversationStore,
        orders: OrderDirectory,
        help_desk: HelpDesk,
        codes: CodeSender | None,
        clock: Clock,
        *,
        language_model: LanguageModel | None = None,
        key_for: Callable[[int], bytes] = lambda _store_id: b"wismo-agent",
        limits: Limits | None = None,
    ) -> None:
        """`key_for(store_id)` keys the HMACs of clients, order numbers and codes."""
        self._store = conversations
        self._orders = orders
        self._help_desk = help_desk
        self._clock = clock
        self._lm = language_model
        self.limits = limits or Limits()
        self._verifier = Verifier(conversations, orders, codes, key_for, self.limits)
        self._ctx = dlg.Context(
            max_failures=self.limits.conversation_failures,
            max_codes=self.limits.codes_per_conversation,
        )
        self._policies: dict[int, tuple[object, DisclosurePolicy]] = {}

    def start(
        self,
        store_id: int,
        channel: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        client: str | None = None,
        language: str | None = None,
        linked_order_id: int | None = None,
    ) -> Started:
        """Open a conversation. A contact given here identifies (never verifies) the
        customer when the store has an order with it. `linked_order_id` is an order the
        caller has proven the customer holds a signed link for (the tracking page's
        widget): the conversation starts verified for that order alone (`opening`).
        `client` (an IP, a caller's number) is kept only as a keyed hash, for the lockout."""
        store = self._orders.store(store_id)
        if store is None:
            raise UnknownStore(f"no store {store_id}")
        now = self._clock()
        opening = open_conversation(
            self._orders,
            store,
            channel,
            email=email,
            phone=phone,
            language=language,
            linked_order_id=linked_order_id,
        )
        state = opening.state
        conversation = Conversation(
            id=secrets.token_urlsafe(24),
            store_id=store_id,
            channel=channel,
            client_hash=self._verifier.hash(store_id, "client", client) if client else None,
            language=opening.language,
            state=state.to_json(),
            started_at=now,
            updated_at=now,
            level=state.level,
            method=state.method,
            customer_id=state.customer_id,
            order_id=state.order_id,
            turn_count=1,
        )
        if state.order_id is not None:
            since = now - self.limits.repeat_window
            conversation.prior_contacts = self._store.prior_contacts(
                store_id, state.order_id, since, conversation.id
            )
        text, grounded, violations = grounded_reply(
            [(opening.greeting, opening.facts)], channel=channel, today=None
        )
        turn = TurnRecord(
            1, "agent", text, redact(text), now, grounded=grounded, violations=violations
        )
        self._store.create(conversation, [turn])
        return Started(conversation.id, text)

    def turn(self, conversation_id: str, text: str) -> TurnResult:
        """Answer one customer message. Raises UnknownConversation, and ValueError for a
        message longer than MAX_TEXT_CHARS; `ConversationConflict` when another turn of the
        same conversation was saved meanwhile."""
        began = time.perf_counter()
        conversation = self._store.load(conversation_id)
        if conversation is None:
            raise UnknownConversation(conversation_id)
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text: at most {MAX_TEXT_CHARS} characters")
        store = self._orders.store(conversation.store_id)
        if store is None:
            raise UnknownConversation(conversation_id)
        now = self._clock()
        today = now.astimezone(zone_named(store.time_zone)).date()
        state = dlg.State.from_json(conversation.state)
        u = hear(text, state, store, today, self._lm)
        conversation.language = reply_language(text, u.language, conversation.language)
        e = u.entities
        heard = dlg.Heard(
            text=text,
            intent=u.intent,
            confidence=u.confidence,
            order_number=e.order_number,
            email=e.email,
            phone=e.phone,
            postal_code=e.postal_code,
            code=code_in(text) if state.phase == "await_code" else None,
        )
        t = _Turn(
            conversation, store, state, now, customer_text=text, package_ref=e.tracking_number
        )
        events: list[dlg.Event] = [heard]
        while events:
            t.state, actions = dlg.step(t.state, events.pop(0), self._ctx)
            for action in actions:
                outcome = self._do(t, action)
                if outcome is not None:
                    events.append(outcome)
        reply, grounded, violations = grounded_reply(
            t.pieces,
            channel=conversation.channel,
            today=today,
            language_model=self._lm,
            language=conversation.language,
        )
        s = t.state
        handed_over = s.phase == "handed_over"
        conversation.state = s.to_json()
        conversation.level, conversation.method = s.level, s.method
        conversation.customer_id, conversation.order_id = s.customer_id, s.order_id
        conversation.status = "handed_over" if handed_over else "closed" if t.ended else "open"
        conversation.updated_at = now
        seq = conversation.turn_count
        conversation.turn_count += 2
        redacted_in = redact(text, e)
        turns = [
            TurnRecord(
                seq + 1, "customer", text, redacted_in, now, u.intent, u.confidence, None, ()
            ),
            TurnRecord(
                seq + 2,
                "agent",
                reply,
                redact(reply),
                now,
                grounded=grounded,
                violations=violations,
                latency_ms=round((time.perf_counter() - began) * 1000, 3),
            ),
        ]
        self._store.save(conversation, turns, failures=t.failures, code=t.code, handoff=t.handoff)
        log.info(
            "conversation %s: intent=%s confidence=%.2f level=%s grounded=%s text=%r",
            conversation.id[:8],
            u.intent,
            u.confidence,
            s.level,
            grounded,
            redacted_in[:200],
        )
        return TurnResult(
            conversation_id=conversation.id,
            reply=reply,
            intent=u.intent,
            confidence=u.confidence,
            entities=e.to_json(),
            level=s.level,
            order_number=s.focus_number if s.verified else None,
            handed_over=handed_over,
            handoff_reason=s.handoff_reason if handed_over else None,
            ticket_id=conversation.ticket.ticket_id if conversation.ticket else None,
            grounded=grounded,
            violations=violations,
            ended=t.ended,
            asks=dlg.asks(s),
        )

    def history(self, conversation_id: str) -> tuple[Conversation, list[TurnRecord]]:
        """The conversation and its turns (for its owner: the API shows redacted text)."""
        conversation = self._store.load(conversation_id)
        if conversation is None:
            raise UnknownConversation(conversation_id)
        return conversation, self._store.turns(conversation_id)

    def retry_handoffs(self, limit: int = 100) -> tuple[int, int]:
        """Offer the help desk the handoffs it failed to take; (sent, still pending)."""
        sent = failed = 0
        for q in self._store.pending_handoffs(limit):
            assert q.id is not None  # stored rows have ids
            try:
                ticket = self._help_desk.open_ticket(q.handoff)
            except HandoffError as exc:
                self._store.handoff_done(q.id, None, str(exc)[:500], self._clock())
                failed += 1
            else:
                self._store.handoff_done(q.id, ticket, None, self._clock())
                sent += 1
        return sent, failed

    # -- actions -------------------------------------------------------------------------

    def _do(self, t: _Turn, action: dlg.Action) -> dlg.Event | None:
        match action:
            case dlg.Say():
                self._say(t, action.key, action.slots)
            case dlg.Answer():
                self._answer(t, action.topic)
            case dlg.Verify():
                verified = self._verifier.verify(t, action)
                if verified.ok and verified.order_id is not None:
                    prior = self._note_order(t, verified.order_id)
                    verified = replace(verified, prior_contacts=prior)
                return verified
            case dlg.SendCode():
                return self._verifier.send_code(t)
            case dlg.CheckCode():
                return self._verifier.check_code(t, action.code)
            case dlg.ListOrders():
                return dlg.Orders(tuple(o.order_number for o in self._customer_orders(t)))
            case dlg.Focus():
                return self._focus(t, action.order_number)
            case dlg.HandOver():
                self._hand_over(t, action.reason)
            case dlg.End():
                t.ended = True
        return None

    def _say(self, t: _Turn, key: str, slots: Mapping[str, object]) -> None:
        values: dict[str, str] = {}
        numbers: list[str] = []
        if key == "ask_which_order":
            numbers = [str(n) for n in slots.get("orders", ())]  # type: ignore[attr-defined]
            values["choices"] = ", ".join(numbers)
        if key == "greeting_linked":  # the focused order, verified
            numbers = [str(slots["order"])]
            values["order"] = numbers[0]
        if key == "code_sent":
            values["contact"] = mask_contact(t.state.contact or "")
        if key == "handoff":
            ref = t.conversation.ticket
            values["ticket"] = ref.ticket_id if ref else t.conversation.id[:12]
        reply = prompt_reply(
            key, channel=t.conversation.channel, language=t.conversation.language, **values
        )
        # The only facts a prompt may state are its slots: the customer's own verified
        # order numbers, a masked contact, a ticket reference.
        facts = Facts(order_numbers=frozenset(norm_number(n) for n in numbers))
        t.pieces.append((reply, reply.facts.merge(facts)))

    def _identity(self, s: dlg.State) -> Identity:
        if s.verified and s.method:
            return Identity(
                Level.VERIFIED,
                Method(s.method),
                s.customer_id,
                frozenset(s.verified_order_ids),
                s.contact,
            )
        level = Level.IDENTIFIED if s.level == "identified" else Level.ANONYMOUS
        return Identity(level, None, s.customer_id, frozenset(), s.contact)

    def _policy(self, store: StoreInfo) -> DisclosurePolicy:
        config = store.settings.get("policy")
        cached = self._policies.get(store.id)
        if cached is not None and cached[0] is config:
            return cached[1]
        try:
            policy = DisclosurePolicy.from_config(config if isinstance(config, Mapping) else None)
        except ValueError as exc:
            # A bad setting must not open anything up: the default is the floor.
            log.warning("store %s: agent policy ignored: %s", store.id, exc)
            policy = DisclosurePolicy()
        self._policies[store.id] = (config, policy)
        return policy

    def _answer(self, t: _Turn, topic: str) -> None:
        s = t.state
        if s.order_id is None:
            self._say(t, "ask_order_number", {})
            return
        answer = t.answer
        if answer is None or answer.order_id != s.order_id:
            answer = self._orders.answer(t.store.id, s.order_id)
        reply = answer_reply(
            answer,
            topic,
            channel=t.conversation.channel,
            identity=self._identity(s),
            policy=self._policy(t.store),
            language=t.conversation.language,
            package_ref=t.package_ref,
        )
        # `reply.facts` is `facts_of(answer, allowed)`: the record and the policy, not the
        # text. The check against it is what stops a fact the customer may not see.
        t.pieces.append((reply, reply.facts))

    def _note_order(self, t: _Turn, order_id: int) -> int:
        """Other conversations about this order lately (a repeat contact), counted once."""
        c = t.conversation
        if c.order_id == order_id:
            return 0
        since = t.now - self.limits.repeat_window
        prior = self._store.prior_contacts(c.store_id, order_id, since, c.id)
        c.prior_contacts = max(c.prior_contacts, prior)
        return prior

    def _customer_orders(self, t: _Turn) -> list[OrderBrief]:
        if t.customer_orders is None:
            s = t.state
            t.customer_orders = self._orders.orders_of(
                t.store.id,
                customer_id=s.customer_id,
                email=s.contact if s.contact_channel == "email" else None,
                phone=s.contact if s.contact_channel == "sms" else None,
            )
        return t.customer_orders

    def _focus(self, t: _Turn, number: str) -> dlg.Focused:
        """One of the verified customer's own orders; any other number is not found."""
        wanted = norm_number(number)
        found = next(
            (o for o in self._customer_orders(t) if norm_number(o.order_number) == wanted), None
        )
        answer = self._orders.answer(t.store.id, found.order_id) if found else None
        if answer is None:
            return dlg.Focused(ok=False)
        t.answer = answer
        return dlg.Focused(
            ok=True,
            order_id=answer.order_id,
            order_number=answer.order_number,
            shipped=bool(answer.packages),
            prior_contacts=self._note_order(t, answer.order_id),
        )

    def _hand_over(self, t: _Turn, reason: str) -> None:
        c, s = t.conversation, t.state
        transcript = [(r.role, r.text) for r in self._store.turns(c.id)]
        transcript.append(("customer", t.customer_text))
        tags = ["wismo", f"reason_{reason}"] + (["repeat_contact"] if c.prior_contacts else [])
        handoff = Handoff(
            conversation_id=c.id,
            store_id=c.store_id,
            channel=c.channel,
            reason=reason,
            reason_text=REASON_TEXT.get(reason, reason.replace("_", " ")),
            summary=summary(s, reason, c.prior_contacts),
            verified=s.verified,
            verification_method=s.method if s.verified else None,
            customer_name=s.customer_name,
            contact=s.contact,
            order_number=s.focus_number or s.order_number,
            transcript=tuple(transcript),
            created_at=t.now,
            tags=tuple(tags),
        )
        try:
            ticket = self._help_desk.open_ticket(handoff)
        except HandoffError as exc:
            # Kept as pending: `retry_handoffs` offers it again; the customer is told.
            log.warning("conversation %s: handoff failed: %s", c.id[:8], exc)
            t.handoff = QueuedHandoff(handoff, "pending", last_error=str(exc)[:500])
            self._say(t, "handoff_failed", {})
            return
        status = "queued" if ticket.provider == QUEUE_PROVIDER else "sent"
        t.handoff = QueuedHandoff(handoff, status, ticket=ticket)
        c.ticket = ticket
        self._say(t, "handoff", {})
