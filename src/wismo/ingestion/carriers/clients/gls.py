"""GLS Group API, Track And Trace V1, with OAuth2 client credentials.

Token: `POST /oauth2/v1/token`, HTTP Basic (client id : client secret), form
`grant_type=client_credentials`. Tracking:
`GET /track-and-trace-v1/tracking/simple/trackids/{trackId}` with the bearer token; the answer
is `{"parcels": [{"unitno", "status", "events"}]}`. Optional setting `language` (2 letters,
sent as Accept-Language). Credentials: client_id, client_secret.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import OAuthClient


class GlsClient(OAuthClient):
    NAME = "gls"
    DEFAULT_BASE_URL = "https://api.gls-group.net"
    OAUTH_PATH = "/oauth2/v1/token"

    def token_request(self) -> dict[str, Any]:
        return {
            "auth": (self.credential("client_id"), self.credential("client_secret")),
            "data": {"grant_type": "client_credentials"},
            "headers": {"Accept": "application/json"},
        }

    def track(self, tracking_number: str) -> bytes:
        language = self._settings.get("language")
        response = self.authorized(
            "GET",
            f"/track-and-trace-v1/tracking/simple/trackids/{quote(tracking_number, safe='')}",
            headers={
                "Accept": "application/json",
                "Accept-Language": language if isinstance(language, str) and language else "en",
            },
        )
        return self.tracking_body(response)
