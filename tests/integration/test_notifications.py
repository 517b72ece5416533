"""Notifications: the outbox written with the event, the relay, the bad cases, the
Twilio callbacks, STOP/START/HELP, unsubscribes and the CLI."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from wismo.bootstrap import Wismo, make_relay, make_sweeper
from wismo.channels.fake import FakeChannel
from wismo.cli.main import app as cli
from wismo.services.notify import Message, SendError, SendResult
from wismo.storage.relay import SqlRelayStore, history
from wismo.storage.tables import integrations, notification_attempts, notifications
from wismo.testing import FakeClock, encode, envelope, order_created, shipment_created, tracking
from wismo.web.app import create_app

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 13:00 in Paris: not quiet hours


def ingest(w: Wismo, store_id: int, *events: dict[str, Any]) -> None:
    results = w.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results


def customer(consent: dict[str, bool], zone: str = "Europe/Paris", lang: str = "fr") -> Any:
    return envelope(
        "customer.upserted",
        {
            "external_id": "c-1",
            "emails": ["ada@example.com"],
            "phones": ["+14155550100"],
            "consent": consent,
            "time_zone": zone,
            "language": lang,
        },
    )


def order(
    w: Wismo, store_id: int, number: str = "1001", consent: dict[str, bool] | None = None
) -> None:
    ingest(
        w,
        store_id,
        customer(consent if consent is not None else {"sms": True}),
        order_created(
            number,
            placed_at=T0,
            customer_external_id="c-1",
            phone="+14155550100",
        ),
        shipment_created(number, f"S{number}", created_at=T0),
    )


def rows(w: Wismo) -> list[Any]:
    with w.engine.connect() as conn:
        return list(conn.execute(select(notifications).order_by(notifications.c.id)).all())


def attempts(w: Wismo) -> list[Any]:
    with w.engine.connect() as conn:
        query = select(notification_attempts).order_by(notification_attempts.c.id)
        return list(conn.execute(query).all())


def triggers(w: Wismo) -> list[tuple[str, str]]:
    return [(r.trigger, r.channel) for r in rows(w)]


def test_outbox_row_written_with_the_event(wismo: Wismo, store_id: int) -> None:
    """Order confirmed, then the first carrier scan: one message per channel each; more
    scans in transit add nothing."""
    order(wismo, store_id)
    assert triggers(wismo) == [("order_confirmed", "email"), ("order_confirmed", "sms")]
    ingest(wismo, store_id, tracking("picked_up", T0 + timedelta(hours=1), shipment_ref="S1001"))
    ingest(wismo, store_id, tracking("in_transit", T0 + timedelta(hours=2), shipment_ref="S1001"))
    ingest(wismo, store_id, tracking("in_transit", T0 + timedelta(hours=3), shipment_ref="S1001"))
    assert triggers(wismo)[2:] == [("shipped", "email"), ("shipped", "sms")]
    r = rows(wismo)[2]
    assert r.recipient == "ada@example.com"
    assert r.language == "fr"
    assert r.status == "pending"
    assert r.idempotency_key.endswith(":shipped:once:email")


def test_burst_collapses_to_latest(wismo: Wismo, store_id: int) -> None:
    """Picked up, out for delivery and delivered in one batch: only "delivered"."""
    order(wismo, store_id, consent={"sms": False})
    ingest(
        wismo,
        store_id,
        tracking("picked_up", T0 + timedelta(hours=1), shipment_ref="S1001"),
        tracking("out_for_delivery", T0 + timedelta(hours=2), shipment_ref="S1001"),
        tracking("delivered", T0 + timedelta(hours=3), shipment_ref="S1001"),
    )
    assert triggers(wismo) == [("order_confirmed", "email"), ("delivered", "email")]


def test_no_consent_no_message(wismo: Wismo, store_id: int) -> None:
    order(wismo, store_id, consent={"email": False, "sms": False})
    ingest(wismo, store_id, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    assert rows(wismo) == []


def relay(w: Wismo, **channels: Any) -> Any:
    return make_relay(w, channels=channels)


def test_relay_sends_once_and_records_attempts(wismo: Wismo, store_id: int) -> None:
    """The relay sends each message once, in the customer's language, and records it."""
    order(wismo, store_id)
    email, sms = FakeChannel(), FakeChannel()
    report = relay(wismo, email=email, sms=sms).run_once()
    assert (report.sent, report.claimed) == (2, 2)
    assert relay(wismo, email=email, sms=sms).run_once().claimed == 0
    assert email.sent[0].subject == "Commande 1001 confirmée"
    assert "/t/" in email.sent[0].text  # a signed link to the order's page
    assert email.sent[0].headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sms.sent[0].text.startswith("Acme: Merci")
    with wismo.engine.connect() as conn:
        listed = history(conn, store_id, "1001")
    assert [(n["status"], [a["outcome"] for a in n["attempts"]]) for n in listed] == [
        ("sent", ["sent"]),
        ("sent", ["sent"]),
    ]


