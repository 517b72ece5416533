"""Messages with personal data masked, for logs, monitoring and the conversation API.

Masked: emails, the order number, phone, postal code and tracking number the NLU found,
and then any remaining token with three or more digits (codes, numbers it did not
recognise), so that what it missed is masked too. Words stay, so a reviewer still sees
what was asked.
"""

from __future__ import annotations

import re

from wismo.conversation.nlu.entities import Entities

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")
# Tokens that hold a digit, with the spaces between them ("+1 202 555 0143"); masked when
# they hold three digits or more together.
_DIGITS = re.compile(r"[+#(]?[\w().-]*\d[\w().-]*(?:\s[+#(]?[\w().-]*\d[\w().-]*)*")
_MASKS = (
    ("order_number", "[order]"),
    ("tracking_number", "[tracking]"),
    ("phone", "[phone]"),
    ("postal_code", "[postcode]"),
)


def redact(text: str, entities: Entities | None = None) -> str:
    out = _EMAIL.sub("[email]", text)
    if entities is not None:
        for name, mask in _MASKS:
            value = getattr(entities, name)
            if value and len(value) >= 2:
                out = out.replace(value, mask)
                if value.startswith("+"):
                    continue
                out = re.sub(re.escape(value), mask, out, flags=re.IGNORECASE)
    return _DIGITS.sub(_mask_number, out)


def _mask_number(match: re.Match[str]) -> str:
    token = match.group(0)
    if sum(c.isdigit() for c in token) < 3:
        return token
    trailing = token[len(token.rstrip(".,)")) :]
    return "[number]" + trailing
