"""Canada Post Tracking web service, Get Tracking Details (REST):
`GET /vis/track/pin/{pin}/detail` with HTTP Basic authentication (the API key's user id and
password), `Accept: application/vnd.cpc.track-v2+xml` (`*/*` is refused) and
`Accept-language` en-CA or fr-CA (setting `locale`, en-CA by default).
Credentials: username (or api_key), password (or api_secret).
"""

from __future__ import annotations

from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import CarrierClient


class CanadaPostClient(CarrierClient):
    NAME = "canadapost"
    DEFAULT_BASE_URL = "https://soa-gw.canadapost.ca"

    def track(self, tracking_number: str) -> bytes:
        locale = str(self._settings.get("locale") or "en-CA")
        response = self.send(
            "GET",
            f"/vis/track/pin/{quote(tracking_number, safe='')}/detail",
            headers={
                "Accept": "application/vnd.cpc.track-v2+xml",
                "Accept-language": "fr-CA" if locale.lower().startswith("fr") else "en-CA",
            },
            auth=(
                self.credential("username", "api_key"),
                self.credential("password", "api_secret"),
            ),
        )
        return self.tracking_body(response)
