"""USPS Tracking API v3 with OAuth2 client credentials.

Token: `POST /oauth2/v3/token`, form `grant_type=client_credentials&client_id=&client_secret=`.
Tracking: `GET /tracking/v3/tracking/{trackingNumber}?expand=DETAIL`.
Credentials: client_id, client_secret (the app's consumer key and secret).
"""

from __future__ import annotations

from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import OAuthClient


class UspsClient(OAuthClient):
    NAME = "usps"
    DEFAULT_BASE_URL = "https://apis.usps.com"
    OAUTH_PATH = "/oauth2/v3/token"

    def track(self, tracking_number: str) -> bytes:
        response = self.authorized(
            "GET",
            f"/tracking/v3/tracking/{quote(tracking_number, safe='')}",
            params={"expand": "DETAIL"},
            headers={"Accept": "application/json"},
        )
        return self.tracking_body(response)
