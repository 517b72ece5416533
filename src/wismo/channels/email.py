"""Email over SMTP (stdlib `smtplib`): HTML and plain-text parts, RFC 8058 one-click
unsubscribe headers, a Message-ID derived from the idempotency key.

SMTP servers do not deduplicate on Message-ID, and SMTP cannot be asked afterwards whether
a message was accepted, so `lookup` answers None and a send interrupted by a crash is sent
again (docs/notifications.md). One connection is kept open across messages; it is
re-opened after any error.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import smtplib
import socket
from datetime import datetime
from email.header import Header
from email.utils import formatdate

from wismo.services.notify import Message, SendError, SendResult

_MAX_LINE = 78  # RFC 5322's recommended line length; headers are folded past it


def message_id(idempotency_key: str, domain: str) -> str:
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


class SmtpChannel:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout_seconds
        self._domain = sender.rpartition("@")[2] or "wismo.invalid"
        self._conn: smtplib.SMTP | None = None

    def build(self, message: Message) -> bytes:
        """The message as sent: multipart/alternative with base64 UTF-8 text and HTML parts,
        CRLF line ends. Written out directly: the stdlib's MIME classes cost 0.9 ms a message
        (the `email.policy` API 6 ms), more than the SMTP exchange itself."""
        headers = [
            ("From", self._sender),
            ("To", message.recipient),
            ("Subject", message.subject),
            ("Date", formatdate(localtime=False)),
            ("Message-ID", message_id(message.idempotency_key, self._domain)),
            ("X-Wismo-Idempotency-Key", message.idempotency_key),
            *message.headers.items(),
        ]
        # "=_" never occurs in base64, so the boundary cannot collide with a part's body.
        boundary = f"=_wismo_{secrets.token_hex(12)}"
        lines = [_header_line(name, value) for name, value in headers]
        lines += [
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
            "",
        ]
        parts = [("plain", message.text)]
        if message.html is not None:
            parts.append(("html", message.html))
        head = "\r\n".join(lines).encode("ascii")
        out = [head]
        for subtype, body in parts:
            out.append(
                f"\r\n--{boundary}\r\n"
                f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii")
            )
            out.append(base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n"))
        out.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
        return b"".join(out)

    def send(self, message: Message) -> SendResult:
        data = _dot_stuffed(self.build(message))
        try:
            conn = self._connect()
            conn.ehlo_or_helo_if_needed()
            code, text = conn.mail(self._sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, self._sender)
            code, text = conn.rcpt(message.recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({message.recipient: (code, text)})
            code, text = conn.docmd("data")
            if code != 354:
                raise smtplib.SMTPDataError(code, text)
            # Everything but the final "." goes first: a connection that ends before it
            # delivers nothing (RFC 5321 4.1.1.4). Only then is the point of no return
            # recorded, and only then is the message completed, so a worker that dies
            # before the record is sent again and one that dies after it is not.
            if message.commit_point is None:
                data += b".\r\n"  # nothing to record: the body and its end in one write
            conn.send(data)
            if message.commit_point is not None:
                try:
                    message.commit_point()
                except Exception as exc:
                    self._drop()  # abandons the transaction: nothing is delivered
                    raise SendError(
                        f"could not record the send: {exc}", provider_status="not_sent"
                    ) from None
                conn.send(b".\r\n")
            code, text = conn.getreply()
            if code != 250:
                raise smtplib.SMTPDataError(code, text)
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            code, text = next(iter(exc.recipients.values()), (0, b""))
            raise _error(code, text) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _error(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise SendError(f"SMTP unreachable: {exc}", provider_status="connection") from None
        return SendResult(message_id(message.idempotency_key, self._domain), "250")

    def lookup(self, message: Message, since: datetime) -> SendResult | None:
        return None  # SMTP has no way to ask

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
        self._conn = None

    def _connect(self) -> smtplib.SMTP:
        if self._conn is None:
            conn = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            if conn.sock is not None:
                # The final "." goes out as its own small write after the body: with
                # Nagle's algorithm it would wait for the server's delayed ACK (40 ms).
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._starttls:
                conn.starttls()
            if self._username:
                conn.login(self._username, self._password or "")
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: leading dots doubled (RFC 5321 4.5.2), ending in CRLF, without
    the terminating "." line (the caller sends it at the point of no return)."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _header_line(name: str, value: str) -> str:
    """`Name: value`, RFC 2047-encoded only when it needs it, folded at spaces past 78
    characters; line breaks in a value are flattened (no header injection)."""
    value = " ".join(value.splitlines())
    if not value.isascii():
        return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    line = f"{name}: {value}"
    if len(line) <= _MAX_LINE:
        return line
    folded, rest = [], line
    # Never fold at the space after the colon: the value would start with a blank.
    start = len(name) + 2
    while len(rest) > _MAX_LINE:
        cut = rest.rfind(" ", start, _MAX_LINE)
        if cut <= 0:
            break  # nothing to fold at (a long URL): the 998-character limit still holds
        start = 1
        folded.append(rest[:cut])
        rest = rest[cut:]
    return "\r\n".join([*folded, rest])


def _error(code: int, text: bytes | str) -> SendError:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    # 5xx is permanent; 550/551/553 on a recipient is a hard bounce (no such mailbox).
    if 500 <= code < 600:
        return SendError(
            f"SMTP {code} {detail}",
            provider_status=str(code),
            address_dead=code in (550, 551, 553),
            permanent=True,
        )
    return SendError(f"SMTP {code} {detail}", provider_status=str(code))
