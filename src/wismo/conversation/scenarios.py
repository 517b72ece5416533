"""Conversation scenarios: load them (`scenario_format`), run them against an `Agent`, and
measure every reply, whatever each scenario expects.

Each scenario runs in a store of its own, built from the world (`scenario_world`) through
normal ingestion at the same instant, so no scenario sees another's conversations, failed
verifications or lockouts, and "today" is the same for all. The clock is moved only by a
turn's `advance` and is put back before the next scenario.

Besides each turn's expectations, the runner measures two things on every reply:

- disclosure: facts of orders the customer is not verified for (before verification: of
  any order), see `scenario_facts.StoreFacts.disclosed`;
- grounding: `grounding.check` against the facts of the verified orders (or none).

The composition root supplies a `Harness`: the agent, the settable clock, a way to build a
fresh store of the world, the order-status answers, and the codes the fake sender saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from wismo.conversation.nlu import understand
from wismo.conversation.scenario_facts import FactError, StoreFacts, mentioned
from wismo.conversation.scenario_format import (
    Expect,
    FactRef,
    Mention,
    Scenario,
    ScenarioError,
    Turn,
    fact_refs,
    fill,
    load_scenarios,
)
from wismo.conversation.scenario_world import World, load_world
from wismo.services.status import OrderStatusAnswer

__all__ = [
    "Harness",
    "Report",
    "ScenarioError",
    "ScenarioResult",
    "load_scenarios",
    "load_world",
    "run",
]


class SettableClock(Protocol):
    now: datetime

    def __call__(self) -> datetime: ...


class AgentLike(Protocol):
    def start(
        self,
        store_id: int,
        channel: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        client: str | None = None,
        language: str | None = None,
    ) -> Any: ...

    def turn(self, conversation_id: str, text: str) -> Any: ...


@dataclass
class Harness:
    agent: AgentLike
    clock: SettableClock
    new_store: Callable[[], int]  # a fresh store holding the world as of `clock()`
    answer: Callable[[int, str], OrderStatusAnswer | None]  # by order number
    codes: Callable[[], Sequence[str]]  # every one-time code sent so far, oldest first


@dataclass
class TurnLog:
    say: str
    reply: str
    intent: str | None
    level: str | None
    order_number: str | None
    asks: str | None
    milliseconds: float


@dataclass
class ScenarioResult:
    id: str
    file: str
    description: str
    failures: list[str] = field(default_factory=list)
    disclosures: list[str] = field(default_factory=list)
    ungrounded: list[str] = field(default_factory=list)
    handed_over: bool = False
    turns: list[TurnLog] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.failures or self.disclosures or self.ungrounded)


@dataclass
class Report:
    results: list[ScenarioResult]
    seconds: float

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def grounding_violations(self) -> int:
        return sum(len(r.ungrounded) for r in self.results)

    @property
    def disclosure_violations(self) -> int:
        return sum(len(r.disclosures) for r in self.results)

    @property
    def handoffs(self) -> int:
        return sum(1 for r in self.results if r.handed_over)

    def totals(self) -> dict[str, Any]:
        turns = [t.milliseconds for r in self.results for t in r.turns]
        ordered = sorted(turns)
        return {
            "scenarios": len(self.results),
            "passed": self.passed,
            "failed": self.failed,
            "grounding_violations": self.grounding_violations,
            "disclosure_violations": self.disclosure_violations,
            "handoffs": self.handoffs,
            "turns": len(turns),
            "p50_ms": round(ordered[len(ordered) // 2], 3) if ordered else None,
            "max_ms": round(ordered[-1], 3) if ordered else None,
            "seconds": round(self.seconds, 2),
        }


def run(
    scenarios: Sequence[Scenario],
    world: World,
    harness: Harness,
    *,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> Report:
    """Run every scenario; ScenarioError before anything runs if a reference is wrong."""
    started = time.perf_counter()
    start_at = harness.clock.now
    _check_references(scenarios, StoreFacts(world, harness.new_store(), harness.answer))
    results = []
    for scenario in scenarios:
        harness.clock.now = start_at
        result = _run_one(scenario, world, harness)
        results.append(result)
        if on_result is not None:
            on_result(result)
    harness.clock.now = start_at
    return Report(results, time.perf_counter() - started)


def _check_references(scenarios: Sequence[Scenario], store: StoreFacts) -> None:
    for ref, where in fact_refs(scenarios):
        try:
            store.resolve(ref)
        except FactError as exc:
            raise ScenarioError(f"{where}: {exc}") from None


class _Conversation:
    """One scenario's run: what the customer said, and whom they are verified as."""

    def __init__(self, scenario: Scenario, store: StoreFacts) -> None:
        self.scenario = scenario
        self.store = store
        self.said: list[str] = [c for c in (scenario.email, scenario.phone) if c]
        self.owners: set[str] = set()

    def note_level(self, result: Any) -> None:
        if getattr(result, "level", None) != "verified":
            return
        number = getattr(result, "order_number", None)
        owner = self.store.world.owner_of(number) if number else None
        if owner is not None:
            self.owners.add(owner)
        else:
            # Verified as a contact's owner without one order in focus: that contact's orders.
            self.owners |= self.store.owners_of("\n".join(self.said))


