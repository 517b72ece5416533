"""A local Web Push service, and browser-like subscriptions, for tests and the bench.

`PushService` speaks the push service's side of RFC 8030 (`POST /push/<id>`, `TTL`
required, `Urgency` and `Topic` checked, `201 Created` with a `Location`), checks RFC 8292
VAPID (`Authorization: vapid t=<JWT>, k=<public key>`: ES256 signature made with `k`,
`aud` the endpoint's origin, `exp` in the future and at most 24 hours away, `sub` present,
and `k` the key the subscription was made with), and decrypts the RFC 8291 `aes128gcm`
body with the subscription's private key, as the browser would, so tests assert on the
plaintext. `script` answers the next requests in turn (410, 429 with Retry-After, 500).

`browser_subscription` makes what `PushManager.subscribe()` gives a page: a P-256 ECDH key
pair and a 16-byte auth secret, as the subscription JSON the browser would post.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import http_ece
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from wismo.channels import testing_http
from wismo.channels.push import b64url, b64url_decode

MAX_BODY_BYTES = 4096  # RFC 8030 7.2: push services must accept at least this much
MAX_EXP_SECONDS = 24 * 3600  # RFC 8292 2: exp no more than 24 hours from the request
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_TOPIC_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class BrowserSubscription:
    """A browser's side of a subscription: the keys only it holds, and what it shares."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    application_server_key: str | None = None  # the VAPID public key it subscribed with

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def json(self) -> dict[str, Any]:
        """`PushSubscription.toJSON()`: what the page posts to the server."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }

    def decrypt(self, body: bytes) -> bytes:
        plain: bytes = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return plain


def browser_subscription(
    endpoint: str, application_server_key: str | None = None
) -> BrowserSubscription:
    return BrowserSubscription(
        endpoint=endpoint,
        private_key=ec.generate_private_key(ec.SECP256R1()),
        auth_secret=os.urandom(16),
        application_server_key=application_server_key,
    )


@dataclass
class PushRecord:
    """A push message the service accepted, decrypted."""

    subscription_id: str
    plaintext: bytes
    ttl_seconds: int
    urgency: str | None
    topic: str | None
    claims: Mapping[str, Any]
    location: str

    def json(self) -> Any:
        return orjson.loads(self.plaintext)


class VapidError(Exception):
    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.status = status


def verify_vapid(header: str | None, audience: str, now: float) -> tuple[dict[str, Any], str]:
    """(claims, public key) of a valid `Authorization: vapid t=..., k=...`; VapidError
    says what is wrong."""
    scheme, _, rest = (header or "").strip().partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError("Authorization scheme is not vapid")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            params[name.strip().lower()] = value.strip()
    token, key = params.get("t"), params.get("k")
    if not token or not key:
        raise VapidError("vapid needs t= and k=")
    pieces = token.split(".")
    if len(pieces) != 3:
        raise VapidError("t is not a JWS compact serialisation")
    try:
        head = orjson.loads(b64url_decode(pieces[0]))
        claims = orjson.loads(b64url_decode(pieces[1]))
        signature = b64url_decode(pieces[2])
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    except (ValueError, orjson.JSONDecodeError):
        raise VapidError("t or k does not decode") from None
    if not isinstance(head, dict) or head.get("alg") != "ES256":
        raise VapidError("JWT alg must be ES256")
    if len(signature) != 64:
        raise VapidError("ES256 signature must be 64 bytes (r || s)")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{pieces[0]}.{pieces[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError("JWT signature does not verify with k") from None
    if not isinstance(claims, dict):
        raise VapidError("JWT claims are not an object")
    if claims.get("aud") != audience:
        raise VapidError(f"aud {claims.get('aud')!r} is not {audience!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise VapidError("exp missing or past")
    if exp > now + MAX_EXP_SECONDS:
        raise VapidError("exp more than 24 hours ahead")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise VapidError("sub missing")
    return claims, key


@dataclass
class PushService:
    """A push service on 127.0.0.1. `script` answers the next valid requests in turn:
    (HTTP status, extra headers); `gone` subscriptions answer 410."""

    subscriptions: dict[str, BrowserSubscription] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    received: list[PushRecord] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        service = self
        ids = itertools.count(1)

        class Handler(testing_http.QuietHandler):
            def _answer(
                self, status: int, reason: str = "", headers: Mapping[str, str] | None = None
            ) -> None:
                if status >= 300:
                    with service.lock:
                        service.refused.append((status, reason))
                raw = reason.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                sub_id = self.path.removeprefix("/push/")
                if not self.path.startswith("/push/") or "/" in sub_id:
                    self._answer(404, "no such resource")
                    return
                with service.lock:
                    sub = service.subscriptions.get(sub_id)
                    gone = sub_id in service.gone
                if gone:
                    self._answer(410, "subscription expired")
                    return
                if sub is None:
                    self._answer(404, "no such subscription")
                    return
                problem = self._check(sub, body)
                if problem is not None:
                    self._answer(*problem)
                    return
                claims, _key = verify_vapid(
                    self.headers.get("Authorization"), service.base_url, time.time()
                )
                with service.lock:
                    step = service.script.pop(0) if service.script else None
                if step is not None:
                    self._answer(step[0], f"scripted {step[0]}", step[1])
                    return
                try:
                    plaintext = sub.decrypt(body)
                except Exception as exc:  # http_ece raises several kinds
                    self._answer(400, f"cannot decrypt: {exc}")
                    return
                location = f"{service.base_url}/message/{next(ids)}"
                with service.lock:
                    service.received.append(
                        PushRecord(
                            subscription_id=sub_id,
                            plaintext=plaintext,
                            ttl_seconds=int(self.headers["TTL"]),
                            urgency=self.headers.get("Urgency"),
                            topic=self.headers.get("Topic"),
                            claims=claims,
                            location=location,
                        )
                    )
                self._answer(201, "", {"Location": location})

            def _check(self, sub: BrowserSubscription, body: bytes) -> tuple[int, str] | None:
                try:
                    _, key = verify_vapid(
                        self.headers.get("Authorization"), service.base_url, time.time()
                    )
                except VapidError as exc:
                    return exc.status, str(exc)
                if sub.application_server_key and key != sub.application_server_key:
                    return 403, "k is not the key the subscription was made with"
                ttl = self.headers.get("TTL")
                if ttl is None or not ttl.isdigit():
                    return 400, "TTL header required"
                urgency = self.headers.get("Urgency")
                if urgency is not None and urgency not in URGENCIES:
                    return 400, f"bad Urgency {urgency!r}"
                topic = self.headers.get("Topic")
                if topic is not None and (len(topic) > 32 or set(topic) - _TOPIC_CHARS):
                    return 400, f"bad Topic {topic!r}"
                if self.headers.get("Content-Encoding") != "aes128gcm":
                    return 415, "Content-Encoding must be aes128gcm"
                if len(body) > MAX_BODY_BYTES:
                    return 413, "payload too large"
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def subscribe(self, application_server_key: str | None = None) -> BrowserSubscription:
        """A new browser subscription with an endpoint on this service."""
        with self.lock:
            sub_id = f"sub{len(self.subscriptions) + 1}"
            sub = browser_subscription(f"{self.base_url}/push/{sub_id}", application_server_key)
            self.subscriptions[sub_id] = sub
        return sub

    def expire(self, sub: BrowserSubscription) -> None:
        """The browser unsubscribed: its endpoint answers 410 from now on."""
        with self.lock:
            self.gone.add(sub.endpoint.rsplit("/", 1)[1])

    def __enter__(self) -> PushService:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._server.shutdown()
        self._server.server_close()
