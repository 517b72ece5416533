"""Is this webhook from the aggregator? Each provider's documented check, constant time.

- EasyPost: `X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>`, keyed
  with the webhook secret normalised to Unicode NFKD and encoded as UTF-8 (as EasyPost's
  own client libraries do).
- AfterShip: `aftership-hmac-sha256: <base64 HMAC-SHA256 of the raw body>`, keyed with the
  account's webhook secret.
- Shippo documents no per-request signature that every account can turn on (its HMAC is
  enabled per account by Shippo staff). Its self-service option is a token the merchant
  adds to the webhook URL (`?token=...`); Wismo requires it and compares it with the
  stored secret.

Every check fails closed: a missing header, token or secret is "not from the aggregator".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata

EASYPOST_HEADER = "X-Hmac-Signature"
AFTERSHIP_HEADER = "aftership-hmac-sha256"
SHIPPO_QUERY = "token"


def _mac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def easypost_signature(body: bytes, secret: str) -> str:
    return "hmac-sha256-hex=" + _mac(unicodedata.normalize("NFKD", secret), body).hex()


def aftership_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(_mac(secret, body)).decode("ascii")


def easypost_valid(body: bytes, header: str | None, secret: str | None) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(
        easypost_signature(body, secret).encode(), header.strip().lower().encode()
    )


def aftership_valid(body: bytes, header: str | None, secret: str | None) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(aftership_signature(body, secret).encode(), header.strip().encode())


def shippo_valid(token: str | None, secret: str | None) -> bool:
    if not token or not secret:
        return False
    return hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8"))
