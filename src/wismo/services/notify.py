"""The relay: sends what the outbox holds, once, and records every attempt.

A worker claims due notifications (a lease, committed as `sending` before any provider is
called), asks again whether each message is still true (`domain.notify.still_true`: an
order cancelled meanwhile, a parcel that overtook a held "out for delivery"), renders it
and sends it through a `NotificationChannel` with its idempotency key, then records the
provider's answer at once, one short transaction per message, so the window in which a
crash leaves an accepted message unrecorded is one commit long.

A lease that runs out while `sending` means a worker died mid-send. The next worker asks
the provider whether the message went out (`NotificationChannel.lookup`) where the provider
can answer; where it cannot (SMTP) it sends again: at least once, never lost. The webhook
channel carries the key as its event id, so receivers deduplicate.

Retries: timeouts, 5xx and 429 back off exponentially with full jitter, honouring a
provider's Retry-After; permanent errors (an invalid number, a hard bounce) fail at once and
opt the address out, so later messages to it are suppressed instead of bouncing again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time as timer
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from wismo.domain.milestones import MILESTONE_OF
from wismo.domain.notify import StoreRules, Trigger, still_true
from wismo.services.ports import Claimed, Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered message, ready for a channel."""

    idempotency_key: str
    channel: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, object] = field(default_factory=dict)  # the webhook's JSON body


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None
    provider_status: str
    detail: str | None = None


