"""Carrier code tables, loaded from `codes/<carrier>.csv`.

A table row is `code,milestone,reason` (reason may be empty). Codes are canonicalised
before they are stored and before lookup (trimmed, upper case, leading zeros dropped from
numeric codes, so `0174` and `174` are one code). A code that appears twice with different
meanings is an error at load time, never "first match wins".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from wismo.domain.milestones import Milestone, Reason, canonical_code

__all__ = ["CodeTable", "Mapped", "MappingError", "canonical_code", "parse_table", "table_for"]


class MappingError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Mapped:
    milestone: Milestone
    reason: Reason


class CodeTable:
    def __init__(self, carrier: str, rows: dict[str, Mapped]) -> None:
        self.carrier = carrier
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, codes: tuple[str, ...]) -> tuple[Mapped, str] | None:
        """The first of `codes` (most specific first) the table knows, and that code."""
        for code in codes:
            key = canonical_code(code)
            found = self._rows.get(key)
            if found is not None:
                return found, key
        return None

    def items(self) -> list[tuple[str, Mapped]]:
        return sorted(self._rows.items())


def parse_table(carrier: str, text: str) -> CodeTable:
    rows: dict[str, Mapped] = {}
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for number, row in enumerate(csv.reader(lines), 1):
        if row and row[0].strip().lower() == "code":
            continue  # header
        if len(row) < 2:
            raise MappingError(f"{carrier}: row {number} needs code,milestone[,reason]")
        code, milestone_text = row[0], row[1].strip()
        reason_text = row[2].strip() if len(row) > 2 and row[2].strip() else "none"
        try:
            mapped = Mapped(Milestone(milestone_text), Reason(reason_text))
        except ValueError as exc:
            raise MappingError(f"{carrier}: row {number} ({code!r}): {exc}") from None
        key = canonical_code(code)
        if key in rows and rows[key] != mapped:
            raise MappingError(f"{carrier}: code {key!r} maps to both {rows[key]} and {mapped}")
        rows[key] = mapped
    return CodeTable(carrier, rows)


@cache
def table_for(carrier: str) -> CodeTable:
    """The carrier's table from the package data; an empty table if it has none."""
    path = resources.files("wismo.ingestion.carriers").joinpath("codes", f"{carrier}.csv")
    if not path.is_file():
        return CodeTable(carrier, {})
    return parse_table(carrier, path.read_text(encoding="utf-8"))


def all_tables() -> list[str]:
    folder = resources.files("wismo.ingestion.carriers").joinpath("codes")
    return sorted(
        p.name.removesuffix(".csv")
        for p in folder.iterdir()
        if p.name.endswith(".csv") and not p.name.startswith("_")
    )
