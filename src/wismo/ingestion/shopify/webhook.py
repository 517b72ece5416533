"""Is this webhook from Shopify, and from which shop?

Shopify signs every HTTPS delivery: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of
the raw body, keyed with the app's client secret (or the shop's webhook signing secret for
webhooks created in the Shopify admin). The check fails closed: a missing header or secret
is "not from Shopify".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


def sign(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value Shopify sends with `body`."""
    mac = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def verify(body: bytes, header: str | None, secret: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret` (constant time)."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), header.strip().encode())


def normalise_shop(value: str | None) -> str | None:
    """The shop's `*.myshopify.com` domain as Shopify sends it in `X-Shopify-Shop-Domain`.

    Accepts what a merchant may type: "acme", "acme.myshopify.com",
    "https://acme.myshopify.com/". None when it is not a domain.
    """
    if not value:
        return None
    text = _SCHEME.sub("", value.strip().lower()).split("/", 1)[0]
    if text and "." not in text:
        text += ".myshopify.com"
    return text if len(text) <= 200 and _DOMAIN.fullmatch(text) else None
