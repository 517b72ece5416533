"""An outbound webhook to the retailer's own systems: JSON, signed with HMAC-SHA256.

Headers: `Wismo-Event-Id` (the idempotency key: receivers deduplicate on it, which makes
delivery exactly-once on their side) and `Wismo-Signature: t=<unix>,v1=<hex>`, the HMAC of
`"<t>.<body>"` with the shared secret, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime

import httpx
import orjson

from wismo.services.notify import Message, SendError, SendResult


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookChannel:
    def __init__(self, secret: str, *, timeout_seconds: float = 10.0) -> None:
        self._secret = secret
        self._client = httpx.Client(timeout=timeout_seconds)

    def send(self, message: Message) -> SendResult:
        body = orjson.dumps(dict(message.data))
        headers = {
            "Content-Type": "application/json",
            "Wismo-Event-Id": message.idempotency_key,
            "Wismo-Signature": signature(self._secret, int(time.time()), body),
        }
        try:
            response = self._client.post(message.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(f"webhook unreachable: {exc}", provider_status="connection") from None
        status = response.status_code
        if status < 300:
            return SendResult(message.idempotency_key, str(status))
        text = f"webhook answered {status}: {response.text[:200]}"
        if status == 429 or status >= 500 or status == 408:
            retry = response.headers.get("Retry-After")
            return_after = float(retry) if retry and retry.isdigit() else None
            raise SendError(text, provider_status=str(status), retry_after_seconds=return_after)
        raise SendError(text, provider_status=str(status), permanent=True)

    def lookup(self, message: Message, since: datetime) -> SendResult | None:
        return None  # receivers deduplicate on Wismo-Event-Id: sending again is safe
