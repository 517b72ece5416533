"""`wismo agent test PATH`: run conversation scenarios against the agent.

Builds each scenario's store from the world file through normal ingestion, in a fresh
SQLite file unless `--database-url` names another database, on a clock the scenarios can
move; the help desk and the code sender are the in-memory fakes, so nothing leaves the
process. Prints one line per scenario and the totals; `--json` prints the report as JSON.
Exit code 0 when every scenario passes, 1 when one fails, 2 for bad input.

`scenario_harness` is the composition the integration test and `bench agent` share.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from wismo.bootstrap import Wismo, bootstrap, make_agent, make_sweeper
from wismo.config import Settings
from wismo.conversation.scenario_format import Scenario
from wismo.conversation.scenario_world import World, WorldError, load_world
from wismo.conversation.scenarios import (
    Harness,
    Report,
    ScenarioError,
    ScenarioResult,
    load_scenarios,
    run,
)
from wismo.conversation.testing import InMemoryHelpDesk, RecordingCodeSender
from wismo.storage import stores
from wismo.storage.conversations import AGENT_PROVIDER
from wismo.storage.integrations import upsert_integration
from wismo.testing import FakeClock


def scenario_harness(w: Wismo, world: World, clock: FakeClock) -> tuple[Harness, InMemoryHelpDesk]:
    """The agent over `w` with in-memory fakes, and a builder of fresh world stores."""
    help_desk = InMemoryHelpDesk()
    codes = RecordingCodeSender()
    agent = make_agent(w, help_desk=help_desk, code_sender=codes)
    sweeper = make_sweeper(w)
    numbers = itertools.count(1)
    run_id = secrets.token_hex(3)
    spec = world.store

    def new_store() -> int:
        slug = f"{spec.slug}-{run_id}-{next(numbers)}"
        with w.engine.begin() as conn:
            store_id = stores.create_store(conn, slug, spec.name, spec.country, spec.time_zone)
            if spec.order_patterns:
                upsert_integration(
                    conn,
                    store_id,
                    AGENT_PROVIDER,
                    slug,
                    settings={"order_patterns": list(spec.order_patterns)},
                )
        results = w.ingestor.ingest(store_id, world.events(clock()))
        bad = [r for r in results if r.status != "processed"]
        if bad:
            raise WorldError(f"{world.path}: {len(bad)} event(s) not applied, first: {bad[0]}")
        sweeper.sweep(limit=1_000_000)
        return store_id

    harness = Harness(
        agent=agent,
        clock=clock,
        new_store=new_store,
        answer=w.status.by_number,
        codes=lambda: [c.code for c in codes.sent],
    )
    return harness, help_desk


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def run_scenarios(  # noqa: PLR0917 - Typer turns each parameter into a CLI option
    path: Annotated[Path, typer.Argument(help="A scenario file, or a folder of them.")],
    world_path: Annotated[
        Path | None,
        typer.Option("--world", help="The world file (default: world.yaml beside the scenarios)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="Run on this database (default: a temporary SQLite file)."
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="The run's instant, ISO 8601 with offset (default: now)."),
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this scenario id; repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show every turn of failed scenarios.")
    ] = False,
) -> None:
    """Run conversation scenarios (YAML) against the agent and measure every reply."""
    started_at = _instant(now)
    folder = path if path.is_dir() else path.parent
    world_file = world_path or folder / "world.yaml"
    try:
        world = load_world(world_file)
        scenarios = load_scenarios(path)
    except (ScenarioError, WorldError) as exc:
        raise _fail(str(exc)) from None
    if only:
        unknown = sorted(set(only) - {s.id for s in scenarios})
        if unknown:
            raise _fail(f"--only: no scenario {unknown[0]!r} in {path}")
        scenarios = [s for s in scenarios if s.id in set(only)]
    report = _run(
        scenarios,
        world,
        database_url=database_url,
        started_at=started_at,
        quiet=as_json,
        verbose=verbose,
    )
    if as_json:
        typer.echo(_json(report))
    else:
        t = report.totals()
        typer.echo(
            f"{t['scenarios']} scenarios: {t['passed']} passed, {t['failed']} failed; "
            f"grounding violations {t['grounding_violations']}, disclosure violations "
            f"{t['disclosure_violations']}; {t['handoffs']} handed over; {t['turns']} turns, "
            f"p50 {t['p50_ms']} ms, max {t['max_ms']} ms; {t['seconds']} s"
        )
    if report.failed:
        raise typer.Exit(1)


def _run(
    scenarios: list[Scenario],
    world: World,
    *,
    database_url: str | None,
    started_at: datetime,
    quiet: bool,
    verbose: bool,
) -> Report:
    folder = None
    if database_url is None:
        folder = Path(tempfile.mkdtemp(prefix="wismo-scenarios-"))
        database_url = f"sqlite:///{folder / 'scenarios.db'}"
    clock = FakeClock(started_at)
    try:
        w = bootstrap(Settings(database_url=database_url), clock=clock)
    except Exception as exc:
        raise _fail(f"cannot open the database: {exc}", 1) from None
    try:
        harness, _ = scenario_harness(w, world, clock)

        def show(result: ScenarioResult) -> None:
            if quiet:
                return
            if result.passed:
                typer.echo(f"PASS {result.id}")
                return
            typer.echo(f"FAIL {result.id}  ({result.file})")
            for line in (*result.failures, *result.disclosures, *result.ungrounded):
                typer.echo(f"     {line}")
            if verbose:
                for t in result.turns:
                    typer.echo(f"     > {t.say}")
                    typer.echo(f"     < {t.reply}  [{t.intent} {t.level} {t.asks}]")

        try:
            return run(scenarios, world, harness, on_result=show)
        except (ScenarioError, WorldError) as exc:
            raise _fail(str(exc)) from None
    finally:
        w.close()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"--now: expected an ISO 8601 instant, got {text!r}") from None
    if moment.tzinfo is None:
        raise _fail("--now: needs a UTC offset, like 2026-11-28T12:00:00+00:00")
    return moment


def _json(report: Report) -> str:
    data = {
        **report.totals(),
        "results": [{**dataclasses.asdict(r), "passed": r.passed} for r in report.results],
    }
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
