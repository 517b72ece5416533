"""Notification rules: triggers, collapse, consent, quiet hours, still-true checks."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from wismo.domain.milestones import Milestone, Reason
from wismo.domain.notify import (
    NotifyChannel,
    Recipient,
    StoreRules,
    Trigger,
    collapse,
    finding_trigger,
    idempotency_key,
    plan,
    primary_language,
    quiet_until,
    shipment_trigger,
    still_true,
)

M, R = Milestone, Reason
NOON_UTC = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after", "reason", "expected"),
    [
        (M.LABEL_CREATED, M.PICKED_UP, R.NONE, Trigger.SHIPPED),
        (M.LABEL_CREATED, M.IN_TRANSIT, R.NONE, Trigger.SHIPPED),
        (None, M.IN_TRANSIT, R.NONE, Trigger.SHIPPED),
        (M.PICKED_UP, M.IN_TRANSIT, R.NONE, None),  # not shipped twice
        (M.IN_TRANSIT, M.IN_TRANSIT, R.NONE, None),  # another scan: nothing to say
        (M.IN_TRANSIT, M.OUT_FOR_DELIVERY, R.NONE, Trigger.OUT_FOR_DELIVERY),
        (M.LABEL_CREATED, M.DELIVERED, R.NONE, Trigger.DELIVERED),  # a burst: the latest
        (M.IN_TRANSIT, M.AVAILABLE_FOR_PICKUP, R.NONE, Trigger.AVAILABLE_FOR_PICKUP),
        (M.OUT_FOR_DELIVERY, M.DELIVERY_ATTEMPT_FAILED, R.NONE, Trigger.FAILED_ATTEMPT),
        (M.IN_TRANSIT, M.EXCEPTION, R.CUSTOMS_HOLD, Trigger.CUSTOMS_HOLD),
        (M.IN_TRANSIT, M.RETURNING_TO_SENDER, R.NONE, Trigger.RETURNING_TO_SENDER),
        (None, M.LABEL_CREATED, R.NONE, None),
    ],
)
def test_shipment_triggers(
    before: Milestone | None, after: Milestone, reason: Reason, expected: Trigger | None
) -> None:
    """Each milestone change maps to at most one message; scans within one say nothing."""
    assert shipment_trigger(before, R.NONE, after, reason) is expected


def test_customs_hold_while_in_transit_is_announced_once() -> None:
    """A customs reason on an in-transit scan is news; the same reason again is not."""
    assert shipment_trigger(M.IN_TRANSIT, R.NONE, M.IN_TRANSIT, R.CUSTOMS_HOLD) is (
        Trigger.CUSTOMS_HOLD
    )
    assert shipment_trigger(M.IN_TRANSIT, R.CUSTOMS_HOLD, M.IN_TRANSIT, R.CUSTOMS_HOLD) is None


def test_findings_map_to_delay_and_stuck_only() -> None:
    """Findings that mirror a milestone are announced from the scan, not again."""
    assert finding_trigger("predicted_late") is Trigger.DELAYED
    assert finding_trigger("late") is Trigger.DELAYED
    assert finding_trigger("no_scan_in_transit") is Trigger.STUCK
    assert finding_trigger("failed_attempt") is None
    assert finding_trigger("customs_hold") is None


def test_collapse_never_sends_shipped_after_delivered() -> None:
    assert collapse([Trigger.SHIPPED, Trigger.DELIVERED, Trigger.OUT_FOR_DELIVERY]) is (
        Trigger.DELIVERED
    )
    assert collapse([]) is None


def _recipient(**kw: object) -> Recipient:
    base: dict[str, object] = {
        "email": "ada@example.com",
        "phone": "+14155550100",
        "language": "fr-CA",
        "time_zone": "Europe/Paris",
        "consent": {"sms": True},
    }
    base.update(kw)
    return Recipient(**base)  # type: ignore[arg-type]


def test_plan_respects_consent_per_channel() -> None:
    """Email is transactional unless refused; SMS needs an explicit yes."""
    rules = StoreRules()
    both = plan(Trigger.SHIPPED, rules, _recipient(), store_zone="UTC", now=NOON_UTC)
    assert [(p.channel, p.recipient, p.language) for p in both] == [
        (NotifyChannel.EMAIL, "ada@example.com", "fr"),
        (NotifyChannel.SMS, "+14155550100", "fr"),
    ]
    none = plan(
        Trigger.SHIPPED,
        rules,
        _recipient(consent={"email": False}),
        store_zone="UTC",
        now=NOON_UTC,
    )
    assert none == []


def test_plan_skips_opted_out_and_disabled_triggers() -> None:
    rules = StoreRules.from_config({"triggers": ["delivered"], "channels": ["sms"]})
    assert plan(Trigger.SHIPPED, rules, _recipient(), store_zone="UTC", now=NOON_UTC) == []
    out = frozenset({("sms", "+14155550100")})
    assert (
        plan(Trigger.DELIVERED, rules, _recipient(), store_zone="UTC", now=NOON_UTC, opted_out=out)
        == []
    )


def test_preferred_channel_wins() -> None:
    got = plan(
        Trigger.SHIPPED, StoreRules(), _recipient(preferred="sms"), store_zone="UTC", now=NOON_UTC
    )
    assert [p.channel for p in got] == [NotifyChannel.SMS]


def test_quiet_hours_hold_until_morning_in_recipient_zone() -> None:
    """23:30 in New York is quiet: held until 08:00 New York time the next day."""
    late = datetime(2026, 11, 29, 4, 30, tzinfo=UTC)  # 23:30 on the 28th in New York
    got = plan(
        Trigger.DELIVERED,
        StoreRules(),
        _recipient(time_zone="America/New_York"),
        store_zone="UTC",
        now=late,
    )
    assert {p.status for p in got} == {"held"}
    assert got[0].not_before == datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
    zone = ZoneInfo("Europe/Paris")
    assert quiet_until(NOON_UTC, zone, time(21), time(8)) is None
    early = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)  # 06:00 in Paris
    assert quiet_until(early, zone, time(21), time(8)) == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


def test_still_true_supersedes_overtaken_messages() -> None:
    """A held "out for delivery" for a parcel since delivered is not sent."""
    assert still_true(Trigger.OUT_FOR_DELIVERY, M.OUT_FOR_DELIVERY, False)
    assert not still_true(Trigger.OUT_FOR_DELIVERY, M.DELIVERED, False)
    assert not still_true(Trigger.SHIPPED, M.DELIVERED, False)
    assert still_true(Trigger.DELIVERED, M.DELIVERED, False)
    assert not still_true(Trigger.SHIPPED, M.IN_TRANSIT, True)  # order cancelled
    assert still_true(Trigger.REFUND_ISSUED, None, True)


def test_idempotency_keys() -> None:
    """Shipped and delivered once per shipment; others once per occurrence."""
    a = idempotency_key(
        Trigger.DELIVERED, NotifyChannel.EMAIL, order_id=1, shipment_id=7, occurrence="x"
    )
    b = idempotency_key(
        Trigger.DELIVERED, NotifyChannel.EMAIL, order_id=1, shipment_id=7, occurrence="y"
    )
    assert a == b == "s7:delivered:once:email"
    c = idempotency_key(
        Trigger.OUT_FOR_DELIVERY, NotifyChannel.SMS, order_id=1, shipment_id=7, occurrence="d1"
    )
    assert c == "s7:out_for_delivery:d1:sms"


def test_rules_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match="unknown notification settings"):
        StoreRules.from_config({"quiet": "x"})
    with pytest.raises(ValueError, match="notification settings"):
        StoreRules.from_config({"channels": ["pigeon"]})
    assert StoreRules.from_config({"quiet_from": "22:00"}).quiet_from == time(22)


def test_language_falls_back_to_english() -> None:
    assert primary_language("es-MX") == "es"
    assert primary_language("de") == "en"
    assert primary_language(None) == "en"
