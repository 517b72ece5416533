"""Conversation scenarios as YAML data: the format, reading it, and checking it.

A scenario file holds `scenarios:` (a list) and optional `defaults:` applied to each:

    defaults: {channel: chat}
    scenarios:
      - id: status-by-email
        description: A customer asks where the order is and verifies with the email.
        start: {email: ada@example.com, language: en}      # optional identity at start
        turns:
          - say: where is my order
            expect: {intent: order_status, level: anonymous, asks: ask_order_number}
          - say: "1001"
            advance: 2m                                     # move the clock first
            expect:
              level: verified
              order: "1001"
              mentions: ["{{orders.1001.packages.0.tracking_number}}"]
              not_mentions: ["{{orders.1004.packages.0.tracking_number}}"]

Expectations are facts, not wording: `mentions` holds references into the order record
(`{{orders.NUMBER.path.into.the.answer}}`, or the short forms in `SHORT_REFS` such as
`$order:1001.tracking`) or literal strings. Every problem is reported with the file, the
scenario and the field, before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from wismo.conversation.nlu.intents import INTENTS
from wismo.conversation.scenario_world import WorldError, relative

LEVELS = ("anonymous", "identified", "verified")
CHANNELS = ("chat", "terminal", "sms", "email", "voice")
HANDOFF_REASONS = (
    "damaged_item", "missing_item", "billing_dispute", "cancel_after_dispatch",
    "address_after_dispatch", "anger", "human_requested", "not_understood", "locked_out",
)  # fmt: skip
# What the agent is asking for at the end of a turn (`Reply.asks`, see scenario_runner).
ASKS = ("ask_order_number", "ask_contact", "ask_code", "clarify", "confirm", "none")
# `$order:NUMBER.NAME` short forms for the facts scenarios name most.
SHORT_REFS = {
    "tracking": "packages.0.tracking_number",
    "carrier": "packages.0.carrier_name",
    "item": "packages.0.contents.0.title",
    "city": "packages.0.last_scan.location",
    "estimate": "estimate.to_on",
    "delivered": "packages.0.delivered_at",
    "refund": "refunds.0.amount",
    "return_tracking": "returns.0.tracking_number",
    "unshipped": "not_yet_shipped.0.title",
}
_REF = re.compile(r"^\{\{\s*orders\.(?P<number>[^.\s]+)\.(?P<path>[\w.]+)\s*\}\}$")
_SHORT = re.compile(r"^\$order:(?P<number>[^.\s]+)\.(?P<name>\w+)$")
_PLACEHOLDER = re.compile(r"\{\{\s*(code)\s*\}\}")
MAX_SAY = 100_000


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file, the scenario and the field."""


@dataclass(frozen=True, slots=True)
class FactRef:
    """A fact read from the record at run time: an attribute path into the order's answer."""

    order_number: str
    path: tuple[str, ...]
    text: str  # as written, for messages

    def __str__(self) -> str:
        return self.text


Mention = FactRef | str


@dataclass(frozen=True, slots=True)
class Expect:
    intent: tuple[str, ...] = ()  # any of these
    level: tuple[str, ...] = ()  # any of these
    order: str | None = None
    handed_over: bool | None = None
    handoff_reason: tuple[str, ...] = ()  # any of these
    ticket: bool | None = None
    ended: bool | None = None
    grounded: bool | None = None
    asks: tuple[str, ...] = ()  # any of these
    code_sent: bool | None = None
    mentions: tuple[Mention, ...] = ()  # all of these
    mentions_any: tuple[Mention, ...] = ()  # at least one of these
    not_mentions: tuple[Mention, ...] = ()  # none of these
    max_chars: int | None = None
    language: str | None = None  # the language the reply is written in


@dataclass(frozen=True, slots=True)
class Turn:
    say: str  # may hold {{code}}: the last one-time code sent to the customer
    advance: timedelta
    expect: Expect
    where: str  # "file: scenario id: turns[2]" for messages


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    description: str
    channel: str
    turns: tuple[Turn, ...]
    path: Path
    email: str | None = None
    phone: str | None = None
    language: str | None = None  # passed to Agent.start
    reply_language: str = "en"  # the language replies are checked in
    client: str | None = None
    must_not_disclose_before_verification: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)


_SCENARIO_KEYS = {
    "id", "description", "channel", "start", "turns", "must_not_disclose_before_verification",
    "tags", "language",
}  # fmt: skip
_START_KEYS = {"email", "phone", "language", "client"}
_TURN_KEYS = {"say", "advance", "expect"}
_EXPECT_KEYS = {
    "intent", "level", "order", "handed_over", "handoff_reason", "ticket", "ended", "grounded",
    "asks", "code_sent", "mentions", "mentions_any", "not_mentions", "max_chars", "language",
}  # fmt: skip


