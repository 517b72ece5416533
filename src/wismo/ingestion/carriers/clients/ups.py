"""UPS Tracking API v1 with OAuth2 client credentials.

Token: `POST /security/v1/oauth/token`, HTTP Basic (client id : client secret), form
`grant_type=client_credentials`; an `x-merchant-id` header (the shipper account number) when
the integration names one. Tracking: `GET /api/track/v1/details/{inquiryNumber}` with the
bearer token, a `transId` (at most 32 characters) and a `transactionSrc`.
Credentials: client_id, client_secret (merchant_id optional).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import OAuthClient


class UpsClient(OAuthClient):
    NAME = "ups"
    DEFAULT_BASE_URL = "https://onlinetools.ups.com"
    OAUTH_PATH = "/security/v1/oauth/token"

    def token_request(self) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        merchant = self._credentials.get("merchant_id") or self._settings.get("merchant_id")
        if isinstance(merchant, str) and merchant:
            headers["x-merchant-id"] = merchant
        return {
            "auth": (self.credential("client_id"), self.credential("client_secret")),
            "data": {"grant_type": "client_credentials"},
            "headers": headers,
        }

    def track(self, tracking_number: str) -> bytes:
        response = self.authorized(
            "GET",
            f"/api/track/v1/details/{quote(tracking_number, safe='')}",
            params={"locale": str(self._settings.get("locale") or "en_US")},
            headers={
                "Accept": "application/json",
                "transId": uuid.uuid4().hex,
                "transactionSrc": "wismo",
            },
        )
        return self.tracking_body(response)
