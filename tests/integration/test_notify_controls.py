"""Notification controls end to end on both databases: business hours, the deferring rate
limit, split-shipment messages, Twilio webhooks stored in the inbox, channel preference."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from wismo.bootstrap import Wismo, make_relay
from wismo.channels.fake import FakeChannel
from wismo.channels.sms import keyword
from wismo.cli.main import app as cli
from wismo.services.sms_inbound import SmsInbound
from wismo.storage import page
from wismo.storage.relay import SqlRelayStore
from wismo.storage.sms_inbound import SqlSmsInbound
from wismo.storage.tables import (
    inbox,
    integrations,
    notification_attempts,
    notifications,
    orders,
)
from wismo.testing import FakeClock, encode, envelope, order_created, shipment_created, tracking
from wismo.web.app import create_app

NY = ZoneInfo("America/New_York")
PHONE = "+14155550100"
SMS_HOURS = {"days": "mon-fri", "from": "09:00", "until": "18:00", "channels": ["sms"]}


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """A New York wall-clock time in November 2026 as an instant (Thanksgiving is the
    26th, a Thursday; the 28th is a Saturday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=NY).astimezone(UTC)


def ingest(w: Wismo, store_id: int, *events: dict[str, Any]) -> None:
    results = w.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results


def configure(w: Wismo, store_id: int, **settings: Any) -> None:
    with w.engine.begin() as conn:
        conn.execute(
            integrations.insert().values(
                store_id=store_id,
                provider="notifications",
                account="acme",
                credentials={},
                settings=settings,
                created_at=datetime.now(UTC),
            )
        )


def customer(consent: dict[str, bool]) -> dict[str, Any]:
    return envelope(
        "customer.upserted",
        {
            "external_id": "c-1",
            "emails": ["ada@example.com"],
            "phones": [PHONE],
            "consent": consent,
            "time_zone": "America/New_York",
            "language": "en",
        },
    )


def order(
    w: Wismo,
    store_id: int,
    number: str,
    *,
    consent: dict[str, bool] | None = None,
    phone: str = PHONE,
    lines: list[tuple[str, str, int]] | None = None,
    shipments: dict[str, list[tuple[str, int]]] | None = None,
) -> None:
    """An order placed now (the clock), for customer c-1, with its shipments."""
    placed = w.clock()
    ingest(
        w,
        store_id,
        customer(consent if consent is not None else {"sms": True}),
        order_created(
            number, placed_at=placed, customer_external_id="c-1", phone=phone, lines=lines
        ),
        *(
            shipment_created(number, ref, created_at=placed, lines=items)
            for ref, items in (shipments or {f"S{number}": [("L1", 1)]}).items()
        ),
    )


def rows(w: Wismo) -> list[Any]:
    with w.engine.connect() as conn:
        return list(conn.execute(select(notifications).order_by(notifications.c.id)).all())


def relay(w: Wismo, **channels: FakeChannel) -> Any:
    return make_relay(w, channels=dict(channels)).run_once()


# -- business hours ------------------------------------------------------------------------


def test_held_until_the_opening_then_sent(wismo: Wismo, store_id: int, clock: FakeClock) -> None:
    """An order on Saturday: the email goes at once, the SMS (bound to business hours)
    waits for Monday 09:00 in the customer's zone and goes out then, not a minute before."""
    configure(wismo, store_id, business_hours=SMS_HOURS)
    clock.now = ny(28, 11)
    order(wismo, store_id, "1001")
    email, sms = FakeChannel(), FakeChannel()
    relay(wismo, email=email, sms=sms)
    assert (len(email.sent), len(sms.sent)) == (1, 0)
    held = next(r for r in rows(wismo) if r.channel == "sms")
    assert (held.status, held.not_before) == ("held", ny(30, 9))
    clock.now = ny(30, 8, 59)
    assert relay(wismo, email=email, sms=sms).claimed == 0
    clock.now = ny(30, 9)
    assert relay(wismo, email=email, sms=sms).sent == 1
    assert sms.sent[0].text.startswith("Acme: Thanks!")


