"""What comes back over SMS: Twilio's inbound messages (STOP, START, HELP) and delivery
reports, stored in the inbox first, then applied, so a failure is kept (`dead`, listed by
`wismo inbox list`) and can be applied again (`SmsInbound.replay`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import parse_qsl

from wismo.services.ports import Clock, Outcome

log = logging.getLogger(__name__)


TWILIO = "twilio"  # the inbox source of Twilio's webhooks


@dataclass(frozen=True, slots=True)
class HelpInfo:
    """What an SMS HELP reply says: the store's own text, or its name and support contact."""

    store_name: str
    language: str
    text: str | None = None
    contact: str | None = None


class InboundStore(Protocol):
    """Where Twilio's webhooks are kept and applied (`wismo.storage.relay`)."""

    def stores_for_address(self, channel: str, address: str) -> list[int]: ...

    def store_of_message(self, provider_message_id: str) -> int | None: ...

    def inbox_add(
        self,
        store_ids: Sequence[int],
        item: tuple[str, str | None, str, bytes],
        now: datetime,
    ) -> list[tuple[int, int]]:
        """Store one (source, event id, format, body) per store, committed; the (inbox id,
        store id) of rows new (an id already stored for a store is a duplicate)."""
        ...

    def inbox_items(self, inbox_ids: Sequence[int]) -> list[tuple[int, int, str, bytes]]:
        """(inbox id, store id, format, body) of stored Twilio payloads."""
        ...

    def inbox_record(self, outcomes: Mapping[int, Outcome], now: datetime) -> None: ...

    def opt_out(
        self, store_id: int, channel: str, address: str, source: str, now: datetime
    ) -> None: ...

    def opt_in(self, store_id: int, channel: str, address: str) -> None: ...

    def status_callback(self, provider_message_id: str, status: str, now: datetime) -> bool: ...

    def help_info(self, channel: str, address: str) -> HelpInfo | None:
        """For the store that last messaged `address` (None if none did)."""
        ...


def read_form(body: bytes) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body; ValueError if it is not UTF-8."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8 form data") from None


class SmsInbound:
    """Inbound SMS (STOP/START/HELP) and delivery reports, stored, then applied.

    Each body is stored once per store it concerns: an inbound message for every store
    that has messaged the sender (a STOP names no store), a delivery report for the store
    of the message it reports on. One that concerns no store is not stored: there is
    nothing to apply it to. Twilio's retries are duplicates (the message SID, with the
    status for reports, with the body's digest for inbound) and are not applied twice.
    """

    def __init__(
        self, store: InboundStore, keyword: Callable[[str], str | None], clock: Clock
    ) -> None:
        self._store = store
        self._keyword = keyword
        self._clock = clock

    def receive(self, kind: str, body: bytes) -> str | None:
        """Store and apply a verified webhook body of `kind` ("inbound" or "status");
        the keyword of an inbound message (stop, start, help), else None."""
        form = read_form(body)
        now = self._clock()
        if kind == "status":
            sid, status = form.get("MessageSid", "")[:150], form.get("MessageStatus", "")[:40]
            found = self._store.store_of_message(sid) if sid and status else None
            stores = [found] if found is not None else []
            event_id: str | None = f"{sid}:{status}"
        else:
            phone = form.get("From", "")[:20]
            stores = self._store.stores_for_address("sms", phone) if phone else []
            # The SID with a digest of the body: a retry of the same delivery is a duplicate,
            # a body that differs under the same SID is not.
            sid = (form.get("MessageSid") or form.get("SmsSid") or "")[:150]
            digest = hashlib.sha256(body).hexdigest()[:16]
            event_id = f"{sid}:{digest}" if sid else None
        if stores:
            added = self._store.inbox_add(stores, (TWILIO, event_id, f"{TWILIO}:{kind}", body), now)
            self._apply([(i, s, kind, form) for i, s in added])
        return self._keyword(form.get("Body", "")) if kind == "inbound" else None

    def replay(self, inbox_ids: Sequence[int]) -> dict[int, Outcome]:
        """Apply stored Twilio payloads again (after fixing what made them fail)."""
        todo = []
        for inbox_id, store_id, payload_format, body in self._store.inbox_items(inbox_ids):
            todo.append((inbox_id, store_id, payload_format.partition(":")[2], read_form(body)))
        return self._apply(todo)

    def help(self, body: bytes) -> HelpInfo | None:
        """What to answer a HELP from the sender of `body`."""
        phone = read_form(body).get("From", "")[:20]
        return self._store.help_info("sms", phone) if phone else None

    def _apply(
        self, items: Sequence[tuple[int, int, str, Mapping[str, str]]]
    ) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        for inbox_id, store_id, kind, form in items:
            try:
                self._apply_one(store_id, kind, form)
                outcomes[inbox_id] = Outcome("processed")
            except Exception as exc:
                # Kept as dead with the reason: `wismo inbox list` shows it, replay retries.
                log.exception("twilio %s webhook %s failed", kind, inbox_id)
                error: dict[str, object] = {"loc": [], "msg": f"{type(exc).__name__}: {exc}"}
                outcomes[inbox_id] = Outcome("dead", error=[error])
        if outcomes:
            self._store.inbox_record(outcomes, self._clock())
        return outcomes

    def _apply_one(self, store_id: int, kind: str, form: Mapping[str, str]) -> None:
        now = self._clock()
        if kind == "status":
            sid, status = form.get("MessageSid", "")[:150], form.get("MessageStatus", "")[:40]
            if sid and status:
                self._store.status_callback(sid, status, now)
            return
        if kind != "inbound":
            raise ValueError(f"unknown Twilio payload kind {kind!r}")
        phone = form.get("From", "")[:20]
        word = self._keyword(form.get("Body", ""))
        if phone and word == "stop":
            self._store.opt_out(store_id, "sms", phone, "sms_stop", now)
        elif phone and word == "start":
            self._store.opt_in(store_id, "sms", phone)
