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

The rate limit (`StoreRules.max_per_day` per customer and channel) defers, never drops: a
message over it is held until the oldest of the day's sent messages leaves the 24-hour
window (then quiet and business hours apply), and is asked again then whether it is still
true, so news that something later overtook is superseded instead of sent late.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time as timer
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from wismo.domain.milestones import MILESTONE_OF
from wismo.domain.notify import (
    NotifyChannel,
    StoreRules,
    Trigger,
    send_after,
    still_true,
    zone_or_utc,
)
from wismo.services.estimate import calendar_for
from wismo.services.ports import Claimed, Clock

log = logging.getLogger(__name__)

DAY = timedelta(days=1)  # the rate limit's window


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
    # Called by a channel right before the step after which the provider has the message
    # and cannot be asked (SMTP: the final "."). The relay records it, so a worker that
    # dies after it is not resent, and one that dies before it is (docs/notifications.md).
    commit_point: Callable[[], None] | None = field(default=None, compare=False)


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
    outcome: str  # sent | retry | deferred | failed | superseded | suppressed | cancelled
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

    def mark_committing(self, notification_id: int, worker: str) -> None:
        """Record that the provider is about to have the whole message (see Message)."""
        ...

    def sent_times(self, notification_id: int, since: datetime) -> list[datetime]:
        """When messages went to this notification's customer (its address when the
        customer is unknown) on its channel since `since`, oldest first."""
        ...


@dataclass(slots=True)
class RelayReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # superseded, cancelled, suppressed
    deferred: int = 0  # over the rate limit: held until the window allows


def closed_days(rules: StoreRules, years: Iterable[int]) -> frozenset[date]:
    """The public holidays that close the store's business hours in `years` (none when
    it has no business hours, or they ignore holidays)."""
    hours = rules.business_hours
    if hours is None or not hours.holidays or not rules.country:
        return frozenset()
    return calendar_for(rules.country, None, years).holidays


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
            claimed_at = self._clock()
            claimed = self._store.claim(self.worker, claimed_at, self._lease_seconds, size)
            if not claimed:
                break
            report.claimed += len(claimed)
            # A message is not started once half the lease is gone: past its end another
            # worker may take the row over and send it too. The rest wait for the lease to
            # run out and are taken over (a stall, not a loss).
            start_by = claimed_at + timedelta(seconds=self._lease_seconds / 2)
            # The claim counted what went out before it, per customer; this counts the
            # batch's own per address (the limit is then checked exactly before deferring).
            sent_now: dict[tuple[str, str], int] = {}
            for notification in claimed:
                if self._clock() >= start_by:
                    log.warning("relay %s: lease running out, leaving the rest", self.worker)
                    break
                to = (notification.channel, notification.recipient)
                record = self._handle(notification, sent_now.get(to, 0))
                if record.outcome == "sent":
                    sent_now[to] = sent_now.get(to, 0) + 1
                # One short transaction per message: the crash window is one commit.
                self._store.finish([record], self.worker)
                if record.outcome == "sent":
                    report.sent += 1
                elif record.outcome == "retry":
                    report.retried += 1
                elif record.outcome == "failed":
                    report.failed += 1
                elif record.outcome == "deferred":
                    report.deferred += 1
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
            release = self._rate_release(n, rules, started)
            if release is not None:
                return done(
                    "deferred",
                    "held",
                    f"rate limit: {rules.max_per_day} {n.channel} messages a day; "
                    f"held until {release.isoformat()}",
                    next_at=release,
                )
        channel = self._channels.get(n.channel)
        if channel is None:
            return done("failed", "failed", f"no {n.channel} channel configured")
        try:
            message = self._render(n)
        except Exception as exc:
            log.exception("rendering notification %s failed", n.id)
            return done("failed", "failed", f"render failed: {exc}")
        if n.was_sending and n.past_commit_point:
            # The previous holder died after the provider had the whole message (SMTP
            # cannot be asked): sending again would be the duplicate.
            return done(
                "sent",
                "sent",
                "the previous worker died after the provider had the message",
                provider_status="assumed",
            )
        message = replace(
            message, commit_point=lambda: self._store.mark_committing(n.id, self.worker)
        )
        if n.was_sending or n.attempts > 1:
            # The previous holder died between claiming and recording, or the last try
            # timed out or lost its connection after the provider may have accepted it:
            # ask before sending again (providers that cannot tell answer None).
            found = channel.lookup(message, started - timedelta(days=1))
            if found is not None:
                detail = (
                    "found at the provider after takeover"
                    if n.was_sending
                    else ("found at the provider after a failed try")
                )
                return done("sent", "sent", detail, found)
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

    def _rate_release(self, n: Claimed, rules: StoreRules, now: datetime) -> datetime | None:
        """When `n` may go without passing the day's limit; None when it may go now (the
        claim's count is a snapshot: the exact list is read only at the limit)."""
        sent = self._store.sent_times(n.id, now - DAY)
        if len(sent) < rules.max_per_day:
            return None
        # With k sent in the window and a limit of m, the (k - m + 1)th oldest must age out.
        release = sent[len(sent) - rules.max_per_day] + DAY
        later = send_after(
            release,
            zone_or_utc(n.time_zone),
            rules,
            NotifyChannel(n.channel),
            closed_days(rules, (release.year, release.year + 1)),
        )
        return later or release


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
