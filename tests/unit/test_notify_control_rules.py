"""Notification controls without a database: business hours, the deferring rate limit,
channel preference, stale waiting messages, split-package wording, inbound SMS storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from wismo.channels.fake import FakeChannel
from wismo.channels.render import help_reply, split_notes
from wismo.channels.sms import keyword
from wismo.domain.notify import (
    BusinessHours,
    NotifyChannel,
    Recipient,
    StoreRules,
    Trigger,
    overtaken_by,
    plan,
    preferred_channel,
    send_after,
)
from wismo.services.notify import Attempt, Message, Relay
from wismo.services.ports import Claimed, Outcome
from wismo.services.sms_inbound import HelpInfo, SmsInbound
from wismo.testing import FakeClock

NY = ZoneInfo("America/New_York")
SMS_HOURS = {"days": "mon-fri", "from": "09:00", "until": "18:00", "channels": ["sms"]}


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant given as a New York wall-clock time in November 2026 (the 27th is a
    Friday, the 26th Thanksgiving)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=NY).astimezone(UTC)


# -- business hours ----------------------------------------------------------------------


def test_business_hours_config_reads_days_ranges_and_lists() -> None:
    """Days as a range, a comma list or a JSON list; a range may wrap over the weekend."""
    assert BusinessHours.from_config({"days": "mon-fri"}).days == frozenset(range(5))
    assert BusinessHours.from_config({"days": "mon-wed,sat"}).days == {0, 1, 2, 5}
    assert BusinessHours.from_config({"days": ["tue", "thu"]}).days == {1, 3}
    assert BusinessHours.from_config({"days": "fri-mon"}).days == {4, 5, 6, 0}
    hours = BusinessHours.from_config(SMS_HOURS)
    assert (hours.opens, hours.closes, hours.channels) == (
        time(9),
        time(18),
        frozenset({NotifyChannel.SMS}),
    )


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ({"days": "mon-frx"}, "business_hours.days"),
        ({"days": []}, "business_hours.days"),
        ({"from": "9h"}, "business_hours.from"),
        ({"from": "18:00", "until": "09:00"}, "`from` must be before `until`"),
        ({"channels": ["webhook"]}, "business_hours.channels"),
        ({"channels": ["pigeon"]}, "business_hours.channels"),
        ({"open": "09:00"}, "unknown business_hours settings"),
    ],
)
def test_business_hours_config_errors_name_the_key(config: dict[str, Any], names: str) -> None:
    """A bad business-hours setting is refused with the key it is about."""
    with pytest.raises(ValueError, match=names):
        StoreRules.from_config({"business_hours": config})


def test_store_rules_refuse_a_zero_limit_and_keep_help_text() -> None:
    """max_per_day below 1 is refused (it would hold everything for ever); help_text kept."""
    with pytest.raises(ValueError, match="max_per_day"):
        StoreRules.from_config({"max_per_day": 0})
    assert StoreRules.from_config({"help_text": "Call us"}).help_text == "Call us"
    with pytest.raises(ValueError, match="unknown notification settings"):
        StoreRules.from_config({"country": "FR"})  # the store's, not a setting


def test_next_open_skips_evenings_weekends_and_holidays() -> None:
    """Open now: None; before opening: today's; after closing on Friday: Monday's; the
    Thanksgiving holiday is skipped."""
    hours = BusinessHours()
    assert hours.next_open(ny(27, 10), NY) is None
    assert hours.next_open(ny(27, 7), NY) == ny(27, 9)
    assert hours.next_open(ny(27, 18), NY) == ny(30, 9)
    thanksgiving = {date(2026, 11, 26)}
    assert hours.next_open(ny(25, 19), NY, thanksgiving) == ny(27, 9)
    assert hours.next_open(ny(25, 19), NY) == ny(26, 9)


def test_send_after_takes_the_later_of_quiet_and_business_hours() -> None:
    """At 23:00 quiet hours end at 08:00 but the store opens at 09:00: 09:00 wins. A
    channel not bound to business hours only waits for the quiet hours; webhooks never."""
    rules = StoreRules(business_hours=BusinessHours.from_config(SMS_HOURS))
    late_thursday = ny(26, 23)
    assert send_after(late_thursday, NY, rules, NotifyChannel.SMS) == ny(27, 9)
    assert send_after(late_thursday, NY, rules, NotifyChannel.EMAIL) == ny(27, 8)
    assert send_after(late_thursday, NY, rules, NotifyChannel.WEBHOOK) is None
    assert send_after(ny(27, 10), NY, rules, NotifyChannel.SMS) is None
    early = StoreRules(business_hours=BusinessHours(opens=time(7), closes=time(12)))
    assert send_after(ny(27, 6), NY, early, NotifyChannel.SMS) == ny(27, 8)  # quiet wins


def test_plan_holds_only_the_channels_bound_to_business_hours() -> None:
    """On a Saturday the SMS waits for Monday morning; the email goes now."""
    rules = StoreRules(business_hours=BusinessHours.from_config(SMS_HOURS))
    saturday = ny(28, 11)
    got = plan(Trigger.SHIPPED, rules, recipient(), store_zone="UTC", now=saturday)
    assert [(p.channel, p.status, p.not_before) for p in got] == [
        (NotifyChannel.EMAIL, "pending", None),
        (NotifyChannel.SMS, "held", ny(30, 9)),
    ]


def recipient(**kw: Any) -> Recipient:
    base: dict[str, Any] = {
        "email": "ada@example.com",
        "phone": "+14155550100",
        "language": "en",
        "time_zone": "America/New_York",
        "consent": {"sms": True},
    }
    base.update(kw)
    return Recipient(**base)


# -- preference and stale waiting messages -------------------------------------------------


def test_preferred_channel_is_the_one_ticked_of_those_offered() -> None:
    """The page's form stores every channel: exactly one ticked is a preference."""
    assert preferred_channel({"email": False, "sms": True}) == "sms"
    assert preferred_channel({"email": True, "sms": False}) == "email"
    assert preferred_channel({"email": True, "sms": True}) is None
    assert preferred_channel({"sms": True}) is None  # email not chosen against: no choice


