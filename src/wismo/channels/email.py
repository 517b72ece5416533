"""Email over SMTP (stdlib `smtplib`): HTML and plain-text parts, RFC 8058 one-click
unsubscribe headers, a Message-ID derived from the idempotency key.

SMTP servers do not deduplicate on Message-ID, and SMTP cannot be asked afterwards whether
a message was accepted, so `lookup` answers None and a send interrupted by a crash is sent
again (docs/notifications.md). One connection is kept open across messages; it is
re-opened after any error.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
from datetime import datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate

from wismo.services.notify import Message, SendError, SendResult

_SMTP_COMPAT = compat32.clone(linesep="\r\n")


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
        """The message as sent. Built with the compat32 MIME classes: the `email.policy`
        API parses every header it is given and cost 6 ms a message, more than the send."""
        mail = MIMEMultipart("alternative")
        mail["From"] = self._sender
        mail["To"] = message.recipient
        mail["Subject"] = _header(message.subject)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message.idempotency_key, self._domain)
        mail["X-Wismo-Idempotency-Key"] = message.idempotency_key
        for name, value in message.headers.items():
            mail[name] = value
        mail.attach(MIMEText(message.text, "plain", "utf-8"))
        if message.html is not None:
            mail.attach(MIMEText(message.html, "html", "utf-8"))
        # SMTP wants CRLF; smtplib fixes line ends of str messages only, not of bytes.
        return mail.as_bytes(policy=_SMTP_COMPAT)

    def send(self, message: Message) -> SendResult:
        data = self.build(message)
        try:
            conn = self._connect()
            refused = conn.sendmail(self._sender, [message.recipient], data)
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
        if refused:
            code, text = next(iter(refused.values()))
            raise _error(code, text)
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


def _header(value: str) -> str:
    """RFC 2047-encode a header only when it needs it."""
    return value if value.isascii() else Header(value, "utf-8").encode()


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