def scenario_files(path: Path) -> list[Path]:
    """The scenario files at `path` (a file, or every *.yaml in a folder but world.yaml)."""
    if path.is_dir():
        return sorted(p for p in path.glob("*.yaml") if p.name != "world.yaml")
    if path.is_file():
        return [path]
    raise ScenarioError(f"{path}: no such file or folder")


def load_scenarios(path: Path) -> list[Scenario]:
    """Every scenario at `path`, checked; ids are unique across files."""
    found: list[Scenario] = []
    seen: dict[str, Path] = {}
    for file in scenario_files(path):
        for s in load_file(file):
            if s.id in seen:
                raise ScenarioError(f"{file}: scenario {s.id!r}: id already used in {seen[s.id]}")
            seen[s.id] = file
            found.append(s)
    if not found:
        raise ScenarioError(f"{path}: no scenarios found")
    return found


def load_file(file: Path) -> list[Scenario]:
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{file}: not valid YAML: {exc}") from None
    top = _mapping(doc, f"{file}", {"defaults", "scenarios"}, {"scenarios"})
    defaults = _mapping(top.get("defaults") or {}, f"{file}: defaults", _SCENARIO_KEYS - {"id"})
    items = top["scenarios"]
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{file}: scenarios: expected a non-empty list")
    return [
        _scenario(file, i, {**defaults, **_mapping(raw, f"{file}: scenarios[{i}]", _SCENARIO_KEYS)})
        for i, raw in enumerate(items)
    ]


def _scenario(file: Path, index: int, raw: dict[str, Any]) -> Scenario:
    sid = raw.get("id")
    at = f"{file}: scenarios[{index}]"
    if not isinstance(sid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,79}", sid):
        raise ScenarioError(f"{at}.id: expected a short slug (a-z, 0-9, '-', '_'), got {sid!r}")
    at = f"{file}: scenario {sid!r}"
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ScenarioError(f"{at}: description: required, one sentence saying the behaviour")
    channel = _choice(raw.get("channel", "chat"), CHANNELS, f"{at}: channel")
    start = _mapping(raw.get("start") or {}, f"{at}: start", _START_KEYS)
    turns_raw = raw.get("turns")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise ScenarioError(f"{at}: turns: expected a non-empty list")
    turns = tuple(_turn(f"{at}: turns[{i}]", t) for i, t in enumerate(turns_raw))
    disclose = raw.get("must_not_disclose_before_verification", True)
    if not isinstance(disclose, bool):
        raise ScenarioError(f"{at}: must_not_disclose_before_verification: expected true or false")
    tags = raw.get("tags", [])
    if not isinstance(tags, list):
        raise ScenarioError(f"{at}: tags: expected a list")
    language = _opt_str(start.get("language"), f"{at}: start.language")
    reply_language = _opt_str(raw.get("language"), f"{at}: language") or language or "en"
    return Scenario(
        id=sid,
        description=description.strip(),
        channel=channel,
        turns=turns,
        path=file,
        email=_opt_str(start.get("email"), f"{at}: start.email"),
        phone=_opt_str(start.get("phone"), f"{at}: start.phone"),
        language=language,
        reply_language=reply_language,
        client=_opt_str(start.get("client"), f"{at}: start.client"),
        must_not_disclose_before_verification=disclose,
        tags=tuple(str(t) for t in tags),
    )