def test_preference_keeps_the_retailers_webhook() -> None:
    """A customer's choice narrows the customer's channels, not the retailer's webhook."""
    rules = StoreRules(
        channels=(NotifyChannel.EMAIL, NotifyChannel.SMS, NotifyChannel.WEBHOOK),
        webhook_url="https://shop.example/hook",
    )
    got = plan(Trigger.SHIPPED, rules, recipient(preferred="sms"), store_zone="UTC", now=ny(27, 10))
    assert [p.channel for p in got] == [NotifyChannel.SMS, NotifyChannel.WEBHOOK]


def test_a_newer_shipment_message_overtakes_those_no_further_along() -> None:
    """Out for delivery makes a waiting "shipped" stale, not a waiting "delivered"."""
    assert Trigger.SHIPPED in overtaken_by(Trigger.OUT_FOR_DELIVERY)
    assert Trigger.DELIVERED not in overtaken_by(Trigger.OUT_FOR_DELIVERY)
    assert overtaken_by(Trigger.ORDER_CONFIRMED) == frozenset()


# -- the rate limit defers ----------------------------------------------------------------


@dataclass
class FakeRelayStore:
    """The relay's port in memory: `sent` are the sent instants of the one customer."""

    items: list[Claimed]
    rules_: StoreRules
    sent: list[datetime] = field(default_factory=list)
    finished: list[Attempt] = field(default_factory=list)

    def claim(self, worker: str, now: datetime, lease_seconds: float, limit: int) -> list[Claimed]:
        taken, self.items = self.items[:limit], self.items[limit:]
        return taken

    def finish(self, records: Sequence[Attempt], worker: str) -> None:
        self.finished.extend(records)
        self.sent.extend(r.finished_at for r in records if r.status == "sent")

    def opt_out(
        self, store_id: int, channel: str, address: str, source: str, now: datetime
    ) -> None:
        raise AssertionError("not expected")

    def rules(self, store_id: int) -> StoreRules:
        return self.rules_

    def mark_committing(self, notification_id: int, worker: str) -> None:
        pass  # these tests' channels have no point of no return

    def sent_times(self, notification_id: int, since: datetime) -> list[datetime]:
        return sorted(t for t in self.sent if t > since)


