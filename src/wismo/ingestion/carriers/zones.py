"""Time zones for carrier local times.

Many carriers report a scan's wall-clock time at the scan's location with no offset. Taking
that as UTC (a common library fault) moves every scan by hours and can put "delivered"
before "out for delivery". Here the zone comes from the scan's location (country, and the
state or province where a country spans several zones), else the carrier's home zone.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wismo.domain.model import Location, zone_label

_EASTERN = "CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV"
_CENTRAL = "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI"
_US = {
    **dict.fromkeys(_EASTERN.split(), "America/New_York"),
    **dict.fromkeys(_CENTRAL.split(), "America/Chicago"),
    **dict.fromkeys(("CO", "ID", "MT", "NM", "UT", "WY"), "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys(("CA", "NV", "OR", "WA"), "America/Los_Angeles"),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
    "PR": "America/Puerto_Rico",
}
_CA = {
    "BC": "America/Vancouver",
    "AB": "America/Edmonton",
    "SK": "America/Regina",
    "MB": "America/Winnipeg",
    "ON": "America/Toronto",
    "QC": "America/Toronto",
    "NB": "America/Halifax",
    "NS": "America/Halifax",
    "PE": "America/Halifax",
    "NL": "America/St_Johns",
    "YT": "America/Whitehorse",
    "NT": "America/Yellowknife",
    "NU": "America/Iqaluit",
}
_AU = {
    "NSW": "Australia/Sydney",
    "ACT": "Australia/Sydney",
    "VIC": "Australia/Melbourne",
    "QLD": "Australia/Brisbane",
    "SA": "Australia/Adelaide",
    "NT": "Australia/Darwin",
    "WA": "Australia/Perth",
    "TAS": "Australia/Hobart",
}
# Countries in one zone, or where one zone holds most parcels.
_COUNTRY = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "GB": "Europe/London",
    "UK": "Europe/London",
    "IE": "Europe/Dublin",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "LU": "Europe/Luxembourg",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "IT": "Europe/Rome",
    "AT": "Europe/Vienna",
    "CH": "Europe/Zurich",
    "PL": "Europe/Warsaw",
    "CZ": "Europe/Prague",
    "SK": "Europe/Bratislava",
    "HU": "Europe/Budapest",
    "SI": "Europe/Ljubljana",
    "HR": "Europe/Zagreb",
    "RO": "Europe/Bucharest",
    "BG": "Europe/Sofia",
    "GR": "Europe/Athens",
    "DK": "Europe/Copenhagen",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "FI": "Europe/Helsinki",
    "EE": "Europe/Tallinn",
    "LV": "Europe/Riga",
    "LT": "Europe/Vilnius",
    "TR": "Europe/Istanbul",
    "IL": "Asia/Jerusalem",
    "AE": "Asia/Dubai",
    "SA": "Asia/Riyadh",
    "IN": "Asia/Kolkata",
    "CN": "Asia/Shanghai",
    "HK": "Asia/Hong_Kong",
    "TW": "Asia/Taipei",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "SG": "Asia/Singapore",
    "MY": "Asia/Kuala_Lumpur",
    "TH": "Asia/Bangkok",
    "VN": "Asia/Ho_Chi_Minh",
    "PH": "Asia/Manila",
    "ID": "Asia/Jakarta",
    "NZ": "Pacific/Auckland",
    "ZA": "Africa/Johannesburg",
    "MX": "America/Mexico_City",
    "BR": "America/Sao_Paulo",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "CO": "America/Bogota",
    "RU": "Europe/Moscow",
}


def zone_for(location: Location | None, default: str | None = None) -> ZoneInfo | None:
    """The zone of a place, as far as the place tells; else `default`."""
    name: str | None = None
    if location is not None and location.country:
        country = location.country.upper()
        region = (location.region or "").upper().strip()
        by_region = {"US": _US, "CA": _CA, "AU": _AU}.get(country)
        name = by_region[region] if by_region and region in by_region else _COUNTRY.get(country)
    name = name or default
    return _zone(name) if name else None


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$")


def parse_instant(
    text: str, location: Location | None = None, default_zone: str | None = None
) -> tuple[datetime, str | None]:
    """An aware instant and the zone label to show it in.

    Accepts ISO 8601 with "Z", "+02:00" or "+0200"; a time without an offset is local to
    `location` (or `default_zone`). Raises ValueError when it cannot be read or placed.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    match = _OFFSET.search(value)
    if match and ":" not in value[match.start() :]:
        value = value[: match.start()] + f"{match[1]}{match[2]}:{match[3]}"
    moment = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    if moment.tzinfo is not None:
        return moment, zone_label(moment)
    return localise(moment, location, default_zone)


def localise(
    naive: datetime, location: Location | None, default_zone: str | None
) -> tuple[datetime, str | None]:
    zone = zone_for(location, default_zone)
    if zone is None:
        raise ValueError("local time with no zone and no place to take one from")
    return naive.replace(tzinfo=zone), zone.key


def fixed_offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))
