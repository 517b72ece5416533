"""Web Push (RFC 8030) to browsers that opted in on the tracking page, with `pywebpush`:
the payload is encrypted for the subscription (RFC 8291, `aes128gcm`) and the request is
signed with our VAPID key (RFC 8292), so push services know who sends and only we can
push to subscriptions made with our public key.

A message's recipient is the subscription's endpoint; its keys come from storage through
`subscription_for` (bootstrap builds it: endpoint -> (p256dh, auth), base64url as the
browser gave them), so a subscription revoked after planning is not
pushed to. Headers: `TTL` (how long the push service keeps an undelivered message),
`Urgency` (`high` for news that is only useful now) and `Topic` (one per parcel: a newer
message replaces an older one still waiting at the push service). The service worker shows
the payload `{title, body, url, tag}`; the same `tag` replaces a notification still on
screen, which also hides the one duplicate a relay takeover can cause (push services
cannot be asked whether a message went out, so `lookup` answers None and the relay sends
again).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid, VapidException
from pywebpush import WebPushException, webpush

from wismo.services.notify import Message, SendError, SendResult
from wismo.services.ports import Claimed

TITLE_MAX_CHARS = 50
BODY_MAX_CHARS = 150
DEFAULT_TTL_SECONDS = 2 * 24 * 3600
# "Out for delivery" and "we missed you" are about today: worth waking a phone for, and
# not worth showing tomorrow.
URGENT_TRIGGERS = frozenset({"out_for_delivery", "failed_attempt"})
TODAY_TRIGGERS = URGENT_TRIGGERS | {"available_for_pickup"}
TODAY_TTL_SECONDS = 12 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Unpadded or padded base64url; ValueError when it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def load_vapid(private_key: str) -> Vapid:
    """The VAPID key from a PEM (newlines may be written `\\n`, as in an env file) or a
    base64url raw 32-byte key or DER; ValueError says it is neither."""
    text = private_key.strip().replace("\\n", "\n")
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
                key.curve, ec.SECP256R1
            ):
                raise ValueError("not a P-256 key")
            return Vapid(private_key=key)
        return Vapid.from_string(private_key=text)
    except Exception as exc:
        raise ValueError(f"WISMO_VAPID_PRIVATE_KEY is not a P-256 private key: {exc}") from None


def check_subject(vapid: Vapid, subject: str) -> None:
    """ValueError unless push services will take `subject` as our contact (a `mailto:`
    address or an `https:` URL, RFC 8292 2.1), asked of the library that signs."""
    try:
        vapid.sign({"sub": subject, "aud": "https://push.example.com"})
    except VapidException:
        raise ValueError(
            f"WISMO_VAPID_SUBJECT {subject!r} must be mailto:someone@domain or an https URL"
        ) from None


def public_key(vapid: Vapid) -> str:
    """The applicationServerKey browsers subscribe with: base64url uncompressed point."""
    point = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def generate_keys() -> tuple[str, str]:
    """A new VAPID pair: (private key base64url raw 32 bytes, public key base64url)."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(raw), public_key(Vapid(private_key=key))


def valid_subscription_keys(p256dh: str, auth: str) -> str | None:
    """None when the keys are usable; otherwise the name of the bad field."""
    try:
        point = b64url_decode(p256dh)
        if len(point) != 65:
            raise ValueError("not an uncompressed point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return "p256dh"
    try:
        if len(b64url_decode(auth)) != 16:
            return "auth"
    except ValueError:
        return "auth"
    return None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def push_message(n: Claimed, subject: str, body: str, link: str) -> Message:
    """A rendered push: short title and body, the signed link to open, and the headers
    that tell the push service how long and how urgently to deliver it."""
    tag = f"wismo-s{n.shipment_id}" if n.shipment_id is not None else f"wismo-o{n.order_id}"
    title = _clip(subject, TITLE_MAX_CHARS)
    text = _clip(body, BODY_MAX_CHARS)
    ttl = TODAY_TTL_SECONDS if n.trigger in TODAY_TRIGGERS else DEFAULT_TTL_SECONDS
    return Message(
        idempotency_key=n.idempotency_key,
        channel="push",
        recipient=n.recipient,
        subject=title,
        text=text,
        headers={
            "TTL": str(ttl),
            "Urgency": "high" if n.trigger in URGENT_TRIGGERS else "normal",
            "Topic": tag,  # RFC 8030 5.4: <= 32 characters of the base64url alphabet
        },
        data={"title": title, "body": text, "url": link, "tag": tag, "lang": n.language},
    )


class WebPushChannel:
    def __init__(
        self,
        private_key: str,
        subject: str,
        subscription_for: Callable[[str], tuple[str, str] | None],
        *,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._vapid = load_vapid(private_key)
        check_subject(self._vapid, subject)  # else every send would fail the same way
        self._subject = subject
        self._keys_for = subscription_for
        self._timeout = timeout_seconds
        self._session = requests.Session()  # one kept connection per push service

    @property
    def public_key(self) -> str:
        return public_key(self._vapid)

    def send(self, message: Message) -> SendResult:
        keys = self._keys_for(message.recipient)
        if keys is None:
            raise SendError(
                "push subscription revoked", provider_status="revoked", address_dead=True
            )
        p256dh, auth = keys
        info = {"endpoint": message.recipient, "keys": {"p256dh": p256dh, "auth": auth}}
        headers: dict[str, Any] = {
            k: v for k, v in message.headers.items() if k in ("Urgency", "Topic")
        }
        try:
            ttl = int(message.headers.get("TTL", DEFAULT_TTL_SECONDS))
            response = webpush(
                info,
                data=orjson.dumps(dict(message.data)).decode(),
                vapid_private_key=self._vapid,
                # A new dict each time: pywebpush writes `aud` and `exp` into it, and the
                # audience is the origin of this endpoint's push service.
                vapid_claims={"sub": self._subject},
                ttl=ttl,
                headers=headers,
                timeout=self._timeout,
                requests_session=self._session,
            )
        except WebPushException as exc:
            raise _error(exc) from None
        except requests.RequestException as exc:
            raise SendError(
                f"push service unreachable: {exc}", provider_status="connection"
            ) from None
        except ValueError as exc:  # keys that do not decode or are not on the curve
            raise SendError(
                f"push subscription unusable: {exc}", provider_status="bad_keys", address_dead=True
            ) from None
        location = response.headers.get("Location") or ""
        return SendResult(location[:200] or None, str(response.status_code))

    def lookup(self, message: Message, since: datetime) -> SendResult | None:
        return None  # push services keep no list of what they accepted


def _error(exc: WebPushException) -> SendError:
    status = exc.status_code
    if status is None:  # raised before any request: the subscription is malformed
        return SendError(str(exc), provider_status="bad_keys", address_dead=True)
    text = f"push service answered {status}: {(exc.response.text or '')[:200]}"
    if status in (404, 410):  # the browser unsubscribed or the subscription expired
        return SendError(text, provider_status=str(status), address_dead=True)
    if status == 429 or status >= 500:
        return SendError(
            text, provider_status=str(status), retry_after_seconds=_retry_after(exc.retry_after)
        )
    # 400 malformed, 401/403 VAPID refused, 413 payload too large: sending again will not help.
    return SendError(text, provider_status=str(status), permanent=True)


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
