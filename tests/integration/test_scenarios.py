"""Conversation scenarios (scenarios/*.yaml) against the agent, on SQLite and PostgreSQL.

Every scenario must pass, and across all of them no reply may state a fact that is not on
the record (grounding) or an order's fact before the customer is verified for it
(disclosure). The runner's two measures are themselves tested on agents that leak and
invent, so that "0 violations" means the measures looked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from wismo.bootstrap import Wismo
from wismo.cli.agent_test import scenario_harness
from wismo.cli.main import app
from wismo.conversation.nlu.intents import INTENTS
from wismo.conversation.scenario_world import WorldError, load_world
from wismo.conversation.scenarios import ScenarioError, load_scenarios, run
from wismo.testing import FakeClock

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def test_every_scenario_passes_with_no_grounding_or_disclosure_violation(
    wismo: Wismo, clock: FakeClock
) -> None:
    """All scenarios pass; grounding and disclosure violations are both zero."""
    world = load_world(SCENARIOS / "world.yaml")
    scenarios = load_scenarios(SCENARIOS)
    harness, _ = scenario_harness(wismo, world, clock)
    report = run(scenarios, world, harness)
    failed = [
        f"{r.id}: " + "; ".join([*r.failures, *r.disclosures, *r.ungrounded])
        for r in report.results
        if not r.passed
    ]
    assert len(report.results) >= 100
    assert report.grounding_violations == 0, failed
    assert report.disclosure_violations == 0, failed
    assert not failed, "\n".join(failed)


def test_scenarios_cover_every_intent_and_handoff_reason() -> None:
    """The scenarios expect every intent at least once and the main handoff reasons."""
    scenarios = load_scenarios(SCENARIOS)
    intents = {i for s in scenarios for t in s.turns for i in t.expect.intent}
    reasons = {r for s in scenarios for t in s.turns for r in t.expect.handoff_reason}
    assert set(INTENTS) <= intents, set(INTENTS) - intents
    assert {"human_requested", "damaged_item", "missing_item", "locked_out"} <= reasons
    assert {s.channel for s in scenarios} >= {"chat", "sms", "voice", "email", "terminal"}


# -- the measures catch what they are for ------------------------------------------------


@dataclass
class _Reply:
    conversation_id: str
    reply: str
    intent: str = "order_status"
    level: str = "anonymous"
    order_number: str | None = None
    handed_over: bool = False
    handoff_reason: str | None = None
    ticket_id: str | None = None
    grounded: bool = True
    ended: bool = False
    asks: str = "none"


class _ScriptedAgent:
    """Says what the test tells it, built from the store's own record."""

    def __init__(self, w: Wismo, script: Callable[[str, Any], _Reply]) -> None:
        self._w = w
        self._script = script
        self._store: dict[str, int] = {}

    def start(self, store_id: int, channel: str, **_: Any) -> _Reply:
        cid = f"c{len(self._store) + 1}"
        self._store[cid] = store_id
        return _Reply(cid, "Hello!")

    def turn(self, conversation_id: str, text: str) -> _Reply:
        answer = self._w.status.by_number(self._store[conversation_id], "1004")
        assert answer is not None
        return self._script(conversation_id, answer)


def _one_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "one.yaml"
    path.write_text(
        "scenarios:\n"
        "  - id: one\n"
        "    description: Asks about an order.\n"
        "    turns:\n"
        "      - say: where is order 1004?\n",
        encoding="utf-8",
    )
    return path


def _run_scripted(wismo: Wismo, clock: FakeClock, tmp_path: Path, script: Any) -> Any:
    world = load_world(SCENARIOS / "world.yaml")
    harness, _ = scenario_harness(wismo, world, clock)
    harness = dataclasses.replace(harness, agent=_ScriptedAgent(wismo, script))
    return run(load_scenarios(_one_scenario(tmp_path)), world, harness)


def test_disclosure_before_verification_is_counted(
    wismo: Wismo, clock: FakeClock, tmp_path: Path
) -> None:
    """An agent that gives the tracking number, place and item before verification is caught."""

    def leak(cid: str, a: Any) -> _Reply:
        p = a.packages[0]
        return _Reply(
            cid,
            f"It is with {p.carrier_name}, {p.tracking_number}, last seen in Jersey City: "
            f"{p.contents[0].title}. Your other order is 1005.",
        )

    report = _run_scripted(wismo, clock, tmp_path, leak)
    leaks = report.results[0].disclosures
    assert report.disclosure_violations >= 3, leaks
    assert any("771234560041" in d for d in leaks)
    assert any("trail running shorts" in d for d in leaks)
    assert any("jersey city" in d.casefold() for d in leaks)
    assert any("order 1005: order_number '1005'" in d for d in leaks), leaks


def test_invented_fact_after_verification_is_counted(
    wismo: Wismo, clock: FakeClock, tmp_path: Path
) -> None:
    """A verified reply with a date and an amount not on the record is ungrounded."""

    def invent(cid: str, a: Any) -> _Reply:
        text = f"Order {a.order_number} arrives on 3 March and we refunded $12.34."
        return _Reply(cid, text, level="verified", order_number=a.order_number)

    report = _run_scripted(wismo, clock, tmp_path, invent)
    found = report.results[0].ungrounded
    assert any("'3 March'" in v for v in found), found
    assert any("'$12.34'" in v for v in found), found
    assert report.disclosure_violations == 0


