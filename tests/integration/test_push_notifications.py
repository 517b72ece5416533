"""Web Push end to end on both databases: a browser subscribes on the tracking page, a
tracking event plans a push, the relay signs and encrypts it for a local push service
that decrypts it; dead subscriptions are revoked, throttling is retried, bad
subscriptions are refused naming the field, and the page still works without JS."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from wismo.bootstrap import Wismo, bootstrap, make_relay
from wismo.channels.push import generate_keys
from wismo.channels.testing_push import BrowserSubscription, PushService, browser_subscription
from wismo.config import Settings
from wismo.domain.notify import NotifyChannel, Recipient, StoreRules, Trigger, plan
from wismo.storage import push as push_db
from wismo.storage import stores
from wismo.storage.tables import integrations, notifications, orders, push_subscriptions
from wismo.testing import FakeClock, encode, envelope, order_created, shipment_created, tracking
from wismo.web.app import create_app
from wismo.web.page_routes import HEADERS
from wismo.web.push_routes import endpoint_problem

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # the FakeClock's start: 13:00 in Paris
PRIVATE, PUBLIC = generate_keys()
PUBLIC_URL = "https://track.acme.test"


@pytest.fixture
def pw(database_url: str, clock: FakeClock) -> Iterator[Wismo]:
    """A Wismo with Web Push configured (http endpoints allowed: the push service is local)."""
    settings = Settings(
        database_url=database_url,
        public_url=PUBLIC_URL,
        vapid_private_key=PRIVATE,
        vapid_subject="mailto:support@acme.test",
        push_allow_insecure=True,
    )
    w = bootstrap(settings, clock=clock, migrate=False)
    yield w
    w.close()


@pytest.fixture
def store(pw: Wismo) -> int:
    with pw.engine.begin() as conn:
        return stores.create_store(conn, "acme", "Acme", "US", "America/New_York")


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushService() as s:
        yield s


@pytest.fixture
def client(pw: Wismo) -> Iterator[TestClient]:
    with TestClient(create_app(pw)) as c:
        yield c


def ingest(w: Wismo, store_id: int, *events: dict[str, Any]) -> None:
    results = w.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results


def order(w: Wismo, store_id: int, number: str = "1001") -> int:
    """An order whose customer (in Paris, French) said no to email and SMS: push only."""
    ingest(
        w,
        store_id,
        envelope(
            "customer.upserted",
            {
                "external_id": "c-1",
                "emails": ["ada@example.com"],
                "consent": {"email": False, "sms": False},
                "time_zone": "Europe/Paris",
                "language": "fr",
            },
        ),
        order_created(number, placed_at=T0, customer_external_id="c-1"),
        shipment_created(number, f"S{number}", created_at=T0),
    )
    with w.engine.connect() as conn:
        return int(
            conn.execute(
                select(orders.c.id).where(
                    orders.c.store_id == store_id, orders.c.order_number == number
                )
            ).scalar_one()
        )


def link(w: Wismo, store_id: int, order_id: int) -> str:
    return w.links.sign_order_link(store_id, order_id, T0 + timedelta(days=30))


def subscribe(client: TestClient, path: str, sub: BrowserSubscription, **extra: Any) -> Any:
    return client.post(f"{path}/push", json={**sub.json(), **extra})


def pushes(w: Wismo) -> list[Any]:
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                select(notifications)
                .where(notifications.c.channel == "push")
                .order_by(notifications.c.id)
            ).all()
        )


def test_planned_push_reaches_the_browser_with_the_signed_link(
    pw: Wismo, store: int, service: PushService, client: TestClient, clock: FakeClock
) -> None:
    """Subscribe on the page, "out for delivery" arrives: one push planned, sent by the
    relay, decrypted by the push service with the order's signed link, urgent, one topic
    per parcel; the link opens the order."""
    order_id = order(pw, store)
    path = link(pw, store, order_id)
    sub = service.subscribe(PUBLIC)
    resp = subscribe(client, path, sub, language="fr-FR")
    assert resp.status_code == 201, resp.text
    ingest(pw, store, tracking("out_for_delivery", T0 + timedelta(hours=1), shipment_ref="S1001"))
    [row] = pushes(pw)
    assert (row.trigger, row.recipient, row.status) == ("out_for_delivery", sub.endpoint, "pending")
    report = make_relay(pw).run_once()
    assert report.sent == 1, report
    [got] = service.received
    body = got.json()
    assert body["title"] == "En cours de livraison"
    assert body["body"] == "Votre commande 1001 est en cours de livraison."
    assert body["url"].startswith(PUBLIC_URL + "/t/")
    assert body["tag"] == got.topic == f"wismo-s{row.shipment_id}"
    assert got.urgency == "high"
    assert got.claims["aud"] == service.base_url
    [sent] = pushes(pw)
    assert sent.status == "sent"
    assert sent.provider_message_id == got.location
    page = client.get(body["url"].removeprefix(PUBLIC_URL))
    assert page.status_code == 200
    assert "1001" in page.text


def test_two_browsers_get_one_push_each(
    pw: Wismo, store: int, service: PushService, client: TestClient
) -> None:
    """Each subscribed browser is its own message, with its own idempotency key;
    subscribing the same browser twice keeps one subscription."""
    order_id = order(pw, store)
    path = link(pw, store, order_id)
    a, b = service.subscribe(PUBLIC), service.subscribe(PUBLIC)
    for sub in (a, b, a):
        assert subscribe(client, path, sub).status_code == 201
    with pw.engine.connect() as conn:
        assert len(push_db.listed(conn, store, order_id)) == 2
    ingest(pw, store, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    rows = pushes(pw)
    assert sorted(r.recipient for r in rows) == sorted([a.endpoint, b.endpoint])
    assert len({r.idempotency_key for r in rows}) == 2
    make_relay(pw).run_once()
    assert sorted(r.subscription_id for r in service.received) == ["sub1", "sub2"]


def test_gone_subscription_is_revoked_and_not_planned_again(
    pw: Wismo, store: int, service: PushService, client: TestClient
) -> None:
    """A 410 fails the message, revokes the subscription and suppresses what is queued
    for it; the next event plans no push to it."""
    order_id = order(pw, store)
    sub = service.subscribe(PUBLIC)
    assert subscribe(client, link(pw, store, order_id), sub).status_code == 201
    ingest(pw, store, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    service.expire(sub)
    report = make_relay(pw).run_once()
    assert (report.sent, report.failed) == (0, 1)
    [failed] = pushes(pw)
    assert failed.status == "failed"
    assert "410" in (failed.last_error or "")
    with pw.engine.connect() as conn:
        [revoked] = push_db.listed(conn, store, order_id)
        assert revoked.revoked_at is not None
        assert push_db.active_endpoints(conn, [order_id]) == {}
    ingest(pw, store, tracking("out_for_delivery", T0 + timedelta(hours=2), shipment_ref="S1001"))
    assert len(pushes(pw)) == 1


def test_throttled_push_is_retried_after_retry_after(
    pw: Wismo, store: int, service: PushService, client: TestClient, clock: FakeClock
) -> None:
    """A 429 with Retry-After: 120 keeps the message pending, due no earlier than asked;
    the next pass after that sends it."""
    order_id = order(pw, store)
    sub = service.subscribe(PUBLIC)
    assert subscribe(client, link(pw, store, order_id), sub).status_code == 201
    ingest(pw, store, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    service.script.append((429, {"Retry-After": "120"}))
    assert make_relay(pw).run_once().retried == 1
    [row] = pushes(pw)
    assert row.status == "pending"
    assert row.next_attempt_at >= clock.now + timedelta(seconds=120)
    assert make_relay(pw).run_once().claimed == 0  # not due yet
    clock.advance(seconds=row.next_attempt_at.timestamp() - clock.now.timestamp() + 1)
    assert make_relay(pw).run_once().sent == 1
    assert len(service.received) == 1


def test_turning_push_off_revokes_and_suppresses(
    pw: Wismo, store: int, service: PushService, client: TestClient
) -> None:
    """DELETE turns this order's push off in that browser: what is queued is suppressed
    and the next event plans nothing for it."""
    order_id = order(pw, store)
    path = link(pw, store, order_id)
    sub = service.subscribe(PUBLIC)
    assert subscribe(client, path, sub).status_code == 201
    ingest(pw, store, tracking("in_transit", T0 + timedelta(hours=1), shipment_ref="S1001"))
    resp = client.request("DELETE", f"{path}/push", json={"endpoint": sub.endpoint})
    assert resp.status_code == 204
    assert [r.status for r in pushes(pw)] == ["suppressed"]
    ingest(pw, store, tracking("out_for_delivery", T0 + timedelta(hours=2), shipment_ref="S1001"))
    assert len(pushes(pw)) == 1
    assert make_relay(pw).run_once().sent == 0
    assert service.received == []


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"endpoint": None}, ["endpoint"]),
        ({"endpoint": "ftp://push.example.com/1"}, ["endpoint"]),
        ({"endpoint": "https://" + "a" * 2000 + ".com/"}, ["endpoint"]),
        ({"keys": None}, ["keys"]),
        ({"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, ["keys", "p256dh"]),
        ({"keys": {"p256dh": "BBBB", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, ["keys", "p256dh"]),
        ({"keys": "p256dh"}, ["keys"]),
        ({"language": 7}, ["language"]),
    ],
)
def test_bad_subscription_is_422_naming_the_field(
    pw: Wismo, store: int, client: TestClient, change: dict[str, Any], loc: list[str]
) -> None:
    """Each bad part of the subscription JSON is refused with its field named."""
    order_id = order(pw, store)
    sub = browser_subscription("https://push.example.com/1")
    resp = client.post(f"{link(pw, store, order_id)}/push", json={**sub.json(), **change})
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == loc


def test_wrong_auth_length_and_bad_bodies(pw: Wismo, store: int, client: TestClient) -> None:
    """auth of the wrong length names keys.auth; a body that is not JSON is a 422, one
    that is not declared JSON a 415, an altered link a 404."""
    order_id = order(pw, store)
    path = link(pw, store, order_id)
    sub = browser_subscription("https://push.example.com/1")
    body = sub.json()
    body["keys"]["auth"] = body["keys"]["auth"] + "AAAA"
    resp = client.post(f"{path}/push", json=body)
    assert (resp.status_code, resp.json()["detail"][0]["loc"]) == (422, ["keys", "auth"])
    resp = client.post(
        f"{path}/push", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422
    assert client.post(f"{path}/push", content=b"endpoint=x").status_code == 415
    altered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.post(f"{altered}/push", json=sub.json()).status_code == 404


def test_endpoints_must_be_public_https() -> None:
    """Outside tests an endpoint is https on a public host name: no IP literals, no
    local names, no credentials (the relay POSTs to it)."""
    ok = "https://fcm.googleapis.com/fcm/send/abc"
    assert endpoint_problem(ok, allow_insecure=False) is None
    for bad in (
        "http://fcm.googleapis.com/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://10.0.0.7/x",
        "https://localhost/x",
        "https://push.internal/x",
        "https://user:pw@push.example.com/x",
        "https://push.example.com:99999/x",
    ):
        assert endpoint_problem(bad, allow_insecure=False) is not None, bad
    assert endpoint_problem("http://127.0.0.1:8/push/1", allow_insecure=True) is None


def test_page_offers_push_only_with_javascript(pw: Wismo, store: int, client: TestClient) -> None:
    """With push configured the order page carries a hidden opt-in block and its own
    script (CSP opened to 'self' only); the preferences form still works without JS; the
    worker, the script and the public key are served from our origin."""
    order_id = order(pw, store)
    path = link(pw, store, order_id)
    resp = client.get(path)
    assert resp.status_code == 200
    html = resp.text
    assert '<div id="push" hidden' in html
    assert f'data-key="{PUBLIC}"' in html
    assert f'data-action="{path}/push"' in html
    assert '<script src="/static/push.js" defer></script>' in html
    assert "Activer les notifications" in html  # the customer's language
    assert 'name="email"' in html  # the no-JS preferences form is still there
    assert len(html.encode()) < 100_000
    csp = resp.headers["Content-Security-Policy"]
    assert csp == (
        HEADERS["Content-Security-Policy"]
        + "; script-src 'self'; connect-src 'self'; worker-src 'self'"
    )
    saved = client.post(f"{path}/preferences", data={"email": "1"}, follow_redirects=False)
    assert saved.status_code == 303
    sw = client.get("/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert "notificationclick" in sw.text
    assert "openWindow" in sw.text
    script = client.get("/static/push.js")
    assert script.status_code == 200
    assert "PushManager" in script.text
    assert client.get("/push/vapid-public-key").json() == {"public_key": PUBLIC}


def test_no_push_offer_without_vapid_or_when_the_store_turned_it_off(
    wismo: Wismo, store_id: int, pw: Wismo, client: TestClient
) -> None:
    """Without VAPID settings the page offers no push (only the chat widget's own script,
    and no service worker); a store whose channels leave push out offers none and refuses
    subscriptions."""
    order_id = order(wismo, store_id)
    path = link(wismo, store_id, order_id)
    with TestClient(create_app(wismo)) as plain:
        resp = plain.get(path)
        assert resp.status_code == 200
        assert "push.js" not in resp.text
        assert 'id="push"' not in resp.text
        assert "worker-src" not in resp.headers["Content-Security-Policy"]
        assert plain.get("/push/vapid-public-key").status_code == 404
    with pw.engine.begin() as conn:
        conn.execute(
            integrations.insert().values(
                store_id=store_id,
                provider="notifications",
                account="acme",
                credentials={},
                settings={"channels": ["email", "sms"]},
                created_at=T0,
            )
        )
    resp = client.get(path)
    assert 'id="push"' not in resp.text
    sub = browser_subscription("https://push.example.com/1")
    assert client.post(f"{path}/push", json=sub.json()).status_code == 404


def test_push_is_held_in_quiet_hours_and_goes_besides_the_chosen_channel() -> None:
    """Push follows quiet hours like SMS; it is planned besides a preferred channel, one
    message per subscribed endpoint, and skipped when the store lists no push."""
    night = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    who = Recipient(
        email="ada@example.com",
        phone=None,
        language="fr",
        time_zone="Europe/Paris",
        consent={},
        preferred="email",
        push_endpoints=("https://push.example.com/a", "https://push.example.com/b"),
    )
    got = plan(Trigger.SHIPPED, StoreRules(), who, store_zone="UTC", now=night)
    assert [(p.channel, p.status) for p in got] == [
        (NotifyChannel.EMAIL, "held"),
        (NotifyChannel.PUSH, "held"),
        (NotifyChannel.PUSH, "held"),
    ]
    assert got[1].not_before == datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    rules = dataclasses.replace(StoreRules(), channels=(NotifyChannel.EMAIL,))
    assert [p.channel for p in plan(Trigger.SHIPPED, rules, who, store_zone="UTC", now=night)] == [
        NotifyChannel.EMAIL
    ]


def test_subscriptions_per_order_are_capped(pw: Wismo, store: int, client: TestClient) -> None:
    """A shared link cannot register browsers without end: past the cap, 409."""
    order_id = order(pw, store)
    path = link(pw, store, order_id)
    for i in range(push_db.MAX_PER_ORDER):
        sub = browser_subscription(f"https://push.example.com/{i}")
        assert client.post(f"{path}/push", json=sub.json()).status_code == 201
    extra = browser_subscription("https://push.example.com/extra")
    assert client.post(f"{path}/push", json=extra.json()).status_code == 409
    with pw.engine.connect() as conn:
        count = conn.execute(select(push_subscriptions.c.id)).all()
    assert len(count) == push_db.MAX_PER_ORDER