def test_public_holidays_of_the_store_country_are_closed(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Wednesday evening before Thanksgiving (the store is in the US): Friday 09:00; a
    store that ignores holidays opens on Thursday."""
    configure(wismo, store_id, business_hours=SMS_HOURS)
    clock.now = ny(25, 19)
    order(wismo, store_id, "1001")
    [sms] = [r for r in rows(wismo) if r.channel == "sms"]
    assert sms.not_before == ny(27, 9)
    with wismo.engine.begin() as conn:
        conn.execute(
            update(integrations).values(
                settings={"business_hours": {**SMS_HOURS, "holidays": False}}
            )
        )
    order(wismo, store_id, "1002")
    assert [r for r in rows(wismo) if r.channel == "sms"][-1].not_before == ny(26, 9)


def test_held_out_for_delivery_delivered_overnight_is_not_sent(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Out for delivery after closing time waits for the morning; the parcel is delivered
    in the evening. At the opening the relay finds it no longer true: superseded, not sent.
    (The store does not announce deliveries, so nothing else replaces it.)"""
    configure(
        wismo,
        store_id,
        business_hours=SMS_HOURS,
        channels=["sms"],
        triggers=["out_for_delivery"],
    )
    clock.now = ny(27, 9)
    order(wismo, store_id, "1001")
    clock.now = ny(24, 18, 30)  # Tuesday
    ingest(wismo, store_id, tracking("out_for_delivery", clock.now, shipment_ref="S1001"))
    [held] = rows(wismo)
    assert (held.trigger, held.status, held.not_before) == ("out_for_delivery", "held", ny(25, 9))
    clock.now = ny(24, 20)
    ingest(wismo, store_id, tracking("delivered", clock.now, shipment_ref="S1001"))
    clock.now = ny(25, 9)
    sms = FakeChannel()
    report = relay(wismo, sms=sms)
    assert (report.skipped, sms.sent) == (1, [])
    with wismo.engine.connect() as conn:
        outcome = conn.execute(select(notification_attempts.c.outcome)).scalar_one()
    assert (rows(wismo)[0].status, outcome) == ("cancelled", "superseded")


def test_newer_news_replaces_a_held_message_when_planned(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Held "out for delivery", then "delivered": the held one is cancelled as it is
    planned, and at the opening only "delivered" goes out."""
    configure(wismo, store_id, business_hours=SMS_HOURS, channels=["sms"])
    clock.now = ny(24, 10)
    order(wismo, store_id, "1001")
    relay(wismo, sms=FakeChannel())
    clock.now = ny(24, 18, 30)
    ingest(wismo, store_id, tracking("out_for_delivery", clock.now, shipment_ref="S1001"))
    clock.now = ny(24, 20)
    ingest(wismo, store_id, tracking("delivered", clock.now, shipment_ref="S1001"))
    ofd, delivered = rows(wismo)[1:]
    assert (ofd.status, ofd.last_error) == ("cancelled", "superseded by a newer message")
    assert (delivered.status, delivered.not_before) == ("held", ny(25, 9))
    clock.now = ny(25, 9)
    sms = FakeChannel()
    relay(wismo, sms=sms)
    assert [m.idempotency_key.split(":")[1] for m in sms.sent] == ["delivered"]


# -- the rate limit defers -----------------------------------------------------------------


def test_rate_limit_defers_per_customer_and_channel(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Two SMS a day: the third for the same customer (on another of their numbers) waits
    until the first is 24 hours old, using no attempt, then goes; the webhook is exempt."""
    configure(
        wismo,
        store_id,
        max_per_day=2,
        channels=["sms", "webhook"],
        webhook_url="https://shop.example/hook",
    )
    sms, hook = FakeChannel(), FakeChannel()
    first_sent = ny(24, 10)
    for i, phone in enumerate((PHONE, "+14155550199", PHONE)):
        clock.now = first_sent + timedelta(minutes=i)
        order(wismo, store_id, f"100{i}", phone=phone)
        relay(wismo, sms=sms, webhook=hook)
    assert (len(sms.sent), len(hook.sent)) == (2, 3)
    waiting = [r for r in rows(wismo) if r.status == "held"]
    assert [(r.recipient, r.next_attempt_at, r.attempts) for r in waiting] == [
        (PHONE, first_sent + timedelta(days=1), 0)
    ]
    assert "rate limit" in waiting[0].last_error
    clock.now = first_sent + timedelta(days=1)
    report = relay(wismo, sms=sms, webhook=hook)
    assert (report.sent, len(sms.sent)) == (1, 3)


def test_deferred_news_overtaken_meanwhile_is_dropped(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """One email a day: "shipped" waits; "out for delivery" comes before it could go, so
    only "out for delivery" is sent when the window opens."""
    configure(wismo, store_id, max_per_day=1, channels=["email"])
    clock.now = ny(24, 10)
    order(wismo, store_id, "1001")
    email = FakeChannel()
    relay(wismo, email=email)
    clock.now = ny(24, 11)
    ingest(wismo, store_id, tracking("in_transit", clock.now, shipment_ref="S1001"))
    assert relay(wismo, email=email).deferred == 1
    clock.now = ny(24, 15)
    ingest(wismo, store_id, tracking("out_for_delivery", clock.now, shipment_ref="S1001"))
    assert [(r.trigger, r.status) for r in rows(wismo)] == [
        ("order_confirmed", "sent"),
        ("shipped", "cancelled"),
        ("out_for_delivery", "pending"),
    ]
    relay(wismo, email=email)
    clock.now = ny(25, 10)
    relay(wismo, email=email)
    assert [m.subject for m in email.sent] == ["Order 1001 confirmed", "Out for delivery today"]


# -- split shipments -----------------------------------------------------------------------

LINES = [("L1", "Blue mug", 1), ("L2", "Red cup", 2), ("L3", "Plate", 1)]


def test_split_shipment_messages(wismo: Wismo, store_id: int, clock: FakeClock) -> None:
    """Shipped says what is in the package and what is still to ship; an earlier package's
    "delivered" says how many have arrived; the last ones give one summary, not
    "delivered" again."""
    clock.now = ny(24, 10)
    order(
        wismo,
        store_id,
        "1001",
        consent={},
        lines=LINES,
        shipments={"S1": [("L1", 1)], "S2": [("L2", 2)]},
    )
    email = FakeChannel()
    relay(wismo, email=email)
    ingest(wismo, store_id, tracking("in_transit", clock.now, shipment_ref="S1"))
    relay(wismo, email=email)
    assert "In this package: 1 x Blue mug.\n\nStill to ship: 1 x Plate." in email.sent[-1].text
    ingest(wismo, store_id, shipment_created("1001", "S3", created_at=clock.now, lines=[("L3", 1)]))
    clock.now = ny(25, 10)
    ingest(wismo, store_id, tracking("delivered", clock.now, shipment_ref="S1"))
    relay(wismo, email=email)
    assert "1 of 3 packages delivered; the rest is on its way." in email.sent[-1].text
    clock.now = ny(26, 10)
    ingest(
        wismo,
        store_id,
        tracking("delivered", clock.now, shipment_ref="S2"),
        tracking("delivered", clock.now, shipment_ref="S3"),
    )
    relay(wismo, email=email)
    assert [r.trigger for r in rows(wismo)] == [
        "order_confirmed",
        "shipped",
        "delivered",
        "split_summary",
    ]
    assert email.sent[-1].subject == "All packages delivered"
    assert "All 3 packages of order 1001 have arrived." in email.sent[-1].text


def test_summary_replaces_an_unsent_delivered(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """The first package's "delivered" still waits (night) when the last arrives: the
    customer gets the summary alone."""
    clock.now = ny(24, 10)
    order(
        wismo,
        store_id,
        "1001",
        consent={},
        lines=LINES[:2],
        shipments={"S1": [("L1", 1)], "S2": [("L2", 2)]},
    )
    clock.now = ny(24, 22)
    ingest(wismo, store_id, tracking("delivered", clock.now, shipment_ref="S1"))
    clock.now = ny(24, 23)
    ingest(wismo, store_id, tracking("delivered", clock.now, shipment_ref="S2"))
    assert [(r.trigger, r.status) for r in rows(wismo)] == [
        ("order_confirmed", "pending"),
        ("delivered", "cancelled"),
        ("split_summary", "held"),
    ]


def test_planning_split_orders_is_set_based(wismo: Wismo, store_id: int, clock: FakeClock) -> None:
    """Delivering the last packages of one split order or of four in a batch takes the
    same number of statements: nothing is read per order."""
    clock.now = ny(24, 10)
    for n in range(1, 6):
        order(
            wismo,
            store_id,
            f"10{n}",
            consent={},
            lines=LINES[:2],
            shipments={f"A{n}": [("L1", 1)], f"B{n}": [("L2", 2)]},
        )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def deliver(numbers: range) -> int:
        statements.clear()
        event.listen(wismo.engine, "before_cursor_execute", count)
        try:
            ingest(
                wismo,
                store_id,
                *(
                    tracking("delivered", clock.now, shipment_ref=f"{s}{n}")
                    for n in numbers
                    for s in "AB"
                ),
            )
        finally:
            event.remove(wismo.engine, "before_cursor_execute", count)
        return len(statements)

    one = deliver(range(1, 2))
    assert any("shipment_lines" in s for s in statements)  # the split check ran
    assert deliver(range(2, 6)) == one
    assert sum(r.trigger == "split_summary" for r in rows(wismo)) == 5


# -- Twilio webhooks through the inbox ---------------------------------------------------------

TOKEN = "twilio-token"
PUBLIC = "https://wismo.example"


@pytest.fixture
def client(wismo: Wismo) -> Iterator[TestClient]:
    wismo.settings = dataclasses.replace(wismo.settings, twilio_auth_token=TOKEN, public_url=PUBLIC)
    with TestClient(create_app(wismo)) as c:
        yield c


def post(client: TestClient, path: str, form: dict[str, str], good: bool = True) -> Any:
    sig = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(
        path,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sig if good else "bm9wZQ==",
        },
    )


def sms_from(body: str, sid: str = "SM0001") -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC1",
        "From": PHONE,
        "To": "+15005550006",
        "Body": body,
    }


def inbox_rows(w: Wismo) -> list[Any]:
    with w.engine.connect() as conn:
        query = select(inbox).where(inbox.c.source == "twilio").order_by(inbox.c.id)
        return list(conn.execute(query).all())


def test_stop_is_stored_then_applied(client: TestClient, wismo: Wismo, store_id: int) -> None:
    """A verified STOP is kept in the inbox (processed) and honoured; Twilio's retry of it
    is stored once; a forged one is refused and leaves no row."""
    order(wismo, store_id, "1001")
    assert post(client, "/webhooks/twilio/inbound", sms_from("STOP"), good=False).status_code == 403
    assert inbox_rows(wismo) == []
    for _ in range(2):
        assert post(client, "/webhooks/twilio/inbound", sms_from("STOP")).status_code == 200
    [row] = inbox_rows(wismo)
    assert (row.store_id, row.source, row.format, row.status) == (
        store_id,
        "twilio",
        "twilio:inbound",
        "processed",
    )
    assert b"Body=STOP" in row.body
    assert SqlRelayStore(wismo.engine).opted_out(store_id, "sms", PHONE)


def test_delivery_report_is_stored(
    client: TestClient, wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """A report on one of our messages is kept under its SID and status, then applied."""
    clock.now = ny(24, 10)
    order(wismo, store_id, "1001", consent={"email": False, "sms": True})
    relay(wismo, sms=FakeChannel())
    sid = rows(wismo)[0].provider_message_id
    form = {"MessageSid": sid, "MessageStatus": "undelivered"}
    assert post(client, "/webhooks/twilio/status", form).status_code == 204
    assert [(r.event_id, r.status) for r in inbox_rows(wismo)] == [
        (f"{sid}:undelivered", "processed")
    ]
    assert rows(wismo)[0].status == "failed"
    post(client, "/webhooks/twilio/status", {"MessageSid": "SMnotours", "MessageStatus": "sent"})
    assert len(inbox_rows(wismo)) == 1


class FlakyStore(SqlSmsInbound):
    """The real store, whose opt-out fails: what a database outage mid-request does."""

    def opt_out(
        self, store_id: int, channel: str, address: str, source: str, now: datetime
    ) -> None:
        raise OSError("connection reset")


def test_a_failed_inbound_is_listed_and_replayed(
    wismo: Wismo, store_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The STOP could not be applied: it stays in the inbox as dead, `wismo inbox list`
    shows it, and `wismo inbox replay` applies it (through the SMS service, not the order
    parsers)."""
    monkeypatch.setenv("WISMO_DATABASE_URL", wismo.settings.database_url)
    order(wismo, store_id, "1001")
    body = urlencode(sms_from("STOP")).encode()
    SmsInbound(FlakyStore(wismo.engine), keyword, wismo.clock).receive("inbound", body)
    [row] = inbox_rows(wismo)
    assert row.status == "dead"
    assert "connection reset" in row.error[0]["msg"]
    listed = CliRunner().invoke(cli, ["inbox", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"{row.id}\tdead\ttwilio" in listed.output
    assert not SqlRelayStore(wismo.engine).opted_out(store_id, "sms", PHONE)
    replayed = CliRunner().invoke(cli, ["inbox", "replay"])
    assert replayed.exit_code == 0, replayed.output
    assert f"{row.id}\tprocessed" in replayed.output
    assert inbox_rows(wismo)[0].status == "processed"
    assert SqlRelayStore(wismo.engine).opted_out(store_id, "sms", PHONE)


def test_help_answers_with_the_stores_text(client: TestClient, wismo: Wismo, store_id: int) -> None:
    """HELP gets the store's support contact, or its own help text when it set one."""
    order(wismo, store_id, "1001")
    with wismo.engine.begin() as conn:
        page.set_branding(conn, store_id, {"support_email": "help@acme.example"})
    reply = post(client, "/webhooks/twilio/inbound", sms_from("help", "SM2")).text
    assert "<Message>Acme: order updates. Help: help@acme.example. Reply STOP" in reply
    configure(wismo, store_id, help_text="Acme & co: call 555-0100")
    reply = post(client, "/webhooks/twilio/inbound", sms_from("HELP", "SM3")).text
    assert "<Message>Acme &amp; co: call 555-0100</Message>" in reply


# -- channel preference ----------------------------------------------------------------------


def test_a_preference_from_the_tracking_page_is_honoured(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """The customer ticked SMS only on the page: SMS, plus the retailer's webhook."""
    configure(
        wismo,
        store_id,
        channels=["email", "sms", "webhook"],
        webhook_url="https://shop.example/hook",
    )
    clock.now = ny(24, 10)
    order(wismo, store_id, "1001", consent={})
    with wismo.engine.begin() as conn:
        order_id = conn.execute(select(orders.c.id)).scalar_one()
        page.set_consent(conn, store_id, order_id, {"email": False, "sms": True})
    ingest(wismo, store_id, tracking("in_transit", clock.now, shipment_ref="S1001"))
    assert [r.channel for r in rows(wismo) if r.trigger == "shipped"] == ["sms", "webhook"]
