"""SMS through Twilio's Messages API with the `twilio` SDK, and what comes back: delivery
status callbacks and inbound keywords (STOP, START, HELP), both signed by Twilio
(`X-Twilio-Signature`, checked with the SDK's `RequestValidator`).

Twilio has no idempotency key on message creation. After a crash mid-send, `lookup` lists
the messages sent to the same number since the claim and matches the body, so a message
that got through is recorded rather than sent again.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, select_proxy
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from wismo.services.notify import Message, SendError, SendResult

# Twilio error codes that mean the number will never take a message from us.
DEAD_NUMBER_CODES = frozenset(
    {
        21211,  # invalid 'To' phone number
        21214,  # 'To' number cannot be reached
        21217,  # phone number does not appear to be valid
        21610,  # the recipient replied STOP
        21612,  # cannot route to this number
        21614,  # 'To' number is not a valid mobile number
        30003,  # unreachable destination handset
        30005,  # unknown destination handset
        30006,  # landline or unreachable carrier
    }
)

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword(body: str) -> str | None:
    """`stop`, `start` or `help` for an inbound SMS that is one of Twilio's keywords."""
    word = body.strip().upper().rstrip(".!")
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]  # untyped SDK
    """The SDK's HTTP client, with a lean path to the API and the last answer's headers
    kept (a 429's Retry-After is not on the SDK's exception).

    The SDK builds every request (URL, form, auth, headers) and reads every answer as it
    always does; only the transport differs. Through `requests` a message cost 1.1 ms of
    CPU, four times the exchange itself (it reads all of `os.environ` twice per call for
    proxies, merges cookies and hooks, and goes through urllib3); `_KeepAlive` sends it on
    one kept-alive `http.client` connection instead. Where the environment puts the API
    behind a proxy, or turns certificate checks off, the SDK's own `requests` path is used,
    unchanged: `requests` decides that once per host, as it would per call."""

    last_headers: Mapping[str, str] = {}

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__(timeout=timeout_seconds)
        self._routes: dict[str, _KeepAlive | None] = {}

    def request(  # noqa: PLR0917 - the SDK's signature
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._routes:
            self._routes[origin] = self._direct_route(url, parts)
        route = self._routes[origin]
        if route is None or allow_redirects:
            response = super().request(
                method, url, params, data, headers, auth, timeout, allow_redirects
            )
        else:
            self.log_request({"method": method, "url": url, "params": params, "headers": headers})
            response = route.request(
                method,
                parts,
                params,
                data,
                dict(headers or {}),
                auth,
                self.timeout if timeout is None else timeout,
            )
            self.log_response(response.status_code, response)
        self.last_headers = response.headers or {}
        return response

    def _direct_route(self, url: str, parts: SplitResult) -> _KeepAlive | None:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        settings = self.session.merge_environment_settings(url, dict(self.proxy), None, None, None)
        verify = settings.get("verify", True)
        if select_proxy(url, settings.get("proxies")) or verify is False or settings.get("cert"):
            return None
        context = None
        if parts.scheme == "https":
            where = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
            context = ssl.create_default_context(
                cafile=where if not os.path.isdir(where) else None,
                capath=where if os.path.isdir(where) else None,
            )
        return _KeepAlive(parts.hostname, parts.port, context)


class _KeepAlive:
    """One HTTP/1.1 connection to one host, re-opened when the server has closed it."""

    def __init__(self, host: str, port: int | None, context: ssl.SSLContext | None) -> None:
        self._host, self._port, self._context = host, port, context
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # an SDK client may be shared by threads

    def request(  # noqa: PLR0917 - mirrors the SDK's request
        self,
        method: str,
        parts: SplitResult,
        params: Mapping[str, object] | None,
        data: Mapping[str, object] | None,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
        timeout: float | None,
    ) -> Response:
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, urlencode(params or {}, doseq=True)) if q)
        if query:
            target = f"{target}?{query}"
        body: bytes | None = None
        if data:
            if headers.get("Content-Type") in ("application/json", "application/scim+json"):
                body = json.dumps(data).encode()
            else:
                body = urlencode(data, doseq=True).encode()
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        with self._lock:
            conn = self._connection(timeout)
            try:
                conn.request(method.upper(), target, body=body, headers=headers)
                answer = conn.getresponse()
                raw = answer.read()
            except BaseException:
                # Whatever was half-sent or half-read, the stream is out of step now.
                self._close()
                raise
        charset = answer.headers.get_content_charset() or "utf-8"
        return Response(
            answer.status,
            raw.decode(charset, errors="replace"),
            CaseInsensitiveDict(answer.getheaders()),
        )

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and conn.sock is not None and _readable(conn.sock):
            # An idle kept-alive connection that the server closed (or that has stray
            # bytes): not reused, as urllib3 does not either.
            self._close()
            conn = None
        if conn is None:
            if self._context is not None:
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=self._context
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._conn = conn
        if conn.sock is None:
            conn.timeout = timeout
            conn.connect()
            if conn.sock is not None:  # small requests: do not wait for the delayed ACK
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            conn.sock.settimeout(timeout)
        return conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _readable(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class TwilioSmsChannel:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        *,
        base_url: str | None = None,
        status_callback: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._http = _HttpClient(timeout_seconds)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        if base_url:
            # The SDK builds every URL from its domain's base URL; tests and the bench
            # point it at a local server speaking the same wire format.
            self._client.api.base_url = base_url.rstrip("/")
        self._sender = sender
        self._status_callback = status_callback

    def send(self, message: Message) -> SendResult:
        kwargs: dict[str, Any] = {"to": message.recipient, "from_": self._sender}
        if self._status_callback:
            kwargs["status_callback"] = self._status_callback
        try:
            created = self._client.messages.create(body=message.text, **kwargs)
        except TwilioRestException as exc:
            raise self._error(exc) from None
        except (TwilioException, OSError) as exc:
            # Timeouts and connection errors surface from requests through the SDK.
            raise SendError(f"Twilio unreachable: {exc}", provider_status="connection") from None
        except Exception as exc:  # requests' own exceptions are not OSError subclasses
            raise SendError(f"Twilio request failed: {exc}", provider_status="connection") from None
        return SendResult(created.sid, str(created.status or "queued"))

    def lookup(self, message: Message, since: datetime) -> SendResult | None:
        try:
            sent = self._client.messages.list(
                to=message.recipient, date_sent_after=since, limit=100
            )
        except Exception:
            return None  # cannot tell: the relay sends again
        for m in sent:
            if m.body == message.text:
                return SendResult(m.sid, str(m.status or "sent"), "found by lookup")
        return None

    def _error(self, exc: TwilioRestException) -> SendError:
        text = f"Twilio {exc.status} code {exc.code}: {exc.msg}"
        status = f"{exc.status}/{exc.code}" if exc.code else str(exc.status)
        if exc.code in DEAD_NUMBER_CODES:
            return SendError(text, provider_status=status, address_dead=True)
        if exc.status == 429 or exc.status >= 500:
            retry_after = _seconds(self._http.last_headers.get("Retry-After"))
            return SendError(text, provider_status=status, retry_after_seconds=retry_after)
        return SendError(text, provider_status=status, permanent=True)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def valid_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether a webhook really comes from Twilio (HMAC-SHA1 of URL and sorted params)."""
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
