"""Channels against local servers speaking the providers' wire formats."""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wismo.channels.email import SmtpChannel
from wismo.channels.render import TemplateRenderer
from wismo.channels.sms import TwilioSmsChannel, keyword, valid_signature
from wismo.channels.testing import SmtpSink, TwilioSink, free_port
from wismo.channels.webhook import WebhookChannel, signature
from wismo.services.notify import Message, SendError
from wismo.services.ports import Claimed


def claimed(**kw: Any) -> Claimed:
    base: dict[str, Any] = {
        "id": 7,
        "store_id": 1,
        "order_id": 3,
        "shipment_id": 5,
        "trigger": "delayed",
        "channel": "email",
        "recipient": "ada@example.com",
        "language": "es",
        "template": "delayed",
        "payload": {"estimate_on": "2026-12-03"},
        "idempotency_key": "s5:delayed:k:email",
        "attempts": 1,
        "was_sending": False,
        "order_number": "<b>1001</b>",
        "store_name": "Acme <script>alert(1)</script>",
        "store_slug": "acme",
        "time_zone": "Europe/Madrid",
        "milestone": "in_transit",
        "order_cancelled": False,
        "sent_last_day": 0,
        "created_at": datetime(2026, 11, 28, tzinfo=UTC),
    }
    base.update(kw)
    return Claimed(**base)


RENDER = TemplateRenderer("https://track.example", lambda n: "/t/TOKEN", lambda n: "/u?t=1")