def test_verified_customer_may_hear_their_own_facts(
    wismo: Wismo, clock: FakeClock, tmp_path: Path
) -> None:
    """The same facts once verified for that order count as neither violation."""

    def tell(cid: str, a: Any) -> _Reply:
        p = a.packages[0]
        text = f"Order {a.order_number} is with {p.carrier_name}, tracking {p.tracking_number}."
        return _Reply(cid, text, level="verified", order_number=a.order_number)

    report = _run_scripted(wismo, clock, tmp_path, tell)
    assert report.grounding_violations == 0, report.results[0].ungrounded
    assert report.disclosure_violations == 0, report.results[0].disclosures


# -- loading: errors name the file and the field ------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("scenarios: []\n", "scenarios: expected a non-empty list"),
        (
            "scenarios:\n  - id: a\n    description: d\n    turns:\n      - say: hi\n"
            "        expect: {level: verifed}\n",
            "scenario 'a': turns[0].expect.level: must be one of anonymous, identified, verified",
        ),
        (
            "scenarios:\n  - id: a\n    description: d\n    turns:\n      - say: hi\n"
            "        expect: {intent: where_is_it}\n",
            "turns[0].expect.intent: must be one of",
        ),
        (
            "scenarios:\n  - id: a\n    description: d\n    turns:\n      - say: hi\n"
            "        expect: {mentions: ['$order:1001.colour']}\n",
            "turns[0].expect.mentions[0]: unknown short form 'colour'",
        ),
        (
            "scenarios:\n  - id: a\n    description: d\n    turns:\n      - say: hi\n"
            "        sleep: 3\n",
            "turns[0]: unknown field 'sleep'",
        ),
        (
            "scenarios:\n  - id: a\n    description: d\n    turns:\n      - say: hi\n"
            "        advance: soon\n",
            "turns[0].advance: 'soon' is not a relative time",
        ),
        ("scenarios:\n  - id: a\n    turns:\n      - say: hi\n", "scenario 'a': description"),
        ("scenarios:\n  - id: Bad Id!\n", "scenarios[0].id: expected a short slug"),
        ("scenarios: [\n", "not valid YAML"),
    ],
)
def test_bad_scenario_files_are_refused_naming_file_and_field(
    tmp_path: Path, body: str, message: str
) -> None:
    """A malformed scenario file is refused with the file, scenario and field named."""
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenarios(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    """Two scenarios with one id, in two files, are refused naming both files."""
    one = "scenarios:\n  - id: same\n    description: d\n    turns:\n      - say: hi\n"
    (tmp_path / "a.yaml").write_text(one, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(one, encoding="utf-8")
    with pytest.raises(
        ScenarioError, match=r"b\.yaml: scenario 'same': id already used in .*a\.yaml"
    ):
        load_scenarios(tmp_path)


def test_bad_world_is_refused_naming_the_field(tmp_path: Path) -> None:
    """A world order naming an unknown customer is refused with the field's path."""
    path = tmp_path / "world.yaml"
    path.write_text(
        "store: {slug: s, name: S, country: US, time_zone: America/New_York}\n"
        "orders:\n  - {number: '1', customer: nobody, placed: -1d, lines: [[L1, Mug, 1]]}\n",
        encoding="utf-8",
    )
    with pytest.raises(WorldError, match=r"orders\[0\]\.customer: no customer 'nobody'"):
        load_world(path)


def test_reference_to_a_missing_fact_is_refused_before_running(
    wismo: Wismo, clock: FakeClock, tmp_path: Path
) -> None:
    """A fact reference the record cannot resolve stops the run, naming where it is."""
    path = tmp_path / "refs.yaml"
    path.write_text(
        "scenarios:\n  - id: refs\n    description: d\n    turns:\n      - say: hi\n"
        "        expect: {mentions: ['$order:1007.tracking']}\n",
        encoding="utf-8",
    )
    world = load_world(SCENARIOS / "world.yaml")
    harness, _ = scenario_harness(wismo, world, clock)
    with pytest.raises(ScenarioError, match=r"scenario 'refs': turns\[0\]: .*1007"):
        run(load_scenarios(path), world, harness)


# -- the command ------------------------------------------------------------------------


def test_cli_refuses_a_bad_file_with_one_line(tmp_path: Path) -> None:
    """`wismo agent test` on a malformed file prints one `error:` line and exits 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - id: a\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["agent", "test", str(bad), "--world", str(SCENARIOS / "world.yaml")]
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1


def test_cli_runs_chosen_scenarios_and_prints_totals() -> None:
    """`wismo agent test scenarios --only ID --json` runs that scenario and reports totals."""
    args = ["agent", "test", str(SCENARIOS), "--only", "status-in-transit-email"]
    result = CliRunner().invoke(app, [*args, "--now", "2026-11-28T12:00:00+00:00", "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert report["scenarios"] == 1
    assert report["passed"] == 1
    assert report["grounding_violations"] == report["disclosure_violations"] == 0
