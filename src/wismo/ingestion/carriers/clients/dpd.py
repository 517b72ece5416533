"""DPD Germany parcel life cycle (JSON): `GET /rest/plc/{locale}/{parcelNumber}` on
tracking.dpd.de, which takes no credentials. Optional setting `locale` (en_US, de_DE, ...;
en_US by default).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from wismo.ingestion.carriers.clients.base import CarrierClient

_LOCALE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")


class DpdClient(CarrierClient):
    NAME = "dpd"
    DEFAULT_BASE_URL = "https://tracking.dpd.de"

    def track(self, tracking_number: str) -> bytes:
        locale = str(self._settings.get("locale") or "").replace("-", "_")
        if not _LOCALE.match(locale):
            locale = "en_US"
        response = self.send(
            "GET",
            f"/rest/plc/{locale}/{quote(tracking_number, safe='')}",
            headers={"Accept": "application/json"},
        )
        return self.tracking_body(response)
