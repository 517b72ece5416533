"""A store's look on the tracking page: validation, and colours that stay readable.

Brand colours are the merchant's choice; text drawn on them is ours. Every pairing the
page uses is checked against WCAG 2.1 AA (4.5:1 for body text) and falls back to a colour
that passes, so a pale brand colour never makes the page unreadable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

FIELDS = ("logo_url", "primary", "accent", "support_url", "support_email", "custom_domain")
DEFAULT_PRIMARY = "#1f3a5f"
DEFAULT_LINK = "#1d4ed8"  # 6.7:1 on white
WHITE, INK = "#ffffff", "#111111"
AA = 4.5

_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class BrandingError(ValueError):
    pass


def colour(value: str, name: str) -> str:
    if not _COLOUR.match(value):
        raise BrandingError(f"{name}: {value!r} is not a colour like #1a2b3c or #abc")
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.lower()


def url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or any(c in value for c in "\"'<> ")
    ):
        raise BrandingError(f"{name}: {value!r} is not an http(s) URL")
    return value


def logo(value: str) -> str:
    # A data: URI or a same-origin path keeps the page free of requests to other hosts.
    if value.startswith("data:image/") and ";base64," in value and len(value) <= 40_000:
        return value
    if value.startswith("/") and not value.startswith("//") and " " not in value:
        return value
    return url(value, "logo_url")


def domain(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not _DOMAIN.match(value):
        raise BrandingError(f"custom_domain: {value!r} is not a host name like track.example.com")
    return value


def email(value: str) -> str:
    if not _EMAIL.match(value) or len(value) > 320:
        raise BrandingError(f"support_email: {value!r} is not an email address")
    return value


def validate(changes: dict[str, str | None]) -> dict[str, str | None]:
    """Checked and normalised values; None (or "") clears a field. BrandingError says which
    field is wrong and why."""
    checkers = {
        "logo_url": logo,
        "primary": lambda v: colour(v, "primary"),
        "accent": lambda v: colour(v, "accent"),
        "support_url": lambda v: url(v, "support_url"),
        "support_email": email,
        "custom_domain": domain,
    }
    out: dict[str, str | None] = {}
    for key, value in changes.items():
        if key not in checkers:
            raise BrandingError(f"unknown branding field {key!r} (known: {', '.join(FIELDS)})")
        out[key] = checkers[key](value.strip()) if value else None
    return out


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two #rrggbb colours, 1 to 21."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """White or near-black, whichever reads better; either reaches 4.5:1 on any colour."""
    return WHITE if contrast(background, WHITE) >= contrast(background, INK) else INK


@dataclass(frozen=True, slots=True)
class Theme:
    primary: str
    on_primary: str
    link: str
    logo_url: str | None
    support_url: str | None
    support_email: str | None


def theme(branding: dict[str, Any] | None) -> Theme:
    """The colours the page uses, each pairing AA-compliant whatever the brand says."""
    b = branding or {}

    def pick(key: str) -> str | None:
        try:
            return colour(str(b[key]), key) if b.get(key) else None
        except BrandingError:
            return None  # stored before validation existed, or edited by hand

    primary = pick("primary") or DEFAULT_PRIMARY
    link = next(
        (c for c in (pick("accent"), primary) if c and contrast(c, WHITE) >= AA), DEFAULT_LINK
    )
    return Theme(
        primary=primary,
        on_primary=text_on(primary),
        link=link,
        logo_url=b.get("logo_url") or None,
        support_url=b.get("support_url") or None,
        support_email=b.get("support_email") or None,
    )
