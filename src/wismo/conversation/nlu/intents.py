"""The intents the agent knows, and each language's data file (`data/<lang>.yaml`).

A language file holds the labelled examples the classifier learns from, the stopwords that
tell the language apart, the cue words that give a number its meaning ("order 1042" vs
"zip 94107") and the words for dates. Adding a language is adding a file: no code changes.
Intents are labels shared by every language, so one model learns from all files at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

INTENTS: tuple[str, ...] = (
    "order_status",  # where is it, has it shipped, what is happening with it
    "delivery_date",  # when will it arrive
    "delay_reason",  # why is it late or stuck
    "return_status",  # where is the return I sent back
    "refund_status",  # where is my money back
    "start_return",  # I want to send something back or exchange it
    "cancel_order",
    "change_address",
    "missing_or_damaged_item",  # delivered but not there, broken, wrong item
    "human_agent",
    "greeting",
    "goodbye",  # includes thanks that close the conversation
    "affirm",  # yes, an answer to the agent's question
    "deny",  # no
    "provide_info",  # only details: an order number, an email, a postal code
    "out_of_scope",  # anything a store's order-status agent does not answer
)

# Intents whose answer is the order's delivery status: what "order status" means in figures.
ORDER_STATUS_FAMILY = frozenset({"order_status", "delivery_date", "delay_reason"})

# "link": words that may stand between a cue and its value ("order number is 1042");
# "copula": the words that let a value come first ("1042 is my order").
CUE_KINDS = ("order", "tracking", "postal", "phone", "link", "copula")


@dataclass(frozen=True, slots=True, eq=False)
class Language:
    """One language's data file, as read. Compared (and hashed) by identity: `languages()`
    reads each file once, so caches keyed on it stay valid."""

    code: str
    stopwords: frozenset[str]
    cues: Mapping[str, tuple[str, ...]]  # kind (CUE_KINDS) -> words or phrases, lower case
    months: Mapping[str, int]  # name or abbreviation -> 1..12
    weekdays: Mapping[str, int]  # name or abbreviation -> 0 (Monday) .. 6
    days: Mapping[str, int]  # "yesterday" -> -1
    units: Mapping[str, int]  # "week" -> 7 (days)
    ago_before: tuple[str, ...]  # "hace" 3 días
    ago_after: tuple[str, ...]  # 3 days "ago"
    ahead_before: tuple[str, ...]  # "in" 3 days
    past_words: tuple[str, ...]  # "last" Monday
    future_words: tuple[str, ...]  # "next" Monday
    connectors: tuple[str, ...]  # 12 "of" March, 12 "de" marzo
    examples: Mapping[str, tuple[str, ...]]  # intent -> utterances


def parse_language(code: str, raw: Mapping[str, Any]) -> Language:
    """A `Language` from a data file's mapping; raises ValueError naming the bad part."""
    examples = raw.get("examples") or {}
    unknown = sorted(set(examples) - set(INTENTS))
    if unknown:
        raise ValueError(f"nlu data {code}: unknown intents {unknown}")
    dates = raw.get("dates") or {}
    cues = raw.get("cues") or {}
    if set(cues) - set(CUE_KINDS):
        raise ValueError(f"nlu data {code}: unknown cue kinds {sorted(set(cues) - set(CUE_KINDS))}")

    def words(value: Any) -> tuple[str, ...]:
        return tuple(str(w).lower() for w in (value or ()))

    def numbers(value: Any, low: int, high: int, what: str) -> dict[str, int]:
        found = {str(k).lower(): int(v) for k, v in (value or {}).items()}
        bad = sorted(k for k, v in found.items() if not low <= v <= high)
        if bad:
            raise ValueError(f"nlu data {code}: {what} out of range: {bad}")
        return found

    return Language(
        code=code,
        stopwords=frozenset(words(raw.get("stopwords"))),
        cues={kind: words(cues.get(kind)) for kind in CUE_KINDS},
        months=numbers(dates.get("months"), 1, 12, "months"),
        weekdays=numbers(dates.get("weekdays"), 0, 6, "weekdays"),
        days=numbers(dates.get("days"), -7, 7, "days"),
        units=numbers(dates.get("units"), 1, 31, "units"),
        ago_before=words(dates.get("ago_before")),
        ago_after=words(dates.get("ago_after")),
        ahead_before=words(dates.get("ahead_before")),
        past_words=words(dates.get("past_words")),
        future_words=words(dates.get("future_words")),
        connectors=words(dates.get("connectors")),
        examples={
            intent: tuple(str(t) for t in texts if str(t).strip())
            for intent, texts in examples.items()
        },
    )


@cache
def languages() -> tuple[Language, ...]:
    """Every data file shipped in `nlu/data`, English first (the fallback language)."""
    folder = resources.files("wismo.conversation.nlu").joinpath("data")
    found: list[Language] = []
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".yaml"):
            continue
        raw = yaml.safe_load(entry.read_text(encoding="utf-8")) or {}
        found.append(parse_language(name.removesuffix(".yaml"), raw))
    if not found:
        raise RuntimeError("nlu: no language data files in wismo/conversation/nlu/data")
    found.sort(key=lambda lang: (lang.code != "en", lang.code))
    return tuple(found)
