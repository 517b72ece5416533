"""La Poste Suivi v2: `GET /suivi/v2/idships/{idShip}?lang=fr_FR` with the `X-Okapi-Key`
header (the application's key from developer.laposte.fr). Optional setting `lang` (fr_FR,
en_GB, ...; fr_FR by default). Credentials: api_key.
"""

from __future__ import annotations

from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import CarrierClient


class LaPosteClient(CarrierClient):
    NAME = "laposte"
    DEFAULT_BASE_URL = "https://api.laposte.fr"

    def track(self, tracking_number: str) -> bytes:
        lang = self._settings.get("lang")
        response = self.send(
            "GET",
            f"/suivi/v2/idships/{quote(tracking_number, safe='')}",
            params={"lang": lang if isinstance(lang, str) and lang else "fr_FR"},
            headers={"Accept": "application/json", "X-Okapi-Key": self.credential("api_key")},
        )
        return self.tracking_body(response)
