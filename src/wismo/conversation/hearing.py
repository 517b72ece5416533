"""What one customer message says: the offline understanding, the optional language model
below `CONFIDENT`, a one-time code typed while one is awaited, and the language to reply
in. Used by `agent.Agent.turn`; imports no framework (the package rule)."""

from __future__ import annotations

import re
from datetime import date

from wismo.conversation import dialogue as dlg
from wismo.conversation.nlu import CONFIDENT, INTENTS, Understanding, understand
from wismo.conversation.nlu.entities import Entities
from wismo.conversation.ports import LanguageModel, StoreInfo
from wismo.conversation.verification import e164

_CODE = re.compile(r"(?<!\d)(\d{3})[\s-]?(\d{3})(?!\d)")
_WORDS = re.compile(r"[^\W\d_]{2,}")
_EMAILS = re.compile(r"\S+@\S+")
_ENTITY_KEYS = ("order_number", "email", "phone", "postal_code", "tracking_number")


def hear(
    text: str,
    state: dlg.State,
    store: StoreInfo,
    today: date,
    language_model: LanguageModel | None,
) -> Understanding:
    """The NLU's reading of `text`, helped by the language model only when the NLU is
    unsure, only with an intent it knows, and only with entities the message holds."""
    patterns = store.settings.get("order_patterns")
    u = understand(
        text,
        order_patterns=tuple(str(p) for p in patterns) if isinstance(patterns, list) else (),
        default_region=store.country or "US",
        today=today,
        expecting=dlg.expecting(state),
    )
    if u.confidence >= CONFIDENT or language_model is None or state.phase == "handed_over":
        return u
    got = language_model.interpret(text, intents=INTENTS, language=u.language)
    if got is None or got.intent not in INTENTS:
        return u
    # The model's entities are taken only where the message holds them verbatim: it
    # may read a message, never invent a number.
    found = {
        k: v
        for k, v in got.entities.items()
        if k in _ENTITY_KEYS and isinstance(v, str) and v and v in text
    }
    e = u.entities
    entities = Entities(
        order_number=e.order_number or found.get("order_number"),
        email=e.email or (found["email"].lower() if "email" in found else None),
        phone=e.phone or e164(found.get("phone"), store.country),
        postal_code=e.postal_code or found.get("postal_code"),
        tracking_number=e.tracking_number or found.get("tracking_number"),
        dates=e.dates,
    )
    return Understanding(text, got.intent, max(u.confidence, CONFIDENT), entities, u.language)


def code_in(text: str) -> str | None:
    """Six digits (as "123456", "123 456" or "123-456"), or None."""
    found = _CODE.search(text)
    return found.group(1) + found.group(2) if found else None


def reply_language(text: str, detected: str, current: str) -> str:
    """Reply in the language the customer writes in, once a message has words enough to
    tell (a number, an email or "ok" does not switch)."""
    words = _WORDS.findall(_EMAILS.sub(" ", text))
    if len(words) >= 2 or any(len(w) >= 5 for w in words):
        return detected
    return current