class SendError(Exception):
    """A provider refused or failed. `permanent` errors are never retried; `address_dead`
    ones (invalid number, hard bounce) also opt the address out."""

    def __init__(
        self,
        message: str,
        *,
        provider_status: str,
        permanent: bool = False,
        address_dead: bool = False,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider_status = provider_status
        self.permanent = permanent or address_dead
        self.address_dead = address_dead
        self.retry_after_seconds = retry_after_seconds


class NotificationChannel(Protocol):
    """One way of reaching people (email, SMS, a webhook); adapters in `wismo.channels`."""

    def send(self, message: Message) -> SendResult: ...

    def lookup(self, message: Message, since: datetime) -> SendResult | None:
        """The provider's record of `message` if it accepted it after `since`; None when it
        has none or cannot tell (then the relay sends again)."""
        ...


class Renderer(Protocol):
    def __call__(self, n: Claimed) -> Message: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    notification_id: int
    attempt: int
    worker: str
    outcome: str  # sent | retry | failed | superseded | suppressed | cancelled
    status: str  # the notification's new status
    provider_status: str | None
    provider_message_id: str | None
    detail: str | None
    started_at: datetime
    finished_at: datetime
    next_attempt_at: datetime | None = None


class RelayStore(Protocol):
    def claim(
        self, worker: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[Claimed]: ...

    def finish(self, records: Sequence[Attempt], worker: str) -> None: ...

    def opt_out(
        self, store_id: int, channel: str, address: str, source: str, now: datetime
    ) -> None: ...

    def rules(self, store_id: int) -> StoreRules: ...


@dataclass(slots=True)
class RelayReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # superseded, cancelled, suppressed


def backoff_seconds(
    attempt: int,
    *,
    base: float = 30.0,
    cap: float = 3600.0,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Full-jitter exponential backoff; a provider's Retry-After is a floor."""
    delay = rand() * min(cap, base * 2.0 ** max(attempt - 1, 0))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Relay:
    def __init__(
        self,
        store: RelayStore,
        channels: Mapping[str, NotificationChannel],
        render: Renderer,
        clock: Clock,
        *,
        worker: str = "relay",
        lease_seconds: float = 60.0,
        max_attempts: int = 8,
        batch_size: int = 100,
    ) -> None:
        self._store = store
        self._channels = channels
        self._render = render
        self._clock = clock
        self.worker = worker
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._batch_size = batch_size

    def run_once(self, limit: int | None = None) -> RelayReport:
        """Send what is due now, batch after batch, until nothing is due (or `limit`)."""
        report = RelayReport()
        while limit is None or report.claimed < limit:
            size = (
                self._batch_size if limit is None else min(self._batch_size, limit - report.claimed)
            )
            claimed = self._store.claim(self.worker, self._clock(), self._lease_seconds, size)
            if not claimed:
                break
            report.claimed += len(claimed)
            # The claim counted what went out before it; this counts the batch's own.
            sent_now: dict[str, int] = {}
            for notification in claimed:
                record = self._handle(notification, sent_now.get(notification.recipient, 0))
                if record.outcome == "sent":
                    sent_now[notification.recipient] = sent_now.get(notification.recipient, 0) + 1
                # One short transaction per message: the crash window is one commit.
                self._store.finish([record], self.worker)
                if record.outcome == "sent":
                    report.sent += 1
                elif record.outcome == "retry":
                    report.retried += 1
                elif record.outcome == "failed":
                    report.failed += 1
                else:
                    report.skipped += 1
        return report

    def run(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                # A database blip must not end the worker; its leases expire meanwhile.
                log.exception("relay %s: pass failed", self.worker)
                report = RelayReport()
            if report.claimed == 0:
                stop.wait(idle_seconds)

    def _handle(self, n: Claimed, sent_in_batch: int = 0) -> Attempt:
        started = self._clock()

        def done(  # noqa: PLR0917 - a local helper, read at its call sites
            outcome: str,
            status: str,
            detail: str | None = None,
            result: SendResult | None = None,
            provider_status: str | None = None,
            next_at: datetime | None = None,
        ) -> Attempt:
            return Attempt(
                notification_id=n.id,
                attempt=n.attempts,
                worker=self.worker,
                outcome=outcome,
                status=status,
                provider_status=result.provider_status if result else provider_status,
                provider_message_id=result.provider_message_id if result else None,
                detail=detail if detail is not None else (result.detail if result else None),
                started_at=started,
                finished_at=self._clock(),
                next_attempt_at=next_at,
            )

        milestone = MILESTONE_OF.get(n.milestone) if n.milestone else None
        if n.order_cancelled and not still_true(Trigger(n.trigger), milestone, True):
            return done("cancelled", "cancelled", "order cancelled")
        if not still_true(Trigger(n.trigger), milestone, False):
            return done("superseded", "cancelled", f"no longer true: parcel is {n.milestone}")
        rules = self._store.rules(n.store_id)
        if n.channel != "webhook" and n.sent_last_day + sent_in_batch >= rules.max_per_day:
            return done("suppressed", "suppressed", "rate limit: too many messages today")
        channel = self._channels.get(n.channel)
        if channel is None:
            return done("failed", "failed", f"no {n.channel} channel configured")
        try:
            message = self._render(n)
        except Exception as exc:
            log.exception("rendering notification %s failed", n.id)
            return done("failed", "failed", f"render failed: {exc}")
        if n.was_sending:
            # The previous holder died between claiming and recording: did it get through?
            found = channel.lookup(message, started - timedelta(days=1))
            if found is not None:
                return done("sent", "sent", "found at the provider after takeover", found)
        try:
            result = channel.send(message)
        except SendError as exc:
            if exc.address_dead:
                self._store.opt_out(n.store_id, n.channel, n.recipient, "bounce", started)
            if exc.permanent or n.attempts >= self._max_attempts:
                return done("failed", "failed", str(exc), provider_status=exc.provider_status)
            delay = backoff_seconds(n.attempts, retry_after=exc.retry_after_seconds)
            return done(
                "retry",
                "pending",
                str(exc),
                provider_status=exc.provider_status,
                next_at=started + timedelta(seconds=delay),
            )
        return done("sent", "sent", result=result)


def run_workers(make_relay: Callable[[int], Relay], workers: int, stop: threading.Event) -> None:
    """Several relays in threads of one process (each with its own connections)."""
    threads = [
        threading.Thread(target=make_relay(i).run, args=(stop,), name=f"relay-{i}", daemon=True)
        for i in range(workers)
    ]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            timer.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)


class UnsubscribeTokens:
    """Unsubscribe links name a notification, signed with its store's key; never an
    address (no personal data in URLs). The route looks the address up from it."""

    def __init__(self, key_for: Callable[[int], bytes]) -> None:
        self._key_for = key_for

    def sign(self, store_id: int, notification_id: int) -> str:
        message = f"unsubscribe:{store_id}:{notification_id}".encode()
        mac = hmac.new(self._key_for(store_id), message, hashlib.sha256).hexdigest()[:32]
        return f"{store_id}.{notification_id}.{mac}"

    def verify(self, token: str) -> tuple[int, int] | None:
        """(store id, notification id), or None for anything altered or malformed."""
        parts = token.split(".")
        if len(parts) != 3 or not all(p.isdigit() and len(p) < 19 for p in parts[:2]):
            return None
        store_id, notification_id = int(parts[0]), int(parts[1])
        try:
            expected = self.sign(store_id, notification_id)
        except LookupError:
            return None
        return (store_id, notification_id) if hmac.compare_digest(expected, token) else None
