"""Local servers that speak the providers' wire formats, for tests and the bench (needs
the `dev` extra: aiosmtpd). Shipped in the package, like `wismo.testing`.

- `SmtpSink`: a real SMTP server (aiosmtpd) keeping every message it accepted.
- `TwilioSink`: Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
  form-encoded, HTTP basic auth, Twilio's JSON answers and error bodies), plus the list
  call the SMS channel's `lookup` uses. Scripted failures test retries.
"""

from __future__ import annotations

import base64
import email
import itertools
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message as MailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self._sink.bounce:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._sink.accept(bytes(envelope.content))
        return "250 Message accepted for delivery"


# The idempotency key header, unfolded by `SmtpSink.accept` (matched in the header block).
_KEY_HEADER = re.compile(rb"^x-wismo-idempotency-key:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


class SmtpSink:
    """A real SMTP server on 127.0.0.1; `bounce` addresses get a 550 at RCPT.

    It keeps each message as received and parses it when `messages` is read: parsing every
    arrival (each multipart boundary compiles a new regular expression in `email`) cost
    more than the SMTP exchange and slowed whatever shares the process, such as a
    benchmark's relay. `keys()` counts every arrival's `X-Wismo-Idempotency-Key` as it
    comes, never deduplicating."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.raw: list[bytes] = []
        self.bounce: set[str] = set()
        self.lock = threading.Lock()
        self._parsed: list[MailMessage] = []
        self._keys: Counter[str] = Counter()
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._controller.stop()

    def accept(self, content: bytes) -> None:
        head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        found = _KEY_HEADER.search(head)
        key = re.sub(rb"\r?\n[ \t]", b" ", found.group(1)).strip().decode() if found else "None"
        with self.lock:
            self.raw.append(content)
            self._keys[key] += 1

    @property
    def messages(self) -> list[MailMessage]:
        """Every message accepted, parsed, in order of arrival."""
        with self.lock:
            while len(self._parsed) < len(self.raw):
                self._parsed.append(email.message_from_bytes(self.raw[len(self._parsed)]))
            return list(self._parsed)

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(self._keys)


@dataclass
class SmsRecord:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    created_at: datetime


@dataclass
class TwilioSink:
    """Twilio's Messages API on 127.0.0.1. `script` answers the next creates in turn:
    (HTTP status, Twilio error code or None, extra headers, delay seconds)."""

    account_sid: str = "AC" + "0" * 32
    auth_token: str = "test-token"  # noqa: S105 - a local fake
    port: int = field(default_factory=free_port)
    messages: list[SmsRecord] = field(default_factory=list)
    script: list[tuple[int, int | None, dict[str, str], float]] = field(default_factory=list)
    key_of: Callable[[str], str] = lambda body: body
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Arrivals per `key_of(body)`, counted as they come (never deduplicated).
    counted: Counter[str] = field(default_factory=Counter)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TwilioSink:
        sink = self
        ids = itertools.count(1)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API

            # Headers and body go out in separate writes; with Nagle's algorithm on, the
            # client's delayed ACK then costs 40 ms per request.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                raw = orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _authorised(self) -> bool:
                expected = base64.b64encode(
                    f"{sink.account_sid}:{sink.auth_token}".encode()
                ).decode()
                if self.headers.get("Authorization") == f"Basic {expected}":
                    return True
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401}, {})
                return False

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:
                    # The client went away mid-request (a killed worker): like the real
                    # API, nothing is created from half a request.
                    self.close_connection = True
                    return
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                if not self._authorised():
                    return
                if not self.path.endswith(f"/Accounts/{sink.account_sid}/Messages.json"):
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404}, {})
                    return
                with sink.lock:
                    step = sink.script.pop(0) if sink.script else None
                if step is not None:
                    status, code, headers, delay = step
                    if delay:
                        time.sleep(delay)
                    if status >= 300:
                        body = {
                            "code": code,
                            "message": f"scripted error {code}",
                            "more_info": f"https://www.twilio.com/docs/errors/{code}",
                            "status": status,
                        }
                        self._answer(status, body, headers)
                        return
                now = datetime.now(UTC)
                record = SmsRecord(
                    sid=f"SM{next(ids):032x}",
                    to=form.get("To", ""),
                    from_=form.get("From", ""),
                    body=form.get("Body", ""),
                    status_callback=form.get("StatusCallback"),
                    created_at=now,
                )
                with sink.lock:
                    sink.messages.append(record)
                    sink.counted[sink.key_of(record.body)] += 1
                self._answer(201, _message_json(sink.account_sid, record), {})

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                with sink.lock:
                    found = [m for m in sink.messages if m.to == query.get("To", m.to)]
                self._answer(
                    200,
                    {
                        "messages": [_message_json(sink.account_sid, m) for m in found],
                        "next_page_uri": None,
                        "page": 0,
                        "page_size": 50,
                        "uri": self.path,
                    },
                    {},
                )

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counted)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a benchmark's killed worker) is not the server's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _message_json(account_sid: str, m: SmsRecord) -> dict[str, Any]:
    at = format_datetime(m.created_at)
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": at,
        "date_sent": at,
        "date_updated": at,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": m.from_,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": m.sid,
        "status": "queued",
        "subresource_uris": {},
        "to": m.to,
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{m.sid}.json",
    }