def claimed(i: int, sent_last_day: int, channel: str = "sms") -> Claimed:
    return Claimed(
        id=i,
        store_id=1,
        order_id=i,
        shipment_id=None,
        trigger="order_confirmed",
        channel=channel,
        recipient="+14155550100",
        language="en",
        template="order_confirmed",
        payload={},
        idempotency_key=f"o{i}:order_confirmed:once:{channel}",
        attempts=1,
        was_sending=False,
        order_number=str(i),
        store_name="Acme",
        store_slug="acme",
        time_zone="America/New_York",
        milestone=None,
        order_cancelled=False,
        sent_last_day=sent_last_day,
        created_at=ny(27, 10),
    )


def test_over_the_limit_waits_until_the_oldest_leaves_the_window() -> None:
    """Two a day, two already sent (at 10:00 and 11:00 yesterday): the third waits until
    10:00 today, when the first leaves the 24-hour window; the webhook is not limited."""
    clock = FakeClock(ny(27, 9))
    store = FakeRelayStore(
        [claimed(1, 2), claimed(2, 2, channel="webhook")],
        StoreRules(max_per_day=2),
        sent=[ny(26, 10), ny(26, 11)],
    )
    relay = Relay(store, {"sms": FakeChannel(), "webhook": FakeChannel()}, render, clock)
    report = relay.run_once()
    assert (report.deferred, report.sent, report.skipped) == (1, 1, 0)
    [deferred] = [a for a in store.finished if a.outcome == "deferred"]
    assert (deferred.status, deferred.next_attempt_at) == ("held", ny(27, 10))


def test_a_release_inside_quiet_hours_waits_for_morning() -> None:
    """The window frees up at 23:00, inside quiet hours: the message waits until 08:00."""
    clock = FakeClock(ny(27, 20))
    store = FakeRelayStore([claimed(1, 1)], StoreRules(max_per_day=1), sent=[ny(26, 23)])
    Relay(store, {"sms": FakeChannel()}, render, clock).run_once()
    assert store.finished[0].next_attempt_at == ny(28, 8)


def test_the_batch_counts_its_own_sends_then_checks_exactly() -> None:
    """Three claimed at once under a limit of two: two go, the third waits a day."""
    clock = FakeClock(ny(27, 10))
    store = FakeRelayStore([claimed(i, 0) for i in (1, 2, 3)], StoreRules(max_per_day=2))
    sms = FakeChannel()
    report = Relay(store, {"sms": sms}, render, clock).run_once()
    assert (report.sent, report.deferred, len(sms.sent)) == (2, 1, 2)
    assert store.finished[-1].next_attempt_at == ny(28, 10)


def render(n: Claimed) -> Message:
    return Message(n.idempotency_key, n.channel, n.recipient, "s", "t")


# -- split-package wording -----------------------------------------------------------------


def test_split_notes_say_which_package_and_what_is_left() -> None:
    """ "Package 1 of 2" with its items; what is still to ship; "1 of 2 delivered"."""
    mug, cup = {"quantity": 2, "title": "Blue mug"}, {"quantity": 1, "title": "Red cup"}
    two = {"index": 1, "count": 2, "delivered": 0, "items": [mug], "unshipped": []}
    assert split_notes("shipped", two, "en") == ["Package 1 of 2: 2 x Blue mug."]
    partial = {"index": 1, "count": 1, "delivered": 0, "items": [mug], "unshipped": [cup]}
    assert split_notes("shipped", partial, "en") == [
        "In this package: 2 x Blue mug.",
        "Still to ship: 1 x Red cup.",
    ]
    half = {**two, "delivered": 1}
    assert split_notes("delivered", half, "fr") == ["1 colis livrés sur 2 ; le reste est en route."]
    assert split_notes("delayed", two, "en") == []
    many = {**two, "items": [mug] * 5}
    assert split_notes("shipped", many, "en")[0].endswith("Blue mug, 2 more.")


def test_help_reply_uses_the_stores_text_or_its_contact() -> None:
    """The store's own HELP text wins; otherwise its name, support contact and keywords."""
    assert help_reply(HelpInfo("Acme", "en", text="Acme help: call 555")) == "Acme help: call 555"
    reply = help_reply(HelpInfo("Acme", "es", contact="help@acme.example"))
    assert reply.startswith("Acme: avisos de pedidos. Ayuda: help@acme.example.")
    assert "STOP" in help_reply(None)


# -- inbound SMS: stored, then applied ------------------------------------------------------


