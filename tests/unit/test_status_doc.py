"""docs/status-model.md and the code name the same milestones and reasons."""

from __future__ import annotations

import re
from pathlib import Path

from wismo.domain.milestones import Milestone, Reason
from wismo.services.wording import PROBLEM_TEXT, STATUS_TEXT

DOC = Path(__file__).resolve().parents[2] / "docs" / "status-model.md"


def _codes(section: str) -> set[str]:
    text = DOC.read_text()
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", part, flags=re.M))


def test_every_milestone_is_documented() -> None:
    """Each milestone has a row in the milestones table, and no row is stale."""
    assert _codes("Milestones") == {m.value for m in Milestone}


def test_every_reason_is_documented() -> None:
    """Each reason has a row in the reasons table, and no row is stale."""
    assert _codes("Reasons") == {r.value for r in Reason}


def test_every_code_has_customer_wording() -> None:
    """Every milestone and every problem reason has plain words for customers."""
    assert set(STATUS_TEXT) == set(Milestone)
    assert set(PROBLEM_TEXT) == set(Reason) - {Reason.NONE}
