"""Polling schedule, backoff, rate limit and staleness rules (wismo.services.polling)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from wismo.domain.milestones import Milestone
from wismo.services.polling import PollPolicy, RateLimiter, TokenBucket, staleness
from wismo.services.ports import CarrierAccount, PollState

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
POLICY = PollPolicy()


def no_jitter() -> float:
    return 0.0


def full_jitter() -> float:
    return 1.0


def state(
    milestone: Milestone,
    *,
    eta: datetime | None = None,
    last_event_at: datetime | None = NOW - timedelta(hours=2),
    status_at: datetime | None = None,
    created_at: datetime = NOW - timedelta(days=2),
) -> PollState:
    return PollState(
        milestone=milestone,
        created_at=created_at,
        status_at=status_at or last_event_at,
        last_event_at=last_event_at,
        carrier_eta_at=eta,
    )


def wait(s: PollState, rand: Callable[[], float] = no_jitter) -> timedelta | None:
    plan = POLICY.after_success(s, NOW, rand)
    return None if plan.next_poll_at is None else plan.next_poll_at - NOW


def test_out_for_delivery_is_polled_every_half_hour() -> None:
    """Out for delivery: the next poll is 30 minutes away."""
    assert wait(state(Milestone.OUT_FOR_DELIVERY)) == timedelta(minutes=30)


@pytest.mark.parametrize("hours_away", [3, 20, 35])
def test_in_transit_with_eta_today_or_tomorrow_is_polled_hourly(hours_away: int) -> None:
    """In transit with the carrier's estimate within 36 hours: hourly."""
    eta = NOW + timedelta(hours=hours_away)
    assert wait(state(Milestone.IN_TRANSIT, eta=eta)) == timedelta(hours=1)


def test_late_parcel_is_polled_hourly_for_two_days_then_as_unknown() -> None:
    """An estimate passed by a day is still near delivery; three days past, it is ignored."""
    assert wait(state(Milestone.IN_TRANSIT, eta=NOW - timedelta(days=1))) == timedelta(hours=1)
    assert wait(state(Milestone.IN_TRANSIT, eta=NOW - timedelta(days=3))) == timedelta(hours=3)


def test_long_haul_is_polled_rarely() -> None:
    """In transit with the estimate days away: every 6 hours; without one, every 3."""
    assert wait(state(Milestone.IN_TRANSIT, eta=NOW + timedelta(days=4))) == timedelta(hours=6)
    assert wait(state(Milestone.PICKED_UP)) == timedelta(hours=3)


def test_label_created_and_problems() -> None:
    """Label created: 3 hours; exception or failed attempt: 2 hours; returning: 6 hours."""
    assert wait(state(Milestone.LABEL_CREATED)) == timedelta(hours=3)
    assert wait(state(Milestone.EXCEPTION)) == timedelta(hours=2)
    assert wait(state(Milestone.DELIVERY_ATTEMPT_FAILED)) == timedelta(hours=2)
    assert wait(state(Milestone.RETURNING_TO_SENDER)) == timedelta(hours=6)


def test_jitter_only_shortens_the_interval() -> None:
    """Jitter takes up to 10% off an interval, never adds to it."""
    assert wait(state(Milestone.OUT_FOR_DELIVERY), full_jitter) == timedelta(minutes=27)


@pytest.mark.parametrize(
    "milestone", [Milestone.DELIVERED, Milestone.RETURNED_TO_SENDER, Milestone.CANCELLED]
)
def test_finished_shipment_gets_one_last_poll_a_day_later_then_none(milestone: Milestone) -> None:
    """Finished: one more poll a day after it finished, then no more."""
    finished = NOW - timedelta(hours=1)
    plan = POLICY.after_success(state(milestone, status_at=finished), NOW, no_jitter)
    assert plan.next_poll_at == finished + timedelta(days=1)
    later = finished + timedelta(days=1, minutes=5)
    final = POLICY.after_success(state(milestone, status_at=finished), later, no_jitter)
    assert final.next_poll_at is None
    assert not final.expire


def test_long_silence_stops_polling_and_expires() -> None:
    """No new scan for 21 days: no more polls, and the shipment is recorded as expired."""
    silent = state(Milestone.IN_TRANSIT, last_event_at=NOW - timedelta(days=21))
    plan = POLICY.after_success(silent, NOW, no_jitter)
    assert plan.next_poll_at is None
    assert plan.expire
    assert plan.note is not None
    assert "21 days" in plan.note
    recent = state(Milestone.IN_TRANSIT, last_event_at=NOW - timedelta(days=20))
    assert POLICY.after_success(recent, NOW, no_jitter).next_poll_at is not None


def test_silence_counts_from_creation_without_scans() -> None:
    """A shipment without any event counts its silence from its creation."""
    s = state(Milestone.LABEL_CREATED, last_event_at=None, created_at=NOW - timedelta(days=22))
    assert POLICY.after_success(s, NOW, no_jitter).expire


def test_already_expired_shipment_stops_without_a_second_expiry() -> None:
    """An expired shipment silent for 21 days stops polling without another expiry."""
    s = state(Milestone.EXPIRED, last_event_at=NOW - timedelta(days=30))
    plan = POLICY.after_success(s, NOW, no_jitter)
    assert plan.next_poll_at is None
    assert not plan.expire


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        ("carrier_error", timedelta(minutes=5)),
        ("rate_limited", timedelta(minutes=5)),
        ("unauthorized", timedelta(minutes=30)),
        ("not_found", timedelta(minutes=30)),
        ("unparseable", timedelta(hours=1)),
        ("something_else", timedelta(minutes=5)),
    ],
)
def test_backoff_doubles_from_the_kind_base(kind: str, base: timedelta) -> None:
    """The n-th failure in a row waits base x 2^(n-1)."""
    assert POLICY.backoff(kind, 1, no_jitter) == base
    assert POLICY.backoff(kind, 2, no_jitter) == base * 2
    assert POLICY.backoff(kind, 3, no_jitter) == base * 4


