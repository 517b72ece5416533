"""The email as written on the wire reads back, with a standard parser, as what was meant."""

from __future__ import annotations

import email
from email import policy

from wismo.channels.email import SmtpChannel
from wismo.services.notify import Message

LONG_URL = "https://shop.example/unsubscribe/" + "a" * 120


def _parse(raw: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_parts_headers_and_non_ascii_round_trip() -> None:
    """Both parts decode to the texts given; a non-ASCII subject and long headers survive."""
    channel = SmtpChannel("127.0.0.1", 25, "orders@acme.example")
    message = Message(
        "k1",
        "email",
        "ada@example.com",
        "Votre colis est en route : café & crème ✓",
        "Bonjour Ada,\nvotre commande n° 1042 arrive jeudi.",
        html="<p>Bonjour <b>Ada</b> — n° 1042</p>",
        headers={
            "List-Unsubscribe": f"<{LONG_URL}>, <mailto:unsub@acme.example?subject=k1>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    raw = channel.build(message)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, as SMTP wants
    parsed = _parse(raw)
    assert parsed["Subject"] == message.subject
    assert parsed["To"] == "ada@example.com"
    assert parsed["X-Wismo-Idempotency-Key"] == "k1"
    assert str(parsed["List-Unsubscribe"]) == message.headers["List-Unsubscribe"]
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == message.text
    assert html.get_content().replace("\r\n", "\n").rstrip("\n") == message.html


def test_a_line_break_in_a_header_value_cannot_add_a_header() -> None:
    """Order data in a subject cannot inject headers (e.g. a Bcc)."""
    channel = SmtpChannel("127.0.0.1", 25, "orders@acme.example")
    message = Message("k2", "email", "ada@example.com", "Hi\r\nBcc: evil@example.com", "x")
    parsed = _parse(channel.build(message))
    assert parsed["Bcc"] is None
    assert "evil@example.com" in str(parsed["Subject"])