def test_email_over_real_smtp_with_escaped_html() -> None:
    """HTML and text parts, one-click unsubscribe headers, Message-ID from the key; order
    data is escaped in HTML; dates in Spanish."""
    with SmtpSink() as sink:
        channel = SmtpChannel("127.0.0.1", sink.port, "news@acme.example")
        result = channel.send(RENDER(claimed()))
        channel.close()
    [mail] = sink.messages
    assert mail["Subject"] == "Pedido <b>1001</b> retrasado"
    assert mail["List-Unsubscribe"] == "<https://track.example/u?t=1>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Message-ID"] == result.provider_message_id
    parts = {
        p.get_content_type(): bytes(p.get_payload(decode=True)).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    html = parts["text/html"]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;1001&lt;/b&gt;" in html
    assert "jueves, 3 de diciembre de 2026" in parts["text/plain"]


def test_email_hard_bounce_is_permanent() -> None:
    with SmtpSink() as sink:
        sink.bounce.add("gone@example.com")
        channel = SmtpChannel("127.0.0.1", sink.port, "news@acme.example")
        with pytest.raises(SendError) as err:
            channel.send(RENDER(claimed(recipient="gone@example.com")))
    assert err.value.address_dead
    assert err.value.provider_status == "550"


def test_email_commit_point_comes_before_delivery() -> None:
    """The relay's mark is taken while the server does not yet have the message (the final
    "." is not sent); when the mark cannot be taken nothing is delivered. Lines starting
    with a dot arrive intact."""
    with SmtpSink() as sink:
        channel = SmtpChannel("127.0.0.1", sink.port, "news@acme.example")
        seen_at_mark: list[int] = []
        base = Message("k-dot", "email", "ada@example.com", "s", ".hidden?\n..two\nend")
        channel.send(replace(base, commit_point=lambda: seen_at_mark.append(len(sink.keys()))))

        def fail() -> None:
            raise OSError("database gone")

        with pytest.raises(SendError) as err:
            channel.send(replace(base, idempotency_key="k-failed", commit_point=fail))
        channel.send(replace(base, idempotency_key="k-after"))  # the channel recovers
        channel.close()
        keys = sink.keys()
    assert seen_at_mark == [0]
    assert not err.value.permanent
    assert keys == {"k-dot": 1, "k-after": 1}
    [first, _] = sink.messages
    plain = next(p for p in first.walk() if p.get_content_type() == "text/plain")
    assert bytes(plain.get_payload(decode=True)).decode() == ".hidden?\n..two\nend"


def test_email_server_down_is_retryable() -> None:
    channel = SmtpChannel("127.0.0.1", free_port(), "news@acme.example", timeout_seconds=1)
    with pytest.raises(SendError) as err:
        channel.send(RENDER(claimed()))
    assert not err.value.permanent


def sms(sink: TwilioSink, timeout: float = 5.0) -> TwilioSmsChannel:
    return TwilioSmsChannel(
        sink.account_sid,
        sink.auth_token,
        "+15005550006",
        base_url=sink.base_url,
        timeout_seconds=timeout,
    )


def sms_message() -> Message:
    return RENDER(claimed(channel="sms", recipient="+14155550100", language="en"))


def test_sms_through_the_twilio_sdk() -> None:
    with TwilioSink() as sink:
        result = sms(sink).send(sms_message())
    [m] = sink.messages
    assert result.provider_message_id == m.sid
    assert m.to == "+14155550100"
    assert m.body.startswith("Acme <script>alert(1)</script>: Your order")


@pytest.mark.parametrize(
    ("status", "code", "headers", "permanent", "dead", "retry_after"),
    [
        (500, 20500, {}, False, False, None),
        (429, 20429, {"Retry-After": "30"}, False, False, 30.0),
        (400, 21211, {}, True, True, None),  # invalid 'To' number
        (400, 21610, {}, True, True, None),  # the recipient sent STOP
        (400, 21602, {}, True, False, None),  # message body required: our bug, no retry
    ],
)
def test_sms_errors(  # noqa: PLR0917 - parametrized cases
    status: int,
    code: int,
    headers: dict[str, str],
    permanent: bool,
    dead: bool,
    retry_after: float | None,
) -> None:
    with TwilioSink() as sink:
        sink.script.append((status, code, headers, 0))
        with pytest.raises(SendError) as err:
            sms(sink).send(sms_message())
    assert (err.value.permanent, err.value.address_dead) == (permanent, dead)
    assert err.value.retry_after_seconds == retry_after


def test_sms_timeout_is_retryable() -> None:
    with TwilioSink() as sink:
        sink.script.append((201, None, {}, 1.5))
        with pytest.raises(SendError) as err:
            sms(sink, timeout=0.5).send(sms_message())
    assert not err.value.permanent


def test_sms_lookup_finds_a_sent_message() -> None:
    """After a crash mid-send, the provider is asked before sending again."""
    with TwilioSink() as sink:
        channel = sms(sink)
        message = sms_message()
        assert channel.lookup(message, datetime(2026, 1, 1, tzinfo=UTC)) is None
        sent = channel.send(message)
        found = channel.lookup(message, datetime(2026, 1, 1, tzinfo=UTC))
    assert found is not None
    assert found.provider_message_id == sent.provider_message_id


def test_twilio_signature_test_vector() -> None:
    """Twilio's own test vector (shared/data/README.md)."""
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert valid_signature("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not valid_signature(
        "12345", url, {**params, "Digits": "1"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "stop"),
        (" stop ", "stop"),
        ("Unsubscribe", "stop"),
        ("START", "start"),
        ("help", "help"),
        ("Stop sending me the mug", None),
    ],
)
def test_keywords(body: str, expected: str | None) -> None:
    assert keyword(body) == expected


def test_signed_webhook() -> None:
    """Event id header = idempotency key; the signature verifies with the secret."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(503 if len(got) == 1 else 200)
            self.send_header("Retry-After", "5")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        message = RENDER(claimed(channel="webhook", recipient=url))
        channel = WebhookChannel("whsec")
        with pytest.raises(SendError) as err:
            channel.send(message)
        assert err.value.retry_after_seconds == 5.0
        channel.send(message)
    finally:
        server.shutdown()
    headers, body = got[1]
    assert headers["Wismo-Event-Id"] == "s5:delayed:k:email"
    t = int(headers["Wismo-Signature"].split(",")[0][2:])
    assert headers["Wismo-Signature"] == signature("whsec", t, body)
    mac = hmac.new(b"whsec", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["Wismo-Signature"].endswith(mac)
