"""`wismo poll` (pull tracking from carriers for due shipments) and
`wismo carriers staleness` (how old open shipments' carrier data is).

Registered on the main app and on `wismo carriers` by `wismo.cli.main`.
"""

from __future__ import annotations

import time
from typing import Annotated

import orjson
import typer

from wismo.bootstrap import Wismo, bootstrap, make_poller, make_sweeper, staleness_report
from wismo.config import Settings
from wismo.services.polling import PollReport
from wismo.storage import stores as store_db


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _wismo() -> Wismo:
    try:
        return bootstrap(Settings.from_env())
    except Exception as exc:
        raise _fail(f"cannot open the database: {exc}") from None


def describe(report: PollReport) -> str:
    failed = " ".join(f"{k}={v}" for k, v in sorted(report.failed.items())) or "0"
    return (
        f"scheduled={report.scheduled} claimed={report.claimed} fetched={report.fetched}"
        f" updated={report.updated} failed={failed} deferred={report.deferred}"
        f" stopped={report.stopped} expired={report.expired}"
    )


def poll(
    once: Annotated[bool, typer.Option("--once", help="Poll one batch and stop.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Shipments claimed per batch.")] = 100,
    idle: Annotated[
        float, typer.Option(min=0.0, help="Seconds to rest when nothing is due.")
    ] = 30.0,
    rounds: Annotated[int | None, typer.Option(min=1, help="Stop after this many batches.")] = None,
) -> None:
    """Pull tracking from carriers for shipments that are due (stores with a
    carrier:<name> integration). Several pollers may run against PostgreSQL."""
    w = _wismo()
    poller = make_poller(w)

    def show(report: PollReport) -> None:
        if report.claimed or report.scheduled or once:
            typer.echo(describe(report))

    try:
        if once:
            show(poller.run_once(batch))
        else:
            poller.run(batch=batch, idle=idle, rounds=rounds, on_report=show)
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        w.close()


def sweep(
    once: Annotated[bool, typer.Option("--once", help="Sweep once and stop.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Shipments checked per sweep.")] = 10_000,
    idle: Annotated[
        float, typer.Option(min=0.0, help="Seconds to rest when nothing is due.")
    ] = 5.0,
) -> None:
    """Re-forecast deliveries and look for problems (stuck labels, stalled or late parcels,
    slipped estimates) on shipments that are due. Several sweepers may run on PostgreSQL."""
    w = _wismo()
    try:
        sweeper = make_sweeper(w)
    except ValueError as exc:
        w.close()
        raise _fail(str(exc)) from None
    try:
        while True:
            report = sweeper.sweep(limit)
            if report.checked or once:
                typer.echo(
                    f"checked={report.checked} findings={report.findings}"
                    f" revisions={report.revisions} seconds={report.seconds:.2f}"
                )
            if once:
                break
            if report.checked < limit:
                time.sleep(idle)
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        w.close()


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m" if minutes else f"{int(seconds)}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def staleness(
    store: Annotated[
        str | None, typer.Option("--store", help="Store slug (default: every store).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (seconds).")] = False,
) -> None:
    """How stale open shipments' carrier data is: now minus the last successful fetch
    (or creation, if never fetched), per carrier: count, p50, p95, max."""
    w = _wismo()
    try:
        store_id: int | None = None
        if store:
            with w.engine.connect() as conn:
                row = store_db.get_store(conn, store)
            if row is None:
                raise _fail(f"no store {store!r}; see `wismo stores list`")
            store_id = int(row.id)
        report = staleness_report(w)(store_id)
    finally:
        w.close()
    if as_json:
        typer.echo(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo("carrier\tcount\tp50\tp95\tmax")
    for r in [*report.carriers, report.all]:
        typer.echo(
            f"{r.carrier}\t{r.count}\t{_duration(r.p50)}\t{_duration(r.p95)}\t{_duration(r.max)}"
        )
