"""Royal Mail Tracking API v2, events: `GET /mailpieces/v2/{mailPieceId}/events` with the
`X-IBM-Client-Id` and `X-IBM-Client-Secret` headers and `X-Accept-RMG-Terms: yes` (the
terms of use, which the API requires). Credentials: client_id, client_secret.
"""

from __future__ import annotations

from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import CarrierClient


class RoyalMailClient(CarrierClient):
    NAME = "royalmail"
    DEFAULT_BASE_URL = "https://api.royalmail.net"

    def track(self, tracking_number: str) -> bytes:
        response = self.send(
            "GET",
            f"/mailpieces/v2/{quote(tracking_number, safe='')}/events",
            headers={
                "Accept": "application/json",
                "X-IBM-Client-Id": self.credential("client_id", "api_key"),
                "X-IBM-Client-Secret": self.credential("client_secret", "api_secret"),
                "X-Accept-RMG-Terms": "yes",
            },
        )
        return self.tracking_body(response)
