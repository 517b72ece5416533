"""Proving who the customer is: order number plus a matching contact, or a one-time code
sent to a contact on file; and the limits that stop guessing.

Failed attempts are counted per conversation (in its state), per client and per order
number (rows keyed by an HMAC, never the IP or number in clear). Past a limit, attempts
are refused for `Limits.lockout` after the latest failure, with the same reply whether the
order exists or not; the lookup still runs, so a refusal takes as long as a check. Codes:
six digits, only an HMAC of them stored, `Limits.code_ttl` to use them, `code_tries`
tries each.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import phonenumbers

from wismo.conversation import dialogue as dlg
from wismo.conversation.ports import (
    CodeSender,
    Conversation,
    ConversationStore,
    OneTimeCode,
    OrderDirectory,
    StoreInfo,
)
from wismo.services.status import OrderStatusAnswer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """Verification limits (docs/agent.md)."""

    conversation_failures: int = 5
    client_failures: int = 10  # per client (IP, caller phone), across conversations
    order_failures: int = 10  # per order number, across clients
    window: timedelta = timedelta(hours=1)  # client and order failures are counted over it
    lockout: timedelta = timedelta(minutes=15)  # after the latest failure past a limit
    code_ttl: timedelta = timedelta(minutes=10)
    code_tries: int = 3
    codes_per_conversation: int = 3
    repeat_window: timedelta = timedelta(days=7)  # a conversation this recent is a repeat


@dataclass
class Work:
    """One turn's scratch: what verification reads, and what it leaves to be stored."""

    conversation: Conversation
    store: StoreInfo
    state: dlg.State
    now: datetime
    failures: list[tuple[str, str]] = field(default_factory=list)  # (scope, key) to record
    code: OneTimeCode | None = None  # to insert or update
    answer: OrderStatusAnswer | None = None  # the order just verified or focused


