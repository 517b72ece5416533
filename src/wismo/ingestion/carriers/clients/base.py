"""What every carrier HTTP client shares: base URL and credentials from the integration,
OAuth2 client-credentials tokens cached until they expire, and one mapping of HTTP answers
to `CarrierError` kinds.

A client returns the raw body of a tracking response (the carrier's parser reads it later,
from the inbox) or raises `CarrierError` with `kind`:

- unauthorized: 401 or 403, a refused token request, or credentials missing;
- not_found: 404, or a 200 whose body is the carrier's "no such number";
- rate_limited: 429 (and the carrier's rate-limit bodies), with `retry_after` in seconds
  from the Retry-After header when there is one;
- carrier_error: 5xx, timeouts, connection failures, other refusals.

A body the parser cannot read is returned as it is: stored in the inbox as dead, it can be
replayed once the parser is fixed.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import orjson

from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError

# Kinds a client raises; the parser's "unparseable" and "unsupported" are not among them.
KINDS = frozenset({"unauthorized", "not_found", "rate_limited", "carrier_error"})
# A Retry-After further away than this is taken as this (a day).
_MAX_RETRY_AFTER = 86_400.0


class HttpCarrierError(CarrierError):
    """A `CarrierError` from an HTTP exchange, with the status and the carrier's
    Retry-After (seconds) when it sent one."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(kind, message)
        self.status = status
        self.retry_after = retry_after


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds the carrier asked us to wait: Retry-After as seconds or as an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


class CarrierClient(ABC):
    """One carrier account's tracking client. Subclasses set NAME (the parser's name),
    DEFAULT_BASE_URL and `track`."""

    NAME: ClassVar[str]
    DEFAULT_BASE_URL: ClassVar[str]

    def __init__(
        self,
        http: httpx.Client,
        credentials: Mapping[str, object],
        settings: Mapping[str, object],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._settings = settings
        self._monotonic = monotonic
        base_url = str(settings.get("base_url") or self.DEFAULT_BASE_URL).strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CarrierError("carrier_error", f"base_url {base_url!r} is not an http(s) URL")
        self.base_url = base_url
        timeout = settings.get("timeout")
        self._timeout: float | None = (
            float(timeout) if isinstance(timeout, int | float | str) and timeout else None
        )

    @abstractmethod
    def track(self, tracking_number: str) -> bytes:
        """The raw tracking response for one number."""

    def credential(self, *names: str) -> str:
        """The first of `names` present in the integration's credentials."""
        for name in names:
            value = self._credentials.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        raise CarrierError(
            "unauthorized", f"the {self.NAME} integration has no {names[0]} in its credentials"
        )

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._timeout is not None:
            kwargs.setdefault("timeout", self._timeout)
        try:
            return self._http.request(method, self.base_url + path, **kwargs)
        except httpx.TimeoutException:
            raise HttpCarrierError("carrier_error", f"{self.NAME}: no answer in time") from None
        except httpx.HTTPError as exc:
            raise HttpCarrierError(
                "carrier_error", f"{self.NAME}: {type(exc).__name__}: {exc}"
            ) from None

    def tracking_body(self, response: httpx.Response) -> bytes:
        """The body of a tracking answer, or the error it is."""
        if not 200 <= response.status_code < 300:
            raise self.error(response)
        body = response.content
        try:
            registry.parse(self.NAME, body)
        except CarrierError as exc:
            if exc.kind in KINDS:
                raise HttpCarrierError(exc.kind, exc.message, status=response.status_code) from None
            # unparseable: returned, so the inbox keeps it for a replay after a fix
        return body

    def error(self, response: httpx.Response) -> HttpCarrierError:
        status = response.status_code
        said = self._carrier_says(response.content)
        if status in (401, 403):
            kind = "unauthorized"
        elif status == 404:
            kind = "not_found"
        elif status == 429:
            kind = "rate_limited"
        elif status >= 500:
            kind = "carrier_error"
        else:
            kind = said.kind if said is not None and said.kind in KINDS else "carrier_error"
        message = said.message if said is not None else response.reason_phrase or "error"
        return HttpCarrierError(
            kind,
            f"{message} (HTTP {status})",
            status=status,
            retry_after=retry_after(response) if status in (429, 503) else None,
        )

    def _carrier_says(self, body: bytes) -> CarrierError | None:
        """The carrier's own error, as its parser reads it from an error body."""
        if not body:
            return None
        try:
            registry.parse(self.NAME, body)
        except CarrierError as exc:
            return exc if exc.kind in KINDS else None
        except Exception:  # an error page (HTML, broken XML) is no reason to fail
            return None
        return None


class OAuthClient(CarrierClient):
    """OAuth2 client credentials: POST OAUTH_PATH, then `Authorization: Bearer`.

    The token is kept until shortly before `expires_in` runs out; a 401 on a cached token
    (revoked early) fetches a new one and tries once more.
    """

    OAUTH_PATH: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def token_request(self) -> dict[str, Any]:
        """Keyword arguments of the token request (form body with the client credentials)."""
        return {
            "data": {
                "grant_type": "client_credentials",
                "client_id": self.credential("client_id", "api_key"),
                "client_secret": self.credential("client_secret", "secret_key", "api_secret"),
            },
        }

    def token(self) -> str:
        with self._lock:
            if self._token is not None and self._monotonic() < self._expires_at:
                return self._token
            request = self.token_request()
            response = self.send("POST", self.OAUTH_PATH, **request)
            self.tokens_fetched += 1
            if response.status_code != 200:
                raise self._token_error(response)
            try:
                data = orjson.loads(response.content)
                token = str(data["access_token"])
                lifetime = float(data.get("expires_in") or 0)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise HttpCarrierError(
                    "carrier_error", f"{self.NAME}: the token answer has no access_token"
                ) from None
            # Renew a minute early (a tenth of the lifetime for short ones), so a token does
            # not run out between this check and the carrier's.
            self._token = token
            self._expires_at = self._monotonic() + lifetime - min(60.0, lifetime / 10)
            return token

    def forget_token(self) -> None:
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def authorized(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        response: httpx.Response | None = None
        for _ in range(2):
            headers["Authorization"] = f"Bearer {self.token()}"
            response = self.send(method, path, headers=headers, **kwargs)
            if response.status_code != 401:
                return response
            self.forget_token()
        assert response is not None
        return response

    def _token_error(self, response: httpx.Response) -> HttpCarrierError:
        status = response.status_code
        message = _oauth_message(response.content) or response.reason_phrase or "refused"
        if status == 429:
            kind = "rate_limited"
        elif status >= 500:
            kind = "carrier_error"
        else:  # 400 invalid_client / invalid_grant, 401, 403: the credentials
            kind = "unauthorized"
        return HttpCarrierError(
            kind,
            f"token request refused: {message} (HTTP {status})",
            status=status,
            retry_after=retry_after(response) if status in (429, 503) else None,
        )


def _oauth_message(body: bytes) -> str | None:
    """The reason in an OAuth error body (RFC 6749 `error_description`), or the carriers'
    own error shapes (UPS `response.errors`, FedEx `errors`)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("error_description", "error", "message", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    errors = data.get("errors") or (data.get("response") or {}).get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("code") or "") or None
    return None