def test_cancelled_order_cancels_pending_messages(wismo: Wismo, store_id: int) -> None:
    order(wismo, store_id, consent={})
    ingest(wismo, store_id, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    ingest(
        wismo,
        store_id,
        envelope(
            "order.cancelled",
            {"order_number": "1001", "cancelled_at": (T0 + timedelta(hours=2)).isoformat()},
        ),
    )
    email = FakeChannel()
    relay(wismo, email=email).run_once()
    assert [m.subject for m in email.sent] == []
    assert {r.status for r in rows(wismo)} == {"cancelled"}


def test_quiet_hours_hold_then_release_if_still_true(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Out for delivery at 23:00 in Paris is held until 08:00; delivered meanwhile, the
    held message is superseded and only "delivered" goes out."""
    order(wismo, store_id, consent={})
    night = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)
    clock.now = night
    ingest(wismo, store_id, tracking("out_for_delivery", night, shipment_ref="S1001"))
    held = rows(wismo)[-1]
    assert (held.trigger, held.status) == ("out_for_delivery", "held")
    assert held.not_before == datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    email = FakeChannel()
    relay(wismo, email=email).run_once()
    assert [m.subject for m in email.sent] == ["Commande 1001 confirmée"]
    clock.now = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
    relay(wismo, email=email).run_once()
    assert email.sent[-1].subject == "En cours de livraison"

    # The same again, but the parcel is delivered before the window opens.
    order(wismo, store_id, "1002", consent={})
    clock.now = night + timedelta(days=1)
    ingest(wismo, store_id, tracking("out_for_delivery", clock.now, shipment_ref="S1002"))
    clock.now += timedelta(hours=1)
    ingest(wismo, store_id, tracking("delivered", clock.now, shipment_ref="S1002"))
    clock.now += timedelta(hours=9)
    before = len(email.sent)
    relay(wismo, email=email).run_once()
    subjects = [m.subject for m in email.sent[before:]]
    assert "En cours de livraison" not in subjects
    assert "Commande 1002 livrée" in subjects


def test_retries_with_backoff_then_gives_up_on_permanent(wismo: Wismo, store_id: int) -> None:
    """A 429 with Retry-After retries no earlier than asked; a dead number fails, opts the
    number out, and later messages to it are not even planned."""
    order(wismo, store_id, consent={"email": False, "sms": True})
    answers: list[SendError | None] = [
        SendError("busy", provider_status="429", retry_after_seconds=120),
        SendError("invalid", provider_status="400/21211", address_dead=True),
    ]

    def fail(_m: Message) -> SendError | None:
        return answers.pop(0) if answers else None

    sms = FakeChannel(fail)
    relay(wismo, sms=sms).run_once()
    r = rows(wismo)[0]
    assert (r.status, r.attempts, r.last_error) == ("pending", 1, "busy")
    assert r.next_attempt_at >= T0 + timedelta(seconds=120)
    wismo.clock.now = r.next_attempt_at  # type: ignore[attr-defined]
    relay(wismo, sms=sms).run_once()
    assert rows(wismo)[0].status == "failed"
    assert SqlRelayStore(wismo.engine).opted_out(store_id, "sms", "+14155550100")
    ingest(wismo, store_id, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    assert [x.trigger for x in rows(wismo)] == ["order_confirmed"]


def test_a_timed_out_send_the_provider_accepted_is_not_sent_again(
    wismo: Wismo, store_id: int
) -> None:
    """The provider took the message but the answer was lost (a timeout): the retry asks
    the provider first, finds it, and records it as sent without a second SMS."""
    order(wismo, store_id, consent={"email": False, "sms": True})
    accepted: list[Message] = []

    def lose_the_answer(m: Message) -> SendError | None:
        if not accepted:
            accepted.append(m)  # accepted at the provider, then the connection dropped
            return SendError("read timed out", provider_status="timeout")
        return None

    class Provider(FakeChannel):
        def lookup(self, message: Message, since: datetime) -> SendResult | None:
            """The provider's record, as Twilio's message list would show it."""
            keys = {a.idempotency_key for a in accepted}
            return SendResult("SM1", "accepted") if message.idempotency_key in keys else None

    sms = Provider(lose_the_answer)
    relay(wismo, sms=sms).run_once()
    assert rows(wismo)[0].status == "pending"
    wismo.clock.now = rows(wismo)[0].next_attempt_at  # type: ignore[attr-defined]
    report = relay(wismo, sms=sms).run_once()
    assert (report.sent, len(sms.sent)) == (1, 0)  # recorded, not sent a second time
    assert rows(wismo)[0].status == "sent"


def test_expired_lease_is_taken_over_and_provider_asked(wismo: Wismo, store_id: int) -> None:
    """A worker that died mid-send leaves `sending`; after the lease another worker asks
    the provider, finds the message, and records it without sending again."""
    order(wismo, store_id, consent={})
    store = SqlRelayStore(wismo.engine)
    [claimed] = store.claim("dead-worker", T0, 30, 10)
    email = FakeChannel()
    email.send(Message(claimed.idempotency_key, "email", claimed.recipient, "s", "t"))
    assert relay(wismo, email=email).run_once().claimed == 0  # lease still held
    wismo.clock.now = T0 + timedelta(seconds=31)  # type: ignore[attr-defined]
    report = relay(wismo, email=email).run_once()
    assert (report.sent, len(email.sent)) == (1, 1)
    assert rows(wismo)[0].status == "sent"


def test_takeover_after_the_commit_point_records_without_resending(
    wismo: Wismo, store_id: int
) -> None:
    """A worker that died after the SMTP server had the whole message left its mark: the
    next worker records it as sent and does not send it again. One that died before its
    mark is sent again (nothing was delivered)."""
    order(wismo, store_id, consent={})
    order(wismo, store_id, "1002", consent={})
    store = SqlRelayStore(wismo.engine)
    first, second = store.claim("dead-worker", T0, 30, 10)
    store.mark_committing(first.id, "dead-worker")
    store.mark_committing(second.id, "someone-else")  # not the holder: no effect
    email = FakeChannel()
    wismo.clock.now = T0 + timedelta(seconds=31)  # type: ignore[attr-defined]
    report = relay(wismo, email=email).run_once()
    assert report.sent == 2
    assert [m.idempotency_key for m in email.sent] == [second.idempotency_key]
    by_id = {r.id: r for r in rows(wismo)}
    assert by_id[first.id].status == "sent"
    assert by_id[second.id].status == "sent"
    history = [a for a in attempts(wismo) if a.notification_id == first.id]
    assert history[-1].provider_status == "assumed"


def test_sweeper_findings_become_messages_once(wismo: Wismo, store_id: int) -> None:
    """A parcel silent in transit for days: one "stuck" message, not one per sweep."""
    order(wismo, store_id, consent={})
    ingest(wismo, store_id, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    wismo.clock.now = T0 + timedelta(days=8)  # type: ignore[attr-defined]
    make_sweeper(wismo).sweep()
    wismo.clock.now += timedelta(hours=2)  # type: ignore[attr-defined]
    make_sweeper(wismo).sweep()
    stuck = [r for r in rows(wismo) if r.trigger == "stuck"]
    assert len(stuck) == 1


def test_store_rules_from_integration(wismo: Wismo, store_id: int) -> None:
    with wismo.engine.begin() as conn:
        conn.execute(
            integrations.insert().values(
                store_id=store_id,
                provider="notifications",
                account="acme",
                credentials={},
                settings={"triggers": ["delivered"], "channels": ["email"]},
                created_at=T0,
            )
        )
    order(wismo, store_id)
    ingest(wismo, store_id, tracking("delivered", T0 + timedelta(hours=1), shipment_ref="S1001"))
    assert triggers(wismo) == [("delivered", "email")]


def test_rate_limit_defers(wismo: Wismo, store_id: int) -> None:
    """Over the day's limit a message waits (held), it is not dropped."""
    order(wismo, store_id, consent={})
    with wismo.engine.begin() as conn:
        conn.execute(update(notifications).values(status="sent", sent_at=T0))
    for i in range(7):
        n = f"20{i}"
        order(wismo, store_id, n, consent={})
    email = FakeChannel()
    report = relay(wismo, email=email).run_once()
    assert (report.sent, report.deferred) == (5, 2)
    statuses: Sequence[str] = [r.status for r in rows(wismo)]
    assert statuses.count("held") == 2
    assert "suppressed" not in statuses


TOKEN = "twilio-token"
PUBLIC = "https://wismo.example"
BODIES = Path("/work/shared/data/twilio/courier_twilio_webhook_form_payloads.json")


@pytest.fixture
def client(wismo: Wismo) -> Iterator[TestClient]:
    wismo.settings = dataclasses.replace(wismo.settings, twilio_auth_token=TOKEN, public_url=PUBLIC)
    with TestClient(create_app(wismo)) as c:
        yield c


def signed_post(client: TestClient, path: str, form: dict[str, str], good: bool = True) -> object:
    sig = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(
        path,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sig if good else "bm9wZQ==",
        },
    )


def inbound(body: str, phone: str = "+14155550100") -> dict[str, str]:
    """A real inbound SMS webhook body (shared/data/twilio) with our words in it."""
    params: dict[str, str] = json.loads(BODIES.read_text())["receiveValid"]["params"]
    return {**params, "Body": body, "From": phone}


def test_stop_start_help(client: TestClient, wismo: Wismo, store_id: int) -> None:
    """STOP suppresses what is queued and stops planning; START undoes it; HELP answers."""
    order(wismo, store_id)
    bad = signed_post(client, "/webhooks/twilio/inbound", inbound("STOP"), good=False)
    assert bad.status_code == 403  # type: ignore[attr-defined]
    r = signed_post(client, "/webhooks/twilio/inbound", inbound("STOP"))
    assert r.status_code == 200  # type: ignore[attr-defined]
    assert {x.status for x in rows(wismo) if x.channel == "sms"} == {"suppressed"}
    ingest(wismo, store_id, tracking("in_transit", T0, shipment_ref="S1001"))
    assert [x.channel for x in rows(wismo) if x.trigger == "shipped"] == ["email"]
    signed_post(client, "/webhooks/twilio/inbound", inbound("start"))
    assert not SqlRelayStore(wismo.engine).opted_out(store_id, "sms", "+14155550100")
    helped = signed_post(client, "/webhooks/twilio/inbound", inbound("HELP"))
    assert "<Message>" in helped.text  # type: ignore[attr-defined]


def test_status_callback_recorded(client: TestClient, wismo: Wismo, store_id: int) -> None:
    order(wismo, store_id, consent={"email": False, "sms": True})
    make_relay(wismo, channels={"sms": FakeChannel()}).run_once()
    sid = rows(wismo)[0].provider_message_id
    r = signed_post(
        client, "/webhooks/twilio/status", {"MessageSid": sid, "MessageStatus": "undelivered"}
    )
    assert r.status_code == 204  # type: ignore[attr-defined]
    assert rows(wismo)[0].status == "failed"
    with wismo.engine.connect() as conn:
        reports = conn.execute(
            select(notification_attempts.c.provider_status).where(
                notification_attempts.c.outcome == "report"
            )
        ).scalars()
        assert list(reports) == ["undelivered"]
    garbage = client.post(
        "/webhooks/twilio/status", content=b"\xff\xfe", headers={"X-Twilio-Signature": "x"}
    )
    assert garbage.status_code == 400


def test_unsubscribe_one_click(client: TestClient, wismo: Wismo, store_id: int) -> None:
    """GET shows a confirm page and changes nothing; the RFC 8058 POST unsubscribes."""
    order(wismo, store_id, consent={})
    email = FakeChannel()
    make_relay(wismo, channels={"email": email}).run_once()
    link = email.sent[0].headers["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200
    assert "<form" in page.text
    assert not SqlRelayStore(wismo.engine).opted_out(store_id, "email", "ada@example.com")
    done = client.post(path, content="List-Unsubscribe=One-Click")
    assert done.status_code == 200
    assert SqlRelayStore(wismo.engine).opted_out(store_id, "email", "ada@example.com")
    assert client.get(path[:-3] + "abc").status_code == 404  # altered token
    assert client.post("/notifications/unsubscribe?t=1.2.x").status_code == 404


def test_cli_list(wismo: Wismo, store_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WISMO_DATABASE_URL", wismo.settings.database_url)
    order(wismo, store_id, consent={})
    make_relay(wismo, channels={"email": FakeChannel()}).run_once()
    result = CliRunner().invoke(cli, ["notifications", "list", "--order", "1001"])
    assert result.exit_code == 0, result.output
    assert "order_confirmed" in result.output
    assert "attempt 1 sent" in result.output
    with wismo.engine.connect() as conn:
        assert conn.execute(select(notifications.c.status)).scalars().all() == ["sent"]


def test_two_relays_never_send_the_same_notification(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Concurrent relays (PostgreSQL: SKIP LOCKED; SQLite: BEGIN IMMEDIATE) take disjoint
    notifications; every one is sent exactly once."""
    clock.now = T0 + timedelta(hours=2)  # 09:00 in New York, the store's zone: not quiet
    # One customer each: the rate limit is per recipient.
    events = [
        order_created(f"9{i:03}", placed_at=T0, email=f"c{i}@example.com") for i in range(120)
    ]
    ingest(wismo, store_id, *events)
    email = FakeChannel()
    relays = [
        make_relay(wismo, worker=f"w{i}", channels={"email": email}, batch_size=7) for i in range(3)
    ]
    threads = [threading.Thread(target=r.run_once) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [m.idempotency_key for m in email.sent]
    assert len(keys) == 120
    assert len(set(keys)) == 120
    with wismo.engine.connect() as conn:
        workers = set(conn.execute(select(notifications.c.claimed_by)).scalars())
    assert {r.status for r in rows(wismo)} == {"sent"}
    assert len(workers) >= 2