class Verifier:
    def __init__(
        self,
        conversations: ConversationStore,
        orders: OrderDirectory,
        codes: CodeSender | None,
        key_for: Callable[[int], bytes],
        limits: Limits,
    ) -> None:
        self._store = conversations
        self._orders = orders
        self._codes = codes
        self._key_for = key_for
        self.limits = limits

    def hash(self, store_id: int, scope: str, value: str) -> str:
        key = self._key_for(store_id)
        return hmac.new(key, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()

    def locked(self, w: Work, order_number: str | None) -> bool:
        """Whether verification is refused now (this conversation, client or order)."""
        lim, s, now = self.limits, w.state, w.now
        last = datetime.fromisoformat(s.last_failure_at) if s.last_failure_at else None
        if s.failures >= lim.conversation_failures and last and now - last < lim.lockout:
            return True
        keys = self._failure_keys(w, order_number)
        if not keys:
            return False
        counts = self._store.failures(w.store.id, keys, now - lim.window)
        for (scope, _key), (count, latest) in counts.items():
            limit = lim.client_failures if scope == "client" else lim.order_failures
            if count >= limit and latest is not None and now - latest < lim.lockout:
                return True
        return False

    def _failure_keys(self, w: Work, order_number: str | None) -> list[tuple[str, str]]:
        keys = []
        if w.conversation.client_hash:
            keys.append(("client", w.conversation.client_hash))
        if order_number:
            keys.append(("order", self.hash(w.store.id, "order", norm_number(order_number))))
        return keys

    def _fail(self, w: Work, order_number: str | None) -> bool:
        """Count a failed attempt; True when it used up this conversation's allowance."""
        w.failures.extend(self._failure_keys(w, order_number))
        w.state.last_failure_at = w.now.isoformat()
        return w.state.failures + 1 >= self.limits.conversation_failures

    def verify(self, w: Work, v: dlg.Verify) -> dlg.Verified:
        """Order number plus one contact, compared in constant time by the status service
        (`StatusService.lookup`). The strongest contact given is the one used."""
        locked = self.locked(w, v.order_number)
        email = v.email.strip().lower() if v.email else None
        given: str | None
        if email:
            method, given = "email", email
            answer = self._orders.lookup(w.store.id, v.order_number, email=email)
        elif v.phone:
            method, given = "phone", v.phone
            answer = self._orders.lookup(w.store.id, v.order_number, phone=v.phone)
        else:
            method, given = "postal_code", v.postal_code
            answer = self._orders.lookup(w.store.id, v.order_number, postal_code=v.postal_code)
        # The lookup above ran even when locked out, so a refusal takes as long as a check.
        if locked:
            return dlg.Verified(ok=False, locked=True)
        if answer is None:
            used_up = self._fail(w, v.order_number)
            return dlg.Verified(ok=False, locked=used_up, hand_over=used_up, counted=True)
        w.answer = answer
        return dlg.Verified(
            ok=True,
            order_id=answer.order_id,
            order_number=answer.order_number,
            method=method,
            shipped=bool(answer.packages),
            contact=given,
        )

    def send_code(self, w: Work) -> dlg.CodeSent:
        """A code to the contact the customer is known by. A contact that is not on file
        gets the same reply and a code nobody receives: the reply must not tell whether an
        address belongs to a customer."""
        s = w.state
        if s.contact is None or s.contact_channel is None or self._codes is None:
            return dlg.CodeSent(ok=False)
        on_file = s.level == "identified"
        if not on_file:
            known = self._orders.contact(
                w.store.id,
                email=s.contact if s.contact_channel == "email" else None,
                phone=s.contact if s.contact_channel == "sms" else None,
            )
            on_file = known is not None
            if known is not None:
                s.customer_id, s.customer_name = known.customer_id, known.name
        code = f"{secrets.randbelow(1_000_000):06d}"
        if on_file:
            try:
                self._codes.send_code(
                    w.store.id, s.contact_channel, s.contact, code, w.conversation.language
                )
            except Exception as exc:  # any sender failure: ask for the order number instead
                log.warning("conversation %s: code not sent: %s", w.conversation.id[:8], exc)
                return dlg.CodeSent(ok=False)
        w.code = OneTimeCode(
            code_hash=self._code_hash(w, code) if on_file else "",
            channel=s.contact_channel,
            address=s.contact,
            created_at=w.now,
            expires_at=w.now + self.limits.code_ttl,
        )
        return dlg.CodeSent(ok=True)

    def _code_hash(self, w: Work, code: str) -> str:
        return self.hash(w.store.id, f"code:{w.conversation.id}", code)

    def check_code(self, w: Work, code: str) -> dlg.CodeChecked:
        if self.locked(w, None):
            return dlg.CodeChecked("locked")
        stored = self._store.code(w.conversation.id)
        if stored is None or stored.used:
            return dlg.CodeChecked("none")
        if w.now >= stored.expires_at:
            return dlg.CodeChecked("expired")
        if stored.attempts >= self.limits.code_tries:
            return dlg.CodeChecked("exhausted")
        w.code = stored
        if stored.code_hash and hmac.compare_digest(stored.code_hash, self._code_hash(w, code)):
            stored.used = True
            return dlg.CodeChecked("ok")
        stored.attempts += 1
        if self._fail(w, None):
            return dlg.CodeChecked("locked", hand_over=True, counted=True)
        if stored.attempts >= self.limits.code_tries:
            return dlg.CodeChecked("exhausted", counted=True)
        tries_left = self.limits.code_tries - stored.attempts
        return dlg.CodeChecked("wrong", tries_left=tries_left, counted=True)


def norm_number(number: str) -> str:
    """An order number as compared: no '#', no surrounding space, upper case."""
    return number.strip().lstrip("#").upper()


def e164(value: str | None, region: str) -> str | None:
    """A phone number in E.164, or None when it is not a valid one."""
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, region or "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
