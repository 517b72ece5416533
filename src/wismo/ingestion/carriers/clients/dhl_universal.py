"""DHL Shipment Tracking - Unified API: `GET /track/shipments?trackingNumber=` with the
`DHL-API-Key` header. Optional settings: `service` (express, parcel-de, ecommerce, ...)
and `language`. Credentials: api_key.
"""

from __future__ import annotations

from wismo.ingestion.carriers.clients.base import CarrierClient


class DhlUnifiedClient(CarrierClient):
    NAME = "dhl_universal"
    DEFAULT_BASE_URL = "https://api-eu.dhl.com"

    def track(self, tracking_number: str) -> bytes:
        params = {"trackingNumber": tracking_number}
        for key in ("service", "language"):
            value = self._settings.get(key)
            if isinstance(value, str) and value:
                params[key] = value
        response = self.send(
            "GET",
            "/track/shipments",
            params=params,
            headers={"Accept": "application/json", "DHL-API-Key": self.credential("api_key")},
        )
        return self.tracking_body(response)
