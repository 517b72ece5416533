"""The Web Push channel against a local push service speaking RFC 8030/8291/8292: VAPID
checked, the payload decrypted with the browser's key, each answer mapped to sent, retry,
permanent failure or a dead subscription."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from wismo.channels.push import (
    BODY_MAX_CHARS,
    TITLE_MAX_CHARS,
    WebPushChannel,
    generate_keys,
    load_vapid,
    public_key,
    push_message,
    valid_subscription_keys,
)
from wismo.channels.testing_push import (
    BrowserSubscription,
    PushService,
    VapidError,
    browser_subscription,
    verify_vapid,
)
from wismo.services.notify import Message, SendError
from wismo.services.ports import Claimed

SUBJECT = "mailto:support@acme.test"
PRIVATE, PUBLIC = generate_keys()


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushService() as s:
        yield s


def channel(*subs: BrowserSubscription, private: str = PRIVATE) -> WebPushChannel:
    keys = {s.endpoint: (s.p256dh, s.auth) for s in subs}
    return WebPushChannel(private, SUBJECT, keys.get, timeout_seconds=5)


def message(endpoint: str, **data: Any) -> Message:
    return Message(
        idempotency_key="s7:out_for_delivery:x:push:abc",
        channel="push",
        recipient=endpoint,
        subject="Out for delivery today",
        text="Your order 1001 is out for delivery.",
        headers={"TTL": "3600", "Urgency": "high", "Topic": "wismo-s7"},
        data={"title": "Out for delivery today", "url": "https://t.acme.test/t/abc", **data},
    )


def claimed(trigger: str = "out_for_delivery", shipment_id: int | None = 7) -> Claimed:
    return Claimed(
        id=1,
        store_id=1,
        order_id=3,
        shipment_id=shipment_id,
        trigger=trigger,
        channel="push",
        recipient="https://push.example.com/push/1",
        language="fr",
        template=trigger,
        payload={},
        idempotency_key="k",
        attempts=1,
        was_sending=False,
        order_number="1001",
        store_name="Acme",
        store_slug="acme",
        time_zone="Europe/Paris",
        milestone=None,
        order_cancelled=False,
        sent_last_day=0,
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_push_is_signed_encrypted_and_decrypted_by_the_service(service: PushService) -> None:
    """The service verifies the VAPID JWT (ES256, aud = its origin, exp < 24 h, sub) and
    decrypts the aes128gcm body with the browser's private key to the JSON we sent."""
    sub = service.subscribe(PUBLIC)
    result = channel(sub).send(message(sub.endpoint, tag="wismo-s7"))
    assert result.provider_status == "201"
    assert result.provider_message_id == f"{service.base_url}/message/1"
    [got] = service.received
    assert got.json() == {
        "title": "Out for delivery today",
        "url": "https://t.acme.test/t/abc",
        "tag": "wismo-s7",
    }
    assert got.claims["aud"] == service.base_url
    assert got.claims["sub"] == SUBJECT
    assert time.time() < got.claims["exp"] <= time.time() + 24 * 3600
    assert (got.ttl_seconds, got.urgency, got.topic) == (3600, "high", "wismo-s7")


def test_audience_follows_each_endpoint() -> None:
    """Two push services in a row: each JWT names its own origin (pywebpush fills `aud`
    into the claims it is given, so the channel gives a fresh dict each time)."""
    with PushService() as a, PushService() as b:
        sa, sb = a.subscribe(PUBLIC), b.subscribe(PUBLIC)
        ch = channel(sa, sb)
        ch.send(message(sa.endpoint))
        ch.send(message(sb.endpoint))
        assert a.received[0].claims["aud"] == a.base_url
        assert b.received[0].claims["aud"] == b.base_url


