"""Reads a carrier's message when its code is unknown (or the carrier sends no code).

Rules live in `codes/_messages.csv` as `pattern,milestone,reason,weight` (a case-insensitive
regular expression). Every matching rule is scored; the highest weight wins and a longer
pattern breaks ties, so "delivery attempted" beats "delivery", and no rule wins just by
being listed first. English, French and German wording is covered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from wismo.domain.milestones import Milestone, Reason
from wismo.ingestion.carriers.mapping import Mapped, MappingError


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: re.Pattern[str]
    mapped: Mapped
    weight: int


def parse_rules(text: str) -> list[Rule]:
    """Rules from `pattern,milestone,reason,weight` lines.

    Split from the right, so a pattern may contain commas without quoting (a quoted
    pattern, CSV-style, is accepted too).
    """
    rules: list[Rule] = []
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for number, raw in enumerate(lines, 1):
        parts = raw.rsplit(",", 3)
        if parts[0] == "pattern":
            continue
        if len(parts) != 4:
            raise MappingError(f"messages: row {number} needs pattern,milestone,reason,weight")
        pattern, milestone, reason, weight = parts
        if len(pattern) > 1 and pattern[0] == pattern[-1] == '"':
            pattern = pattern[1:-1].replace('""', '"')
        try:
            rules.append(
                Rule(
                    re.compile(pattern, re.IGNORECASE),
                    Mapped(Milestone(milestone.strip()), Reason(reason.strip() or "none")),
                    int(weight),
                )
            )
        except (ValueError, re.error) as exc:
            raise MappingError(f"messages: row {number}: {exc}") from None
    return rules


@cache
def rules() -> list[Rule]:
    path = resources.files("wismo.ingestion.carriers").joinpath("codes", "_messages.csv")
    return parse_rules(path.read_text(encoding="utf-8"))


def classify(message: str | None) -> Mapped | None:
    """The milestone a message most likely means, or None if nothing matches."""
    if not message:
        return None
    return _classify(message)


# Carriers repeat the same few hundred wordings: each is scored against the rules once.
@lru_cache(maxsize=8192)
def _classify(message: str) -> Mapped | None:
    best: tuple[int, int, Mapped] | None = None
    for rule in rules():
        if rule.pattern.search(message):
            score = (rule.weight, len(rule.pattern.pattern), rule.mapped)
            if best is None or score[:2] > best[:2]:
                best = score
    return best[2] if best else None
