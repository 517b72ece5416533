"""Words the dialogue acts on whatever the NLU says: anger, billing disputes, asking for
a person, damaged or missing items, goodbyes, and topics the NLU has no intent for.

Simple lexicons, English and Spanish, matched on lower-cased text. They hand a
conversation to a person (anger, disputes, a person asked for) or name a topic; they never
disclose anything, so a false match costs a handoff or a question, not a leak.
"""

from __future__ import annotations

import re

_SWEARING = frozenset({
    "fuck", "fucking", "fucked", "shit", "shitty", "crap", "bullshit", "wtf", "asshole",
    "bastard", "idiot", "idiots", "idiotic", "stupid", "useless", "pathetic", "incompetent",
    "scam", "scammers", "scammed", "mierda", "joder", "puta", "estafa", "estafadores",
})  # fmt: skip
_ANGRY_PHRASES = (
    "ridiculous", "unacceptable", "outrageous", "disgusting", "furious", "worst service",
    "worst company", "fed up", "sick of", "sick and tired", "never again", "inaceptable",
    "ridículo", "vergüenza",
)  # fmt: skip
_BILLING_PHRASES = (
    "chargeback", "charge back", "dispute the charge", "disputing the charge",
    "dispute this charge", "charged twice", "double charged", "double-charged",
    "charged me twice", "overcharged", "over charged", "wrong amount", "unauthorized charge",
    "unauthorised charge", "did not authorize", "didn't authorize", "fraudulent charge",
    "contact my bank", "call my bank", "cobrado dos veces", "cargo no autorizado",
)  # fmt: skip
_DAMAGED_WORDS = (
    "damag", "broken", "broke", "smashed", "crushed", "cracked", "torn", "wrong item",
    "wrong size", "wrong colour", "wrong color", "defective", "roto", "dañad",
)  # fmt: skip
_HUMAN_PHRASES = (
    "a human", "real person", "a person", "someone real", "an agent", "a representative",
    "live agent", "live person", "speak to someone", "talk to someone", "customer service",
    "una persona", "un agente", "alguien real", "un humano",
)  # fmt: skip
_BYE_WORDS = frozenset({"bye", "goodbye", "adiós", "adios", "chao", "ciao"})
# (topic, words that name it, intents it may override): the NLU's intents do not cover
# every question; these are rules on the words, applied only where the NLU is unsure or
# read the message as a plain status question.
_CUES: tuple[tuple[str, tuple[str, ...], frozenset[str]], ...] = (
    ("refund_status", ("refund", "my money", "money back", "reembolso", "mi dinero"),
     frozenset({"order_status", "provide_info", "out_of_scope", "delay_reason"})),
    ("tracking", ("tracking number", "tracking code", "which carrier", "what carrier",
                  "carriers", "courier", "número de seguimiento", "transportista"),
     frozenset({"order_status", "out_of_scope", "delay_reason"})),
    ("items", ("what items", "which items", "items in", "what's in", "what is in", "contents",
               "what did i order", "hasn't shipped", "has not shipped", "not shipped yet",
               "artículos", "productos"),
     frozenset({"order_status", "out_of_scope", "delay_reason", "delivery_date"})),
)  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+")


def is_angry(text: str) -> bool:
    """Swearing, a word from the anger lexicon, or shouting (mostly capital letters)."""
    words = _WORD.findall(text)
    lowered = text.lower()
    if any(w.lower() in _SWEARING for w in words):
        return True
    if any(p in lowered for p in _ANGRY_PHRASES):
        return True
    letters = [c for w in words for c in w]
    upper = sum(c.isupper() for c in letters)
    # "UPS" or "NOT" alone is not shouting; three capitalised words of some length are.
    shouted = [w for w in words if len(w) >= 2 and w.isupper()]
    return len(letters) >= 12 and upper >= 0.8 * len(letters) and len(shouted) >= 3


def is_billing_dispute(text: str) -> bool:
    lowered = text.lower()
    return any(p in lowered for p in _BILLING_PHRASES)


def wants_person(text: str) -> bool:
    lowered = text.lower()
    return any(p in lowered for p in _HUMAN_PHRASES)


def cue(text: str, intent: str, confident: bool) -> str | None:
    """The topic a message names in so many words, where the NLU's reading allows it."""
    lowered = text.lower()
    words = set(_WORD.findall(lowered))
    if words & _BYE_WORDS and (not confident or intent in ("deny", "affirm", "out_of_scope")):
        return "goodbye"
    for topic, phrases, overrides in _CUES:
        if (not confident or intent in overrides) and any(p in lowered for p in phrases):
            return topic
    return None


def damage_or_missing(text: str) -> str:
    lowered = text.lower()
    return "damaged_item" if any(w in lowered for w in _DAMAGED_WORDS) else "missing_item"
