"""`wismo notifications list` (an order's messages and every attempt) and `wismo relay`
(send what the outbox holds). Registered on the main app by `wismo.cli.main`."""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Annotated

import orjson
import typer

from wismo.bootstrap import Wismo, bootstrap, make_relay
from wismo.config import Settings
from wismo.services.notify import run_workers
from wismo.storage import stores as store_db
from wismo.storage.relay import history

app = typer.Typer(help="Customer notifications (the outbox).", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _wismo() -> Wismo:
    try:
        return bootstrap(Settings.from_env())
    except Exception as exc:
        raise _fail(f"cannot open the database: {exc}") from None


def _store(w: Wismo, slug: str | None) -> int:
    with w.engine.connect() as conn:
        if slug:
            row = store_db.get_store(conn, slug)
            if row is None:
                raise _fail(f"no store {slug!r}; see `wismo stores list`")
            return int(row.id)
        rows = store_db.list_stores(conn)
    if len(rows) != 1:
        raise _fail("name the store with --store" if rows else "no store yet")
    return int(rows[0].id)


@app.command("list")
def list_notifications(
    order: Annotated[str, typer.Option("--order", help="Order number.")],
    store: Annotated[str | None, typer.Option("--store", help="Store slug.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Everything, as JSON.")] = False,
) -> None:
    """Every message planned for an order, its status and each attempt."""
    w = _wismo()
    try:
        with w.engine.connect() as conn:
            found = history(conn, _store(w, store), order)
    finally:
        w.close()
    if as_json:
        typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
        return
    if not found:
        typer.echo(f"no notifications for order {order}")
        return
    for n in found:
        typer.echo(
            f"#{n['id']} {n['trigger']:<20} {n['channel']:<7} {n['status']:<10}"
            f" created {n['created_at']}" + (f" sent {n['sent_at']}" if n["sent_at"] else "")
        )
        for a in n["attempts"]:
            typer.echo(
                f"    attempt {a['attempt']} {a['outcome']:<10} {a['provider_status'] or '-'}"
                f" {a['at']} {a['detail'] or ''}".rstrip()
            )


def relay(
    once: Annotated[bool, typer.Option("--once", help="Send what is due, then stop.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 1,
) -> None:
    """Send due notifications through the configured channels (SMTP, Twilio, webhook)."""
    w = _wismo()
    name = f"{socket.gethostname()}:{os.getpid()}"
    try:
        # Build one relay first so a bad channel setting (a malformed VAPID key, say) is
        # one line on stderr, not a traceback from inside a worker thread.
        make_relay(w, worker=name)
    except ValueError as exc:
        w.close()
        raise _fail(str(exc), 2) from None
    try:
        if once:
            report = make_relay(w, worker=name).run_once()
            typer.echo(
                f"claimed={report.claimed} sent={report.sent} retried={report.retried}"
                f" failed={report.failed} skipped={report.skipped}"
            )
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            run_workers(lambda i: make_relay(w, worker=f"{name}:{i}"), workers, stop)
        except KeyboardInterrupt:
            stop.set()
    finally:
        w.close()