def test_service_refuses_a_key_the_subscription_was_not_made_with(service: PushService) -> None:
    """RFC 8292 4.2: another VAPID key than the subscription's is a 403: permanent, but
    not a dead subscription (the fault is ours)."""
    sub = service.subscribe(PUBLIC)
    other, _ = generate_keys()
    with pytest.raises(SendError) as err:
        channel(sub, private=other).send(message(sub.endpoint))
    assert err.value.provider_status == "403"
    assert err.value.permanent
    assert not err.value.address_dead
    assert service.received == []


def test_service_refuses_unsigned_and_untimed_requests(service: PushService) -> None:
    """No VAPID: 401; no TTL: 400; a body that is not aes128gcm: 415."""
    sub = service.subscribe()
    assert httpx.post(sub.endpoint, content=b"x", headers={"TTL": "60"}).status_code == 401
    vapid = load_vapid(PRIVATE)
    auth = vapid.sign({"sub": SUBJECT, "aud": service.base_url})
    assert httpx.post(sub.endpoint, content=b"x", headers=auth).status_code == 400
    plain = httpx.post(sub.endpoint, content=b"x", headers={**auth, "TTL": "60"})
    assert plain.status_code == 415
    assert [s for s, _ in service.refused] == [401, 400, 415]


def test_vapid_verification_rules() -> None:
    """The service's check: aud must be its origin, exp in the future and within 24 h,
    sub present, and the signature must verify with k."""
    vapid = load_vapid(PRIVATE)
    now = time.time()
    aud = "http://127.0.0.1:1"

    def header(**claims: Any) -> str:
        return str(vapid.sign({"sub": SUBJECT, "aud": aud, **claims})["Authorization"])

    claims, key = verify_vapid(header(exp=int(now) + 60), aud, now)
    assert (claims["sub"], key) == (SUBJECT, PUBLIC)
    for bad, reason in [
        (header(exp=int(now) + 60), "aud"),  # checked against another audience below
        (header(exp=int(now) - 1), "exp"),
        (header(exp=int(now) + 25 * 3600), "24 hours"),
    ]:
        with pytest.raises(VapidError, match=reason):
            verify_vapid(bad, "https://other.example" if reason == "aud" else aud, now)
    t = header(exp=int(now) + 60).split("t=")[1].split(",")[0]
    _, other = generate_keys()
    with pytest.raises(VapidError, match="signature"):
        verify_vapid(f"vapid t={t}, k={other}", aud, now)


@pytest.mark.parametrize("gone", ["expired", "unknown"])
def test_gone_subscription_is_dead(service: PushService, gone: str) -> None:
    """410 (unsubscribed, expired) and 404 (unknown) mean the subscription is dead."""
    sub = service.subscribe(PUBLIC)
    if gone == "expired":
        service.expire(sub)
    else:
        sub.endpoint += "-unknown"
    with pytest.raises(SendError) as err:
        channel(sub).send(message(sub.endpoint))
    assert err.value.provider_status == ("410" if gone == "expired" else "404")
    assert err.value.address_dead
    assert err.value.permanent


def test_throttled_and_server_errors_are_retried(service: PushService) -> None:
    """429 with Retry-After (seconds or an HTTP date) and 5xx are retryable."""
    sub = service.subscribe(PUBLIC)
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=300), usegmt=True)
    service.script += [(429, {"Retry-After": "120"}), (503, {"Retry-After": later}), (500, {})]
    ch = channel(sub)
    errors = []
    for _ in range(3):
        with pytest.raises(SendError) as err:
            ch.send(message(sub.endpoint))
        errors.append(err.value)
    assert [e.provider_status for e in errors] == ["429", "503", "500"]
    assert not any(e.permanent for e in errors)
    assert errors[0].retry_after_seconds == 120
    assert errors[1].retry_after_seconds is not None
    assert 250 < errors[1].retry_after_seconds <= 300
    assert errors[2].retry_after_seconds is None
    ch.send(message(sub.endpoint))
    assert len(service.received) == 1


