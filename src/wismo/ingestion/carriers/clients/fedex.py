"""FedEx Track API v1 with OAuth2 client credentials.

Token: `POST /oauth/token`, form `grant_type=client_credentials&client_id=&client_secret=`
(the Track API project's key and secret). Tracking: `POST /track/v1/trackingnumbers` with
`{"includeDetailedScans": true, "trackingInfo": [{"trackingNumberInfo": {"trackingNumber"}}]}`.
Credentials: client_id (or api_key), client_secret (or secret_key).
"""

from __future__ import annotations

import orjson

from wismo.ingestion.carriers.clients.base import OAuthClient


class FedexClient(OAuthClient):
    NAME = "fedex"
    DEFAULT_BASE_URL = "https://apis.fedex.com"
    OAUTH_PATH = "/oauth/token"

    def track(self, tracking_number: str) -> bytes:
        body = {
            "includeDetailedScans": True,
            "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": tracking_number}}],
        }
        response = self.authorized(
            "POST",
            "/track/v1/trackingnumbers",
            content=orjson.dumps(body),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-locale": str(self._settings.get("locale") or "en_US"),
            },
        )
        return self.tracking_body(response)
