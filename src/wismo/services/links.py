"""Signed, expiring links that open one order's tracking page without a lookup.

A token is `base64url(version | store_id | order_id | expires_at | mac)`: 17 bytes of
payload and the first 16 bytes of an HMAC-SHA256 over them, 44 characters in all, so it
fits an SMS. It is signed, not encrypted: it reveals an order id and an expiry, never a
name or a contact. The key is per store (`key_for`), so rotating one store's key voids
only that store's links.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

VERSION = 1
_PAYLOAD = struct.Struct(">BIQI")  # version, store id, order id, expiry (unix seconds)
_MAC_BYTES = 16
TOKEN_CHARS = 44


class LinkError(ValueError):
    """A token that does not open anything: `reason` is `invalid` or `expired`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkTarget:
    store_id: int
    order_id: int
    expires_at: datetime


class OrderLinks:
    """Signs and verifies order links; `key_for(store_id)` returns that store's key."""

    def __init__(self, key_for: Callable[[int], bytes]) -> None:
        self._key_for = key_for

    def sign(self, store_id: int, order_id: int, expires_at: datetime) -> str:
        """The token alone (for forms and tests); `sign_order_link` gives the path."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        payload = _PAYLOAD.pack(VERSION, store_id, order_id, int(expires_at.timestamp()))
        mac = hmac.new(self._key_for(store_id), payload, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")

    def sign_order_link(self, store_id: int, order_id: int, expires_at: datetime) -> str:
        """The path of the order's page (`/t/TOKEN`); prefix the store's host to send it."""
        return f"/t/{self.sign(store_id, order_id, expires_at)}"

    def verify(self, token: str, now: datetime) -> LinkTarget:
        """The order a token opens; LinkError when altered, malformed or expired."""
        if len(token) != TOKEN_CHARS or not token.isascii():
            raise LinkError("invalid")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise LinkError("invalid") from None
        if len(raw) != _PAYLOAD.size + _MAC_BYTES:
            raise LinkError("invalid")
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        version, store_id, order_id, expires = _PAYLOAD.unpack(payload)
        if version != VERSION:
            raise LinkError("invalid")
        try:
            key = self._key_for(store_id)
        except LookupError:
            raise LinkError("invalid") from None
        expected = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise LinkError("invalid")
        expires_at = datetime.fromtimestamp(expires, UTC)
        # Checked after the MAC, so an expired answer is only given for a genuine link.
        if now >= expires_at:
            raise LinkError("expired")
        return LinkTarget(store_id, order_id, expires_at)


def derive_store_key(secret: bytes, store_id: int) -> bytes:
    """A per-store key from one deployment secret (`WISMO_LINK_SECRET`)."""
    return hmac.new(secret, f"wismo-link:{store_id}".encode(), hashlib.sha256).digest()
