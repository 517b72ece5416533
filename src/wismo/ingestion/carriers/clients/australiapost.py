"""Australia Post Shipping and Tracking API, Track items:
`GET /shipping/v1/track?tracking_ids=` with HTTP Basic authentication (API key : password)
and the `Account-Number` header (the charge account).
Credentials: api_key (or username), password (or api_secret), account_number (or setting).
"""

from __future__ import annotations

from wismo.ingestion.carriers.clients.base import CarrierClient


class AustraliaPostClient(CarrierClient):
    NAME = "australiapost"
    DEFAULT_BASE_URL = "https://digitalapi.auspost.com.au"

    def track(self, tracking_number: str) -> bytes:
        account = self._settings.get("account_number")
        if not isinstance(account, str) or not account.strip():
            account = self.credential("account_number")
        response = self.send(
            "GET",
            "/shipping/v1/track",
            params={"tracking_ids": tracking_number},
            headers={"Accept": "application/json", "Account-Number": account.strip()},
            auth=(
                self.credential("api_key", "username"),
                self.credential("password", "api_secret"),
            ),
        )
        return self.tracking_body(response)
