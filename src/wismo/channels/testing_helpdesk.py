"""A local server speaking Zendesk Support's Tickets API, for tests and the scenario runner
(stdlib only; shipped in the package like `wismo.testing`).

`POST /api/v2/tickets[.json]` creates a ticket (201 `{"ticket": {...}}`), `GET
/api/v2/tickets[.json]?external_id=...` lists them (`{"tickets": [...], "count": n}`).
Requests need HTTP basic auth `{email}/token:{api_token}` (else 401 `{"error": "Couldn't
authenticate you"}`). A ticket without a comment body or with a malformed requester email
gets Zendesk's 422 `RecordInvalid`. `script` answers the next creates in turn, to test
retries: errors, rate limits, slowness, and a ticket created although the client timed out.
"""

from __future__ import annotations

import base64
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from wismo.channels import testing_http

TICKETS_PATHS = frozenset({"/api/v2/tickets", "/api/v2/tickets.json"})


@dataclass(frozen=True)
class Step:
    """One scripted answer to a create. `create` None: the ticket is created when the
    status is 2xx; True creates it whatever the answer (a timeout after the commit)."""

    status: int = 201
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    create: bool | None = None

    @classmethod
    def error(cls, status: int = 500) -> Step:
        return cls(status, body={"error": "InternalError", "description": "scripted failure"})

    @classmethod
    def rate_limited(cls, retry_after_seconds: int) -> Step:
        return cls(
            429,
            headers={"Retry-After": str(retry_after_seconds)},
            body={"error": "TooManyRequests", "description": "Rate limit exceeded"},
        )

    @classmethod
    def invalid(cls, field_name: str, description: str) -> Step:
        return cls(422, body=_record_invalid(field_name, description))

    @classmethod
    def created_but_slow(cls, delay_seconds: float) -> Step:
        return cls(201, delay_seconds=delay_seconds, create=True)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class ZendeskServer:
    email: str = "agent@shop.example"
    api_token: str = "zd-test-token"  # noqa: S105 - a local fake
    port: int = 0  # 0: any free port, read back after start
    script: list[Step] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def creates(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def __enter__(self) -> ZendeskServer:
        server = self
        ids = itertools.count(35436)
        stopping = threading.Event()
        self._stopping = stopping

        class Handler(testing_http.QuietHandler):
            def _answer(
                self, status: int, body: Any, headers: dict[str, str] | None = None
            ) -> None:
                raw = orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _record(self) -> tuple[str, dict[str, str], Any] | None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    body = raw.decode(errors="replace")
                with server.lock:
                    server.requests.append(
                        Recorded(self.command, parts.path, query, dict(self.headers), body)
                    )
                expected = base64.b64encode(
                    f"{server.email}/token:{server.api_token}".encode()
                ).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._answer(401, {"error": "Couldn't authenticate you"})
                    return None
                if parts.path not in TICKETS_PATHS:
                    self._answer(404, {"error": "InvalidEndpoint", "description": "Not found"})
                    return None
                return parts.path, query, body

            def do_GET(self) -> None:
                got = self._record()
                if got is None:
                    return
                _, query, _ = got
                with server.lock:
                    found = [
                        t
                        for t in server.tickets
                        if "external_id" not in query or t["external_id"] == query["external_id"]
                    ]
                self._answer(
                    200,
                    {
                        "tickets": found,
                        "next_page": None,
                        "previous_page": None,
                        "count": len(found),
                    },
                )

            def do_POST(self) -> None:
                got = self._record()
                if got is None:
                    return
                _, _, body = got
                with server.lock:
                    step = server.script.pop(0) if server.script else Step()
                problem = _validate(body)
                if problem is not None and step.status < 300:
                    self._answer(422, problem)
                    return
                ticket = None
                if step.create or (step.create is None and step.status < 300):
                    ticket = _ticket(next(ids), server.base_url, body["ticket"])
                    with server.lock:
                        server.tickets.append(ticket)
                if step.delay_seconds and stopping.wait(step.delay_seconds):
                    return  # shutting down: the client gave up long ago
                if step.status < 300:
                    self._answer(step.status, {"ticket": ticket}, step.headers)
                else:
                    self._answer(step.status, step.body or {"error": "Error"}, step.headers)

        self._server, self.port = testing_http.start(Handler, self.port)
        return self

    def __exit__(self, *args: object) -> None:
        testing_http.stop(self._server, self._stopping)


def _record_invalid(field_name: str, description: str) -> dict[str, Any]:
    return {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {field_name: [{"description": description, "error": "InvalidValue"}]},
    }


def _validate(body: Any) -> dict[str, Any] | None:
    ticket = body.get("ticket") if isinstance(body, dict) else None
    if not isinstance(ticket, dict):
        return _record_invalid("base", "Ticket: is missing")
    comment = ticket.get("comment")
    if not isinstance(comment, dict) or not str(comment.get("body") or "").strip():
        return _record_invalid("base", "Description: cannot be blank")
    requester = ticket.get("requester")
    if requester is not None:
        email = requester.get("email") if isinstance(requester, dict) else None
        if not isinstance(email, str) or "@" not in email.strip("@"):
            return _record_invalid(
                "requester", f"Requester: Email {email!r} is not properly formatted"
            )
    return None


def _ticket(ticket_id: int, base_url: str, sent: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = str(sent["comment"]["body"])
    return {
        "id": ticket_id,
        "url": f"{base_url}/api/v2/tickets/{ticket_id}.json",
        "external_id": sent.get("external_id"),
        "type": sent.get("type"),
        "subject": sent.get("subject"),
        "raw_subject": sent.get("subject"),
        "description": body,
        "priority": sent.get("priority"),
        "status": "new",
        "requester_id": 1,
        "submitter_id": 1,
        "tags": sorted(set(sent.get("tags") or [])),
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": now,
        "updated_at": now,
    }
