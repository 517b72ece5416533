"""SMS through Twilio's Messages API with the `twilio` SDK, and what comes back: delivery
status callbacks and inbound keywords (STOP, START, HELP), both signed by Twilio
(`X-Twilio-Signature`, checked with the SDK's `RequestValidator`).

Twilio has no idempotency key on message creation. After a crash mid-send, `lookup` lists
the messages sent to the same number since the claim and matches the body, so a message
that got through is recorded rather than sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

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


class _HeaderKeepingClient(TwilioHttpClient):  # type: ignore[misc]  # untyped SDK
    """Keeps the last response's headers: a 429's Retry-After is not on the exception."""

    last_headers: Mapping[str, str] = {}

    def request(self, *args: Any, **kwargs: Any) -> Response:
        response = super().request(*args, **kwargs)
        self.last_headers = dict(response.headers or {})
        return response


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
        self._http = _HeaderKeepingClient(timeout=timeout_seconds)
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