def _turn(at: str, raw: object) -> Turn:
    t = _mapping(raw, at, _TURN_KEYS, {"say"})
    say = t["say"]
    if isinstance(say, dict):
        rep = _mapping(say, f"{at}.say", {"repeat", "times", "length"}, {"repeat"})
        unit, times, length = rep["repeat"], rep.get("times"), rep.get("length")
        counts = [n for n in (times, length) if n is not None]
        if (
            not isinstance(unit, str)
            or not unit
            or len(counts) != 1
            or not isinstance(counts[0], int)
            or counts[0] < 1
        ):
            raise ScenarioError(
                f"{at}.say: expected {{repeat: text, times: N}} or {{repeat: text, length: N}}"
            )
        n = int(counts[0])
        say = unit * n if times is not None else (unit * (n // len(unit) + 1))[:n]
    elif say is None:
        say = ""
    elif isinstance(say, int | float) and not isinstance(say, bool):
        say = str(say)  # a bare order number
    if not isinstance(say, str):
        raise ScenarioError(f"{at}.say: expected text, got {type(say).__name__}")
    if len(say) > MAX_SAY:
        raise ScenarioError(f"{at}.say: longer than {MAX_SAY} characters")
    advance = timedelta(0)
    if "advance" in t:
        try:
            advance = relative(t["advance"], f"{at}.advance")
        except WorldError as exc:
            raise ScenarioError(str(exc)) from None
        if advance < timedelta(0):
            raise ScenarioError(f"{at}.advance: the clock only moves forward")
    return Turn(say, advance, _expect(f"{at}.expect", t.get("expect") or {}), at)


def _expect(at: str, raw: object) -> Expect:
    e = _mapping(raw, at, _EXPECT_KEYS)
    intents = _one_or_many(e.get("intent"), f"{at}.intent")
    for i in intents:
        _choice(i, INTENTS, f"{at}.intent")
    asks = _one_or_many(e.get("asks"), f"{at}.asks")
    for a in asks:
        _choice(a, ASKS, f"{at}.asks")
    levels = _one_or_many(e.get("level"), f"{at}.level")
    for lv in levels:
        _choice(lv, LEVELS, f"{at}.level")
    reasons = _one_or_many(e.get("handoff_reason"), f"{at}.handoff_reason")
    for r in reasons:
        _choice(r, HANDOFF_REASONS, f"{at}.handoff_reason")
    max_chars = e.get("max_chars")
    if max_chars is not None and (not isinstance(max_chars, int) or max_chars < 1):
        raise ScenarioError(f"{at}.max_chars: expected a positive number")
    return Expect(
        intent=intents,
        level=levels,
        order=None if e.get("order") is None else str(e["order"]),
        handed_over=_opt_bool(e.get("handed_over"), f"{at}.handed_over"),
        handoff_reason=reasons,
        ticket=_opt_bool(e.get("ticket"), f"{at}.ticket"),
        ended=_opt_bool(e.get("ended"), f"{at}.ended"),
        grounded=_opt_bool(e.get("grounded"), f"{at}.grounded"),
        asks=asks,
        code_sent=_opt_bool(e.get("code_sent"), f"{at}.code_sent"),
        mentions=_mentions(e.get("mentions"), f"{at}.mentions"),
        mentions_any=_mentions(e.get("mentions_any"), f"{at}.mentions_any"),
        not_mentions=_mentions(e.get("not_mentions"), f"{at}.not_mentions"),
        max_chars=max_chars,
        language=_opt_str(e.get("language"), f"{at}.language"),
    )


def parse_mention(value: object, at: str) -> Mention:
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise ScenarioError(f"{at}: expected a fact reference or a non-empty string")
    text = str(value)
    short = _SHORT.match(text)
    if short:
        name = short.group("name")
        if name not in SHORT_REFS:
            raise ScenarioError(
                f"{at}: unknown short form {name!r} (known: {', '.join(SHORT_REFS)})"
            )
        return FactRef(short.group("number"), tuple(SHORT_REFS[name].split(".")), text)
    ref = _REF.match(text)
    if ref:
        return FactRef(ref.group("number"), tuple(ref.group("path").split(".")), text)
    if "{{" in text or text.startswith("$order:"):
        raise ScenarioError(
            f"{at}: {text!r} looks like a fact reference but is not one "
            "({{orders.NUMBER.path}} or $order:NUMBER.name)"
        )
    return text


def fact_refs(scenarios: Iterable[Scenario]) -> Iterable[tuple[FactRef, str]]:
    """Every fact reference with where it is written, to resolve them all before running."""
    for s in scenarios:
        for turn in s.turns:
            e = turn.expect
            for m in (*e.mentions, *e.mentions_any, *e.not_mentions):
                if isinstance(m, FactRef):
                    yield m, turn.where


def fill(say: str, values: Mapping[str, str | None], where: str) -> str:
    """`{{code}}` in a message becomes the last one-time code sent in this conversation."""

    def sub(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            raise ScenarioError(f"{where}.say: {match.group(0)} but no code was sent yet")
        return value

    return _PLACEHOLDER.sub(sub, say)


def _mentions(value: object, at: str) -> tuple[Mention, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(parse_mention(v, f"{at}[{i}]") for i, v in enumerate(items))


def _one_or_many(value: object, at: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise ScenarioError(f"{at}: expected a name or a list of names")
    return tuple(items)


def _choice(value: object, allowed: Iterable[str], at: str) -> str:
    options = tuple(allowed)
    if value not in options:
        raise ScenarioError(f"{at}: must be one of {', '.join(options)}; got {value!r}")
    return str(value)


def _opt_bool(value: object, at: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ScenarioError(f"{at}: expected true or false, got {value!r}")


def _opt_str(value: object, at: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise ScenarioError(f"{at}: expected text, got {type(value).__name__}")


def _mapping(
    value: object, at: str, allowed: set[str], required: Iterable[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{at}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ScenarioError(
            f"{at}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    for key in required:
        if key not in value:
            raise ScenarioError(f"{at}: missing field {key!r}")
    return value
