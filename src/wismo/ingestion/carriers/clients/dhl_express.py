"""DHL Express, MyDHL API: `GET /shipments/{shipmentTrackingNumber}/tracking` with HTTP
Basic authentication (the MyDHL API username and password), all checkpoints.
Credentials: username (or api_key), password (or api_secret).
"""

from __future__ import annotations

from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import CarrierClient


class DhlExpressClient(CarrierClient):
    NAME = "dhl_express"
    DEFAULT_BASE_URL = "https://express.api.dhl.com/mydhlapi"

    def track(self, tracking_number: str) -> bytes:
        response = self.send(
            "GET",
            f"/shipments/{quote(tracking_number, safe='')}/tracking",
            params={"trackingView": "all-checkpoints", "levelOfDetail": "all"},
            headers={"Accept": "application/json"},
            auth=(
                self.credential("username", "api_key"),
                self.credential("password", "api_secret"),
            ),
        )
        return self.tracking_body(response)