@pytest.mark.parametrize("status", [400, 413])
def test_malformed_and_too_large_are_permanent(service: PushService, status: int) -> None:
    """400 and 413 will not get better by sending again; the subscription stays."""
    sub = service.subscribe(PUBLIC)
    service.script.append((status, {}))
    with pytest.raises(SendError) as err:
        channel(sub).send(message(sub.endpoint))
    assert err.value.permanent
    assert not err.value.address_dead


def test_unreachable_service_is_retried() -> None:
    """A push service that refuses connections: retry later."""
    with PushService() as s:
        sub = s.subscribe(PUBLIC)
    with pytest.raises(SendError) as err:
        channel(sub).send(message(sub.endpoint))
    assert err.value.provider_status == "connection"
    assert not err.value.permanent


def test_revoked_subscription_is_not_pushed_to(service: PushService) -> None:
    """No keys for the endpoint (revoked after planning): dead, and no request made."""
    sub = service.subscribe(PUBLIC)
    with pytest.raises(SendError) as err:
        channel().send(message(sub.endpoint))
    assert err.value.address_dead
    assert service.received == []
    assert service.refused == []


def test_lookup_cannot_ask_a_push_service(service: PushService) -> None:
    """Push services keep no list: after a takeover the relay sends again."""
    sub = service.subscribe(PUBLIC)
    assert channel(sub).lookup(message(sub.endpoint), datetime.now(UTC)) is None


def test_push_message_is_short_urgent_when_it_matters_and_one_per_parcel() -> None:
    """Title <= 50 and body <= 150 characters, the signed link to open, Urgency high for
    out for delivery and failed attempts, a Topic and tag per shipment (per order when
    there is none), a shorter TTL for same-day news."""
    m = push_message(claimed(), "T" * 80, "word " * 60, "https://t.acme.test/t/abc")
    assert len(m.subject) <= TITLE_MAX_CHARS
    assert m.subject.endswith("…")
    assert len(m.text) <= BODY_MAX_CHARS
    assert m.data == {
        "title": m.subject,
        "body": m.text,
        "url": "https://t.acme.test/t/abc",
        "tag": "wismo-s7",
        "lang": "fr",
    }
    assert m.headers == {"TTL": str(12 * 3600), "Urgency": "high", "Topic": "wismo-s7"}
    refund = push_message(claimed("refund_issued", None), "Refund", "Done.", "https://x/t/a")
    assert refund.headers == {"TTL": str(2 * 86400), "Urgency": "normal", "Topic": "wismo-o3"}
    assert refund.data["tag"] == "wismo-o3"


def test_vapid_key_loads_from_raw_pem_and_escaped_pem() -> None:
    """The private key may be base64url raw or PEM (with real or escaped newlines); the
    public key is derived the same; anything else is a ValueError naming the setting."""
    pem = load_vapid(PRIVATE).private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert public_key(load_vapid(pem.decode())) == PUBLIC
    assert public_key(load_vapid(pem.decode().replace("\n", "\\n"))) == PUBLIC
    assert public_key(Vapid.from_string(PRIVATE)) == PUBLIC
    with pytest.raises(ValueError, match="WISMO_VAPID_PRIVATE_KEY"):
        load_vapid("not a key")


def test_subscription_keys_are_checked() -> None:
    """p256dh must be a P-256 point (65 bytes), auth 16 bytes; the bad field is named."""
    sub = browser_subscription("https://push.example.com/1")
    assert valid_subscription_keys(sub.p256dh, sub.auth) is None
    assert valid_subscription_keys(sub.p256dh[:-4], sub.auth) == "p256dh"
    assert valid_subscription_keys("B" * 87, sub.auth) == "p256dh"  # 65 bytes, off the curve
    assert valid_subscription_keys(sub.p256dh, sub.auth + "AAAA") == "auth"
    assert valid_subscription_keys(sub.p256dh, "!!") == "auth"
    assert orjson.loads(orjson.dumps(sub.json()))["keys"] == {
        "p256dh": sub.p256dh,
        "auth": sub.auth,
    }
