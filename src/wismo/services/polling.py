"""Carrier polling: when to ask a carrier next, and the use case that asks.

Pure logic and ports only (no storage, no HTTP): `docs/adr/0008-carrier-connectors.md`
explains the choices.

- `PollPolicy.after_success` / `after_failure`: the next poll time of a shipment from its
  state (often near delivery, rarely in long haul, a last look a day after it finished,
  never again after a long silence) or from how many polls in a row failed (exponential
  backoff, capped and jittered, never before the carrier's Retry-After).
- `RateLimiter`: a token bucket per carrier account, in this process.
- `Poller`: gives new shipments a first poll time, claims due shipments in batches, fetches
  each through the `TrackingFetcher` port, ingests the raw response through the `Ingestor`
  (inbox first, deduplicated), and records the outcome and the next poll time.
- `staleness`: how old each open shipment's carrier data is, per carrier.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wismo.domain.milestones import FINAL_MILESTONES, Milestone
from wismo.domain.model import TrackingEvent, zone_label
from wismo.services.ingest import Ingestor, record_events
from wismo.services.ports import (
    CarrierAccount,
    Clock,
    Fetched,
    FetchFailed,
    Inbound,
    PollingRepository,
    PollOutcome,
    PollState,
    PollTarget,
    TrackingFetcher,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

# The synthetic scan recorded when polling stops after a long silence.
POLLER_SOURCE = "wismo:poller"
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


def _default_backoff_base() -> dict[str, timedelta]:
    return {
        # A fresh label is often unknown to the carrier for hours: ask again, gently.
        "not_found": 30 * _MINUTE,
        # Wrong or revoked credentials rarely fix themselves in minutes, and hammering a
        # carrier with bad credentials can lock the account.
        "unauthorized": 30 * _MINUTE,
        "rate_limited": 5 * _MINUTE,
        "carrier_error": 5 * _MINUTE,
        # Our side: a parser to fix.
        "unparseable": _HOUR,
    }


@dataclass(frozen=True)
class PollPolicy:
    """How often to poll. Every interval is jittered down by up to `jitter` (a fraction), so
    shipments created together do not stay in lockstep."""

    out_for_delivery: timedelta = 30 * _MINUTE
    # In transit with the carrier's estimate no further than `near_window` away ("today or
    # tomorrow"), or passed by at most `late_window` (late parcels move fast too).
    near_delivery: timedelta = _HOUR
    near_window: timedelta = timedelta(hours=36)
    late_window: timedelta = 2 * _DAY
    in_transit: timedelta = 3 * _HOUR  # no estimate to go by
    long_haul: timedelta = 6 * _HOUR  # the estimate is days away
    label_created: timedelta = 3 * _HOUR
    problem: timedelta = 2 * _HOUR  # exception, failed attempt, waiting at a pickup point
    returning: timedelta = 6 * _HOUR
    # A finished shipment is looked at once more this long after it finished (late
    # corrections: a delivery recalled, a return completed), then never again.
    final_grace: timedelta = _DAY
    # No new scan for this long: stop, and record the shipment as expired.
    silence_limit: timedelta = timedelta(days=21)
    # The carrier has never heard of it for this long after the last scan: stop.
    not_found_limit: timedelta = timedelta(days=7)
    backoff_base: Mapping[str, timedelta] = field(default_factory=_default_backoff_base)
    backoff_default: timedelta = 5 * _MINUTE
    backoff_cap: timedelta = 6 * _HOUR
    unauthorized_cap: timedelta = 12 * _HOUR
    jitter: float = 0.1
    backoff_jitter: float = 0.25
    retry_after_cap: timedelta = _DAY

    def after_success(
        self, state: PollState, now: datetime, rand: Callable[[], float] = random.random
    ) -> Plan:
        """The next poll after a successful fetch, from the shipment's state after it."""
        m = state.milestone
        if m in FINAL_MILESTONES:
            finished = state.status_at or now
            last_look = finished + self.final_grace
            if now < last_look:
                return Plan(last_look)
            return Plan(None)
        silent_since = state.last_event_at or state.created_at
        if now - silent_since >= self.silence_limit:
            days = self.silence_limit.days
            if m is Milestone.EXPIRED:
                return Plan(None, note=f"stopped: no new scan for {days} days")
            return Plan(None, expire=True, note=f"stopped: no new scan for {days} days")
        return Plan(now + _jitter(self.interval(state, now), self.jitter, rand))

    def interval(self, state: PollState, now: datetime) -> timedelta:
        """The unjittered wait before the next poll of a shipment in this state."""
        m = state.milestone
        if m is Milestone.OUT_FOR_DELIVERY:
            return self.out_for_delivery
        if m in (Milestone.PICKED_UP, Milestone.IN_TRANSIT):
            eta = state.carrier_eta_at
            if eta is None or now - eta > self.late_window:
                return self.in_transit
            if eta - now <= self.near_window:
                return self.near_delivery
            return self.long_haul
        if m in (
            Milestone.EXCEPTION,
            Milestone.DELIVERY_ATTEMPT_FAILED,
            Milestone.AVAILABLE_FOR_PICKUP,
        ):
            return self.problem
        if m is Milestone.RETURNING_TO_SENDER:
            return self.returning
        if m is Milestone.EXPIRED:
            return self.long_haul
        return self.label_created  # label created, unknown, order-level milestones

    def backoff(
        self, kind: str, failures: int, rand: Callable[[], float] = random.random
    ) -> timedelta:
        """The wait after the `failures`-th failed poll in a row: base x 2^(failures - 1),
        capped, then jittered down by up to `backoff_jitter`."""
        base = self.backoff_base.get(kind, self.backoff_default)
        cap = self.unauthorized_cap if kind == "unauthorized" else self.backoff_cap
        exponent = min(max(failures, 1) - 1, 30)  # 2^30 x a minute is far past any cap
        delay = min(cap, base * (2**exponent))
        return _jitter(delay, self.backoff_jitter, rand)

    def after_failure(
        self,
        state: PollState,
        kind: str,
        failures: int,
        now: datetime,
        *,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> Plan:
        """The next poll after the `failures`-th failed poll in a row."""
        silent_for = now - (state.last_event_at or state.created_at)
        if kind == "not_found" and silent_for >= self.not_found_limit:
            return Plan(None, note=f"stopped: not found for {self.not_found_limit.days} days")
        if silent_for >= self.silence_limit:
            return Plan(None, note=f"stopped: no data for {self.silence_limit.days} days")
        if kind == "unsupported":
            return Plan(None, note="stopped: no client for this carrier")
        delay = self.backoff(kind, failures, rand)
        if retry_after is not None:
            wait = timedelta(seconds=max(retry_after, 0.0))
            delay = max(delay, min(wait, self.retry_after_cap))
        return Plan(now + delay)


@dataclass(frozen=True, slots=True)
class Plan:
    """A scheduling decision: the next poll (None: no more polls), whether to record the
    shipment as expired, and a note for `last_poll_error` when polling stops."""

    next_poll_at: datetime | None
    expire: bool = False
    note: str | None = None


def _jitter(delay: timedelta, fraction: float, rand: Callable[[], float]) -> timedelta:
    return delay * (1.0 - fraction * min(max(rand(), 0.0), 1.0))


class TokenBucket:
    """`rate` requests a second on average, bursts of up to `capacity`."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self.tokens = self.capacity
        self.updated = now
        self.blocked_until = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a request may go."""
        self._refill(now)
        need = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate
        return max(need, self.blocked_until - now, 0.0)

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def block(self, until: float) -> None:
        """No request before `until` (the carrier said Retry-After)."""
        self.blocked_until = max(self.blocked_until, until)


class RateLimiter:
    """One token bucket per carrier account, in this process.

    Several poller processes each keep their own buckets: set an account's
    `requests_per_second` to its allowance divided by the number of pollers.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._buckets: dict[int, TokenBucket] = {}

    def bucket(self, account: CarrierAccount, default_rate: float) -> TokenBucket:
        rate = _positive(account.settings.get("requests_per_second"), default_rate)
        burst = _positive(account.settings.get("burst"), max(rate, 1.0))
        found = self._buckets.get(account.id)
        if found is None or found.rate != rate:
            found = TokenBucket(rate, burst, self._monotonic())
            self._buckets[account.id] = found
        return found


def _positive(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if number > 0 and math.isfinite(number) else default


@dataclass(slots=True)
class PollReport:
    """What one `Poller.run_once` did."""

    scheduled: int = 0  # shipments given their first poll time
    claimed: int = 0
    fetched: int = 0
    updated: int = 0  # polls whose data was stored (new scans, or nothing new)
    failed: dict[str, int] = field(default_factory=dict)  # by kind
    deferred: int = 0  # put back untouched: rate limit or time budget
    stopped: int = 0  # no more polls (finished, expired, given up)
    expired: int = 0

    def fail(self, kind: str) -> None:
        self.failed[kind] = self.failed.get(kind, 0) + 1


class Poller:
    """Polls carriers for due shipments; one `run_once` is one claimed batch.

    Claiming moves the batch's `next_poll_at` to a lease in the future in its own short
    transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`), so several pollers share the work
    without fetching a shipment twice, and a poller that dies leaves its batch to be claimed
    again when the lease runs out.
    """

    def __init__(
        self,
        repo: PollingRepository,
        fetcher: TrackingFetcher,
        ingestor: Ingestor,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        policy: PollPolicy | None = None,
        limiter: RateLimiter | None = None,
        default_rate: float = 2.0,
        lease: timedelta = timedelta(minutes=10),
        max_wait: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._repo = repo
        self._fetcher = fetcher
        self._ingestor = ingestor
        self._uow_factory = uow_factory
        self._clock = clock
        self.policy = policy or PollPolicy()
        self._monotonic = monotonic
        self._limiter = limiter or RateLimiter(monotonic)
        self._default_rate = default_rate
        self._lease = lease
        # Longer waits for an account's rate limit put the shipment back instead of
        # blocking the batch; the batch stops fetching after half the lease.
        self._max_wait = max_wait
        self._budget = lease.total_seconds() / 2
        self._sleep = sleep
        self._rand = rand

    def run_once(self, batch: int = 100) -> PollReport:
        report = PollReport()
        now = self._clock()
        accounts = self._repo.accounts(self._fetcher.carriers())
        by_key = {(a.store_id, a.carrier): a for a in accounts}
        report.scheduled = self._repo.schedule_new(accounts, now, batch * 10)
        targets = self._repo.claim_due(now, now + self._lease, batch)
        report.claimed = len(targets)
        if not targets:
            return report
        started = self._monotonic()
        outcomes: list[PollOutcome] = []
        fetched: list[tuple[PollTarget, Fetched]] = []
        for target in targets:
            account = by_key.get((target.store_id, target.carrier))
            if account is None:
                # The integration was removed or polling switched off since it was due.
                outcomes.append(
                    PollOutcome(
                        target.shipment_id,
                        None,
                        target.poll_failures,
                        f"stopped: no carrier:{target.carrier} integration with polling",
                    )
                )
                continue
            bucket = self._limiter.bucket(account, self._default_rate)
            wait = bucket.wait(self._monotonic())
            elapsed = self._monotonic() - started
            if wait > self._max_wait or elapsed + wait > self._budget:
                outcomes.append(self._defer(target, wait))
                report.deferred += 1
                continue
            if wait > 0:
                self._sleep(wait)
            bucket.take(self._monotonic())
            try:
                fetched.append((target, self._fetcher.fetch(account, target.tracking_number)))
                report.fetched += 1
            except FetchFailed as exc:
                if exc.kind == "rate_limited":
                    pause = exc.retry_after if exc.retry_after is not None else 60.0
                    bucket.block(self._monotonic() + pause)
                outcomes.append(self._failed(target, exc.kind, exc.message, exc.retry_after))
                report.fail(exc.kind)
            except Exception as exc:
                # A bug in a client or parser: one shipment's failure, not the batch's.
                log.exception("polling shipment %s failed", target.shipment_id)
                outcomes.append(self._failed(target, "carrier_error", f"internal: {exc!r}"))
                report.fail("carrier_error")
        outcomes.extend(self._ingest(fetched, report))
        report.stopped += sum(1 for o in outcomes if o.next_poll_at is None)
        self._repo.record(outcomes)
        return report

    def run(
        self,
        *,
        batch: int = 100,
        idle: float = 30.0,
        rounds: int | None = None,
        on_report: Callable[[PollReport], None] | None = None,
    ) -> None:
        """Poll until stopped (or for `rounds` batches), resting `idle` seconds whenever
        nothing was due."""
        done = 0
        while rounds is None or done < rounds:
            done += 1
            try:
                report = self.run_once(batch)
            except Exception:
                # The database or the inbox is unavailable: claimed shipments come back
                # when their lease runs out; try again after a rest.
                log.exception("polling round failed")
                self._sleep(idle)
                continue
            if on_report is not None:
                on_report(report)
            if report.claimed < batch:
                self._sleep(idle)

    def _defer(self, target: PollTarget, wait: float) -> PollOutcome:
        return PollOutcome(
            target.shipment_id,
            self._clock() + timedelta(seconds=wait),
            target.poll_failures,
            target.last_poll_error,
        )

    def _failed(
        self, target: PollTarget, kind: str, message: str, retry_after: float | None = None
    ) -> PollOutcome:
        failures = target.poll_failures + 1
        now = self._clock()
        plan = self.policy.after_failure(
            target.state, kind, failures, now, retry_after=retry_after, rand=self._rand
        )
        error = f"{kind}: {message}"
        if plan.note:
            error = f"{plan.note}; last error {error}"
        return PollOutcome(target.shipment_id, plan.next_poll_at, failures, error[:2000])

    def _ingest(
        self, fetched: list[tuple[PollTarget, Fetched]], report: PollReport
    ) -> list[PollOutcome]:
        """Store and apply the responses (per store, one batch each); then plan each."""
        by_store: dict[int, list[tuple[PollTarget, Fetched]]] = defaultdict(list)
        for target, response in fetched:
            by_store[target.store_id].append((target, response))
        # Fetched and stored, with a note when some scans matched no shipment.
        succeeded: list[tuple[PollTarget, str | None]] = []
        outcomes: list[PollOutcome] = []
        for store_id, items in by_store.items():
            payloads = [
                Inbound(
                    response.body,
                    format=f"carrier:{target.carrier}",
                    source=f"carrier:{target.carrier}",
                    event_id=response.event_id,
                )
                for target, response in items
            ]
            results = self._ingestor.ingest(store_id, payloads)
            for (target, _), result in zip(items, results, strict=True):
                if result.status in ("processed", "duplicate"):
                    succeeded.append((target, None))
                    continue
                if result.status == "parked":
                    # The carrier answered; scans it reported for a time before the shipment
                    # existed (an earlier use of the number) matched nothing. The item waits
                    # in the inbox; the shipment is as fresh as the carrier's data.
                    succeeded.append((target, f"unmatched: {result.waiting_for}"))
                    continue
                if result.status == "rejected":
                    first = result.errors[0] if result.errors else {}
                    kind = str(first.get("type") or "unparseable").removeprefix("carrier_")
                    message = str(first.get("msg") or "rejected")
                else:  # failed: kept as dead in the inbox, replayable
                    kind, message = "carrier_error", "processing failed; see the inbox"
                outcomes.append(self._failed(target, kind, message))
                report.fail(kind)
        if not succeeded:
            return outcomes
        states = self._repo.poll_states([t.shipment_id for t, _ in succeeded])
        expire: list[tuple[int, TrackingEvent]] = []
        now = self._clock()
        for target, note in succeeded:
            state = states.get(target.shipment_id, target.state)
            plan = self.policy.after_success(state, now, self._rand)
            if plan.expire:
                expire.append((target.shipment_id, _expired_event(now, self.policy)))
            outcomes.append(
                PollOutcome(target.shipment_id, plan.next_poll_at, 0, plan.note or note, now)
            )
            report.updated += 1
        if expire:
            with self._uow_factory() as uow:
                record_events(uow, expire)
                uow.commit()
            report.expired += len(expire)
        return outcomes


def _expired_event(now: datetime, policy: PollPolicy) -> TrackingEvent:
    return TrackingEvent(
        milestone=Milestone.EXPIRED,
        occurred_at=now,
        occurred_tz=zone_label(now),
        source=POLLER_SOURCE,
        received_at=now,
        description=(f"No carrier scan for {policy.silence_limit.days} days; Wismo stopped asking"),
    )


@dataclass(frozen=True, slots=True)
class Staleness:
    """How old the carrier data of open shipments is, in seconds (nearest-rank
    percentiles)."""

    carrier: str
    count: int
    p50: float
    p95: float
    max: float


def staleness(
    rows: Iterable[tuple[str, datetime, datetime | None]], now: datetime
) -> tuple[Staleness, list[Staleness]]:
    """(all carriers, per carrier) from (carrier, created_at, refreshed_at) rows: each
    shipment's age of data is now - refreshed_at, or now - created_at if never refreshed."""
    ages: dict[str, list[float]] = defaultdict(list)
    everything: list[float] = []
    for carrier, created_at, refreshed_at in rows:
        age = max((now - (refreshed_at or created_at)).total_seconds(), 0.0)
        ages[carrier].append(age)
        everything.append(age)
    per_carrier = [_summary(name, values) for name, values in sorted(ages.items())]
    return _summary("all", everything), per_carrier


def _summary(carrier: str, values: Sequence[float]) -> Staleness:
    ordered = sorted(values)
    return Staleness(
        carrier=carrier,
        count=len(ordered),
        p50=_percentile(ordered, 50),
        p95=_percentile(ordered, 95),
        max=ordered[-1] if ordered else 0.0,
    )


def _percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest rank: the smallest value with at least `pct`% of values at or below it."""
    if not ordered:
        return 0.0
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class StalenessSummary:
    generated_at: datetime
    all: Staleness
    carriers: list[Staleness]

    def as_json(self) -> dict[str, object]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "unit": "seconds",
            "all": _as_json(self.all),
            "carriers": [_as_json(s) for s in self.carriers],
        }


class StalenessReport:
    """The staleness read model for the CLI and the API."""

    def __init__(self, repo: PollingRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock

    def __call__(self, store_id: int | None = None) -> StalenessSummary:
        now = self._clock()
        total, carriers = staleness(self._repo.open_shipments(store_id), now)
        return StalenessSummary(now, total, carriers)


def _as_json(s: Staleness) -> dict[str, object]:
    return {
        "carrier": s.carrier,
        "count": s.count,
        "p50": round(s.p50, 3),
        "p95": round(s.p95, 3),
        "max": round(s.max, 3),
    }
