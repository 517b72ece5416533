"""`understand`: one customer message -> intent, confidence, entities and language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from wismo.conversation.nlu import classifier
from wismo.conversation.nlu.entities import MAX_CHARS, Entities, OrderPatterns, extract
from wismo.conversation.nlu.intents import languages

# Below this confidence the dialogue asks a clarifying question instead of acting on the
# intent. Chosen on the held-out messages in tests/unit/conversation/test_nlu_classifier.py:
# from 0.45 up, 93% of them are at or above it and all of those are right, while
# gibberish stays below; lower, wrong guesses get through; higher, only coverage drops.
CONFIDENT = 0.45
# What an empty message is: not understood, with no confidence at all.
EMPTY_INTENT = "out_of_scope"


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str
    intent: str
    confidence: float  # 0..1
    entities: Entities
    language: str  # a data file's code: "en", "es"

    @property
    def confident(self) -> bool:
        return self.confidence >= CONFIDENT


def understand(
    text: str,
    *,
    order_patterns: OrderPatterns = (),
    default_region: str = "US",
    today: date | None = None,
    expecting: str | None = None,
) -> Understanding:
    """Understand one message.

    `order_patterns`: the store's own order-number formats (regular expressions; the first
    group, or the whole match, is the number). `default_region`: ISO country for phone
    numbers written without a country code and for reading 3/12 as a date. `today`:
    what "yesterday" is relative to (default: today in UTC). `expecting`: the slot the
    agent just asked for ("order_number", "postal_code", "phone", "tracking_number",
    "email"), so that a bare "94107" is read as what was asked. Raises ValueError for a bad
    order pattern or `expecting`; never for the text itself.
    """
    on = today if today is not None else datetime.now(UTC).date()
    extraction = extract(
        text,
        order_patterns=order_patterns,
        default_region=default_region,
        today=on,
        expecting=expecting,
    )
    if not text.strip():
        return Understanding(text, EMPTY_INTENT, 0.0, extraction.entities, _fallback_language())
    prepared = extraction.masked[: classifier.MAX_FEATURE_CHARS].lower()
    prediction = classifier.classify(prepared, text[:MAX_CHARS])
    return Understanding(
        text,
        prediction.intent,
        round(prediction.confidence, 4),
        extraction.entities,
        prediction.language,
    )


def _fallback_language() -> str:
    return languages()[0].code
