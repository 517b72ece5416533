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
import socket
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
        mail = email.message_from_bytes(envelope.content)
        with self._sink.lock:
            self._sink.messages.append(mail)
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server on 127.0.0.1; `bounce` addresses get a 550 at RCPT."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[MailMessage] = []
        self.bounce: set[str] = set()
        self.lock = threading.Lock()
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._controller.stop()

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(str(m["X-Wismo-Idempotency-Key"]) for m in self.messages)


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
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
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

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(self.key_of(m.body) for m in self.messages)


def _message_json(account_sid: str, m: SmsRecord) -> dict[str, Any]:
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": format_datetime(m.created_at),
        "date_sent": format_datetime(m.created_at),
        "date_updated": format_datetime(m.created_at),
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