@dataclass
class FakeInboundStore:
    """The inbound port in memory; `fail_opt_out` makes applying fail."""

    stores: list[int]
    fail_opt_out: bool = False
    inbox: dict[int, tuple[int, str | None, str, bytes]] = field(default_factory=dict)
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def stores_for_address(self, channel: str, address: str) -> list[int]:
        return self.stores

    def store_of_message(self, provider_message_id: str) -> int | None:
        return self.stores[0] if self.stores else None

    def inbox_add(
        self, store_ids: Sequence[int], item: tuple[str, str | None, str, bytes], now: datetime
    ) -> list[tuple[int, int]]:
        added = []
        for store_id in store_ids:
            if any(s == store_id and e == item[1] for s, e, _, _ in self.inbox.values()):
                continue
            inbox_id = len(self.inbox) + 1
            self.inbox[inbox_id] = (store_id, item[1], item[2], item[3])
            self.log.append(f"stored {inbox_id}")
            added.append((inbox_id, store_id))
        return added

    def inbox_items(self, inbox_ids: Sequence[int]) -> list[tuple[int, int, str, bytes]]:
        return [(i, self.inbox[i][0], self.inbox[i][2], self.inbox[i][3]) for i in inbox_ids]

    def inbox_record(self, outcomes: Mapping[int, Outcome], now: datetime) -> None:
        self.outcomes.update(outcomes)

    def opt_out(
        self, store_id: int, channel: str, address: str, source: str, now: datetime
    ) -> None:
        if self.fail_opt_out:
            raise OSError("database went away")
        self.log.append(f"opt_out {store_id} {address}")

    def opt_in(self, store_id: int, channel: str, address: str) -> None:
        self.log.append(f"opt_in {store_id} {address}")

    def status_callback(self, provider_message_id: str, status: str, now: datetime) -> bool:
        self.log.append(f"report {provider_message_id} {status}")
        return True

    def help_info(self, channel: str, address: str) -> HelpInfo | None:
        return None


STOP = b"MessageSid=SM1&From=%2B14155550100&Body=STOP"


def test_inbound_is_stored_for_each_store_before_it_is_applied() -> None:
    """A STOP names no store: one inbox row per store that messaged the number, each
    stored before its opt-out; Twilio's retry of it is a duplicate, not applied again."""
    store = FakeInboundStore([1, 2])
    inbound = SmsInbound(store, keyword, FakeClock())
    assert inbound.receive("inbound", STOP) == "stop"
    assert store.log == [
        "stored 1",
        "stored 2",
        "opt_out 1 +14155550100",
        "opt_out 2 +14155550100",
    ]
    inbound.receive("inbound", STOP)
    assert len(store.log) == 4
    assert {o.status for o in store.outcomes.values()} == {"processed"}


def test_a_failure_is_kept_dead_and_replay_applies_it() -> None:
    """Applying fails: the row is dead with the reason; replayed later, it is applied."""
    store = FakeInboundStore([1], fail_opt_out=True)
    inbound = SmsInbound(store, keyword, FakeClock())
    inbound.receive("inbound", STOP)
    assert store.outcomes[1].status == "dead"
    assert "database went away" in str(store.outcomes[1].error[0]["msg"])
    store.fail_opt_out = False
    assert inbound.replay([1])[1].status == "processed"
    assert store.log[-1] == "opt_out 1 +14155550100"


def test_what_concerns_no_store_is_not_stored() -> None:
    """A report on a message that is not ours, a text from a number never messaged."""
    store = FakeInboundStore([])
    inbound = SmsInbound(store, keyword, FakeClock())
    inbound.receive("status", b"MessageSid=SMx&MessageStatus=delivered")
    assert inbound.receive("inbound", b"From=%2B1999&Body=HELP") == "help"
    assert store.inbox == {}
    with pytest.raises(ValueError, match="UTF-8"):
        inbound.receive("inbound", b"\xff\xfe")


def test_delivery_reports_are_keyed_by_message_and_status() -> None:
    """ "sent" then "delivered" for one message are two reports; a repeat is not."""
    store = FakeInboundStore([3])
    inbound = SmsInbound(store, keyword, FakeClock())
    for status in ("sent", "delivered", "delivered"):
        inbound.receive("status", f"MessageSid=SM9&MessageStatus={status}".encode())
    assert [e for _, e, _, _ in store.inbox.values()] == ["SM9:sent", "SM9:delivered"]
    assert store.log[-1] == "report SM9 delivered"