def test_backoff_is_capped() -> None:
    """Backoff stops growing at 6 hours (12 for bad credentials), even after many failures."""
    assert POLICY.backoff("carrier_error", 12, no_jitter) == timedelta(hours=6)
    assert POLICY.backoff("carrier_error", 10_000, no_jitter) == timedelta(hours=6)
    assert POLICY.backoff("unauthorized", 50, no_jitter) == timedelta(hours=12)


def test_backoff_jitter_stays_within_a_quarter_below() -> None:
    """Jitter spreads retries by up to 25% below the computed delay, never above the cap."""
    full = POLICY.backoff("carrier_error", 3, no_jitter)
    assert POLICY.backoff("carrier_error", 3, full_jitter) == full * 0.75
    assert POLICY.backoff("carrier_error", 3, lambda: 0.5) == full * 0.875
    assert POLICY.backoff("carrier_error", 99, full_jitter) <= timedelta(hours=6)


def test_retry_after_is_honoured_when_longer_than_backoff() -> None:
    """A Retry-After longer than the backoff sets the next poll; a shorter one does not."""
    s = state(Milestone.IN_TRANSIT)
    long = POLICY.after_failure(s, "rate_limited", 1, NOW, retry_after=3600, rand=no_jitter)
    assert long.next_poll_at == NOW + timedelta(hours=1)
    short = POLICY.after_failure(s, "rate_limited", 1, NOW, retry_after=10, rand=no_jitter)
    assert short.next_poll_at == NOW + timedelta(minutes=5)
    huge = POLICY.after_failure(s, "rate_limited", 1, NOW, retry_after=10**9, rand=no_jitter)
    assert huge.next_poll_at == NOW + timedelta(days=1)


def test_not_found_gives_up_after_a_week_of_silence() -> None:
    """Not found for a week after the last scan (or creation): stop, without expiring."""
    fresh = state(Milestone.LABEL_CREATED, last_event_at=NOW - timedelta(days=1))
    assert POLICY.after_failure(fresh, "not_found", 5, NOW).next_poll_at is not None
    old = state(Milestone.LABEL_CREATED, last_event_at=NOW - timedelta(days=7))
    plan = POLICY.after_failure(old, "not_found", 5, NOW)
    assert plan.next_poll_at is None
    assert not plan.expire
    assert plan.note is not None


def test_failures_give_up_after_the_silence_limit() -> None:
    """Any failure after 21 silent days stops polling (we cannot tell it expired)."""
    old = state(Milestone.IN_TRANSIT, last_event_at=NOW - timedelta(days=21))
    plan = POLICY.after_failure(old, "unauthorized", 1, NOW)
    assert plan.next_poll_at is None
    assert not plan.expire


def test_token_bucket_paces_requests() -> None:
    """2 requests a second with a burst of 2: two go at once, then one every half second."""
    bucket = TokenBucket(rate=2.0, capacity=2.0, now=0.0)
    assert bucket.wait(0.0) == 0.0
    bucket.take(0.0)
    assert bucket.wait(0.0) == 0.0
    bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(0.5)
    assert bucket.wait(0.25) == pytest.approx(0.25)
    bucket.take(0.5)
    assert bucket.wait(0.5) == pytest.approx(0.5)


def test_token_bucket_block_holds_every_request() -> None:
    """After a Retry-After block nothing goes until it ends, whatever the tokens say."""
    bucket = TokenBucket(rate=10.0, capacity=10.0, now=0.0)
    bucket.block(30.0)
    assert bucket.wait(1.0) == pytest.approx(29.0)
    assert bucket.wait(30.0) == 0.0


def test_rate_limiter_keeps_one_bucket_per_account() -> None:
    """Accounts do not share a bucket; the rate comes from the account's settings."""
    clock = [0.0]
    limiter = RateLimiter(lambda: clock[0])
    fast = CarrierAccount(1, 1, "ups", "a", {}, {"requests_per_second": 5})
    slow = CarrierAccount(2, 1, "ups", "b", {}, {"requests_per_second": "0.5"})
    assert limiter.bucket(fast, 2.0).rate == 5.0
    assert limiter.bucket(slow, 2.0).rate == 0.5
    assert limiter.bucket(fast, 2.0) is limiter.bucket(fast, 2.0)
    bad = CarrierAccount(3, 1, "ups", "c", {}, {"requests_per_second": "fast"})
    assert limiter.bucket(bad, 2.0).rate == 2.0


def test_staleness_percentiles_per_carrier() -> None:
    """Age of data is now - refreshed_at (or creation); nearest-rank p50/p95/max."""
    rows = [("ups", NOW - timedelta(days=1), NOW - timedelta(seconds=s)) for s in range(1, 101)] + [
        ("fedex", NOW - timedelta(hours=2), None)
    ]
    total, carriers = staleness(rows, NOW)
    by_name = {s.carrier: s for s in carriers}
    assert by_name["ups"].count == 100
    assert by_name["ups"].p50 == 50
    assert by_name["ups"].p95 == 95
    assert by_name["ups"].max == 100
    assert by_name["fedex"].p50 == 7200
    assert total.count == 101
    assert total.max == 7200
    empty_total, empty = staleness([], NOW)
    assert empty == []
    assert empty_total.count == 0