def _run_one(scenario: Scenario, world: World, h: Harness) -> ScenarioResult:
    result = ScenarioResult(scenario.id, str(scenario.path), scenario.description)
    store_id = h.new_store()
    try:
        store = StoreFacts(world, store_id, h.answer)
    except FactError as exc:
        result.failures.append(str(exc))
        return result
    zone = world.zone()
    convo = _Conversation(scenario, store)
    started = h.agent.start(
        store_id,
        scenario.channel,
        email=scenario.email,
        phone=scenario.phone,
        client=f"scenario:{scenario.id}",
        language=scenario.language,
    )
    conversation_id = str(started.conversation_id)
    before = len(h.codes())  # codes sent in earlier scenarios are not this customer's
    _measure(result, convo, "start", reply_text(started.reply), h=h, zone=zone)
    for index, turn in enumerate(scenario.turns):
        if turn.advance:
            h.clock.now = h.clock.now + turn.advance
        codes = list(h.codes())[before:]
        try:
            text = fill(turn.say, {"code": codes[-1] if codes else None}, turn.where)
        except ScenarioError as exc:
            result.failures.append(str(exc))
            break
        convo.said.append(text)
        t0 = time.perf_counter()
        try:
            out = h.agent.turn(conversation_id, text)
        except Exception as exc:  # a crash fails this scenario, not the whole run
            result.failures.append(f"{turn.where}: the agent raised {type(exc).__name__}: {exc}")
            break
        ms = (time.perf_counter() - t0) * 1000
        reply = reply_text(out.reply)
        result.turns.append(
            TurnLog(
                text if len(text) <= 200 else text[:200] + f"… ({len(text)} characters)",
                reply,
                getattr(out, "intent", None),
                getattr(out, "level", None),
                getattr(out, "order_number", None),
                asks_of(out),
                round(ms, 3),
            )
        )
        result.handed_over |= bool(getattr(out, "handed_over", False))
        convo.note_level(out)
        where = f"turn {index + 1} ({_short(text)!r})"
        _measure(result, convo, where, reply, h=h, zone=zone)
        sent = len(h.codes()) > before + len(codes)
        found = _expectations(turn, out, reply, code_sent=sent, store=store, h=h, zone=zone)
        result.failures += [f"{where}: {f}" for f in found]
    return result


def _measure(
    result: ScenarioResult, convo: _Conversation, where: str, reply: str, *, h: Harness, zone: Any
) -> None:
    today = h.clock().astimezone(zone).date()
    said = "\n".join(convo.said)
    lang = convo.scenario.reply_language
    if convo.scenario.must_not_disclose_before_verification:
        for d in convo.store.disclosed(reply, convo.owners, said, today=today, language=lang):
            result.disclosures.append(f"{where}: disclosed {d} in {_short(reply, 160)!r}")
    for v in convo.store.ungrounded(reply, convo.owners, said, today=today, language=lang):
        result.ungrounded.append(f"{where}: {v} in {_short(reply, 160)!r}")


def _expectations(
    turn: Turn, out: Any, reply: str, *, code_sent: bool, store: StoreFacts, h: Harness, zone: Any
) -> list[str]:
    e: Expect = turn.expect
    bad: list[str] = []

    def want(name: str, expected: object, got: object) -> None:
        if isinstance(expected, tuple):
            if expected and got not in expected:
                bad.append(f"expected {name} {' or '.join(map(str, expected))}, got {got!r}")
        elif expected is not None and got != expected:
            bad.append(f"expected {name} {expected!r}, got {got!r}")

    want("intent", e.intent, getattr(out, "intent", None))
    want("level", e.level, getattr(out, "level", None))
    want("order", e.order, getattr(out, "order_number", None))
    want("handed_over", e.handed_over, bool(getattr(out, "handed_over", False)))
    want("handoff_reason", e.handoff_reason, getattr(out, "handoff_reason", None))
    want("ended", e.ended, bool(getattr(out, "ended", False)))
    want("grounded", e.grounded, getattr(out, "grounded", None))
    want("asks", e.asks, asks_of(out))
    want("code_sent", e.code_sent, code_sent)
    if e.ticket is not None:
        want("ticket", e.ticket, getattr(out, "ticket_id", None) is not None)
    if e.language is not None and reply.strip():
        written = understand(reply).language
        if written != e.language:
            bad.append(f"expected a reply in {e.language!r}, got {written!r}: {_short(reply)!r}")
    if e.max_chars is not None and len(reply) > e.max_chars:
        bad.append(f"reply has {len(reply)} characters, more than {e.max_chars}")
    today = h.clock().astimezone(zone).date()

    def says(m: Mention) -> bool:
        value = store.resolve(m) if isinstance(m, FactRef) else m
        return mentioned(reply, value, today=today, zone=zone)

    try:
        missing = [str(m) for m in e.mentions if not says(m)]
        if missing:
            bad.append(f"reply does not state {', '.join(missing)}: {_short(reply, 240)!r}")
        if e.mentions_any and not any(says(m) for m in e.mentions_any):
            shown = ", ".join(map(str, e.mentions_any))
            bad.append(f"reply states none of {shown}: {_short(reply, 240)!r}")
        leaked = [str(m) for m in e.not_mentions if says(m)]
        if leaked:
            bad.append(f"reply states {', '.join(leaked)}: {_short(reply, 240)!r}")
    except FactError as exc:
        bad.append(f"{turn.where}: {exc}")
    return bad


def reply_text(reply: Any) -> str:
    """A reply's text, whether the agent returns a string or a `Reply`."""
    if isinstance(reply, str):
        return reply
    return str(getattr(reply, "text", "") or "")


def asks_of(out: Any) -> str | None:
    value = getattr(out, "asks", None)
    if value is None:
        value = getattr(getattr(out, "reply", None), "asks", None)
    return None if value is None else str(value)


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
