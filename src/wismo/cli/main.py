"""The `wismo` command (Typer).

Errors a user can cause (a missing file, an unknown store or order) end with one line on
stderr and exit code 1 or 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from wismo.bootstrap import Wismo, bootstrap, sms_inbound
from wismo.cli import agent as agent_cli
from wismo.cli import branding as branding_cli
from wismo.cli import carriers as carriers_cli
from wismo.cli import chat as chat_cli
from wismo.cli import integrations as integrations_cli
from wismo.cli import notifications as notifications_cli
from wismo.cli import poll as poll_cli
from wismo.cli import push as push_cli
from wismo.cli import shopify as shopify_cli
from wismo.config import Settings
from wismo.services.access import Scope
from wismo.services.status import OrderStatusAnswer
from wismo.storage import stores as store_db
from wismo.storage.inbox import SqlInbox
from wismo.storage.migrate import current, upgrade

app = typer.Typer(
    help="Wismo: one current record per order, and the answer to 'Where is my order?'.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="API keys (scoped to a store, read or write).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
inbox_app = typer.Typer(help="Inbound payloads that failed or wait.", no_args_is_help=True)
stores_app = typer.Typer(help="Stores (merchants).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(inbox_app, name="inbox")
app.add_typer(stores_app, name="stores")
stores_app.command("brand")(branding_cli.brand)
app.add_typer(carriers_cli.app, name="carriers")
app.add_typer(integrations_cli.app, name="integrations")
app.add_typer(shopify_cli.app, name="shopify")
app.command("poll")(poll_cli.poll)
app.command("sweep")(poll_cli.sweep)
app.add_typer(notifications_cli.app, name="notifications")
app.command("relay")(notifications_cli.relay)
app.add_typer(push_cli.app, name="push")
carriers_cli.app.command("staleness")(poll_cli.staleness)
app.command("chat")(chat_cli.chat)
app.add_typer(agent_cli.app, name="agent")

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Store slug (default: the only store).")
]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _dumps(data: Any) -> str:
    def default(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
        return str(value)

    return orjson.dumps(data, default=default, option=orjson.OPT_INDENT_2).decode()


def _wismo() -> Wismo:
    try:
        return bootstrap(Settings.from_env())
    except Exception as exc:
        raise fail(f"cannot open the database: {exc}") from None


def _store_id(w: Wismo, slug: str | None) -> int:
    with w.engine.connect() as conn:
        if slug:
            row = store_db.get_store(conn, slug)
            if row is None:
                raise fail(f"no store {slug!r}; see `wismo stores list`")
            return int(row.id)
        rows = store_db.list_stores(conn)
    if len(rows) == 1:
        return int(rows[0].id)
    if not rows:
        raise fail("no store yet; create one with `wismo stores create SLUG`")
    raise fail("several stores; name one with --store")


@stores_app.command("create")
def stores_create(
    slug: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    country: Annotated[str, typer.Option(help="ISO country code.")] = "US",
    time_zone: Annotated[str, typer.Option("--time-zone", help="IANA zone.")] = "UTC",
) -> None:
    """Create a store."""
    w = _wismo()
    with w.engine.begin() as conn:
        if store_db.get_store(conn, slug) is not None:
            raise fail(f"store {slug!r} exists")
        store_id = store_db.create_store(conn, slug, name or slug, country, time_zone)
    typer.echo(f"store {slug} created (id {store_id})")


@stores_app.command("list")
def stores_list() -> None:
    """List stores."""
    w = _wismo()
    with w.engine.connect() as conn:
        for row in store_db.list_stores(conn):
            typer.echo(f"{row.slug}\t{row.name}\t{row.country}\t{row.time_zone}")


@keys_app.command("create")
def keys_create(
    store: StoreOpt = None,
    scope: Annotated[Scope, typer.Option(help="read or write")] = Scope.READ,
    label: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
) -> None:
    """Create an API key; it is printed once and stored only hashed."""
    w = _wismo()
    store_id = _store_id(w, store)
    with w.engine.begin() as conn:
        key = store_db.create_key(conn, store_id, scope, label)
    typer.echo(key.token)


@keys_app.command("list")
def keys_list(store: StoreOpt = None) -> None:
    """List a store's keys (prefixes only)."""
    w = _wismo()
    store_id = _store_id(w, store)
    with w.engine.connect() as conn:
        for row in store_db.list_keys(conn, store_id):
            state = "revoked" if row.revoked_at else "active"
            typer.echo(f"wk_{row.prefix}_…\t{row.scope}\t{state}\t{row.label or ''}")


@keys_app.command("revoke")
def keys_revoke(prefix: str) -> None:
    """Revoke a key by its prefix (the part after `wk_`)."""
    w = _wismo()
    with w.engine.begin() as conn:
        if not store_db.revoke_key(conn, prefix.removeprefix("wk_").split("_")[0]):
            raise fail("no active key with that prefix")
    typer.echo("revoked")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations to WISMO_DATABASE_URL."""
    settings = Settings.from_env()
    from wismo.storage.engine import make_engine  # noqa: PLC0415 - no bootstrap needed

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        typer.echo(f"database at revision {current(engine)}")
    except Exception as exc:
        raise fail(f"migration failed: {exc}") from None
    finally:
        engine.dispose()


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="NDJSON file of canonical events, or - for stdin")],
    store: StoreOpt = None,
    batch: Annotated[int, typer.Option(help="Events per transaction.")] = 1000,
) -> None:
    """Import canonical events from an NDJSON file (one event per line)."""
    w = _wismo()
    store_id = _store_id(w, store)
    if str(path) == "-":
        stream = sys.stdin.buffer
    elif not path.is_file():
        raise fail(f"no such file: {path}")
    else:
        stream = path.open("rb")
    counts: dict[str, int] = {}
    chunk: list[bytes] = []
    numbers: list[int] = []  # file line of each chunk entry, for error messages

    def flush() -> None:
        for line_no, result in zip(numbers, w.ingestor.ingest(store_id, chunk), strict=True):
            counts[result.status] = counts.get(result.status, 0) + 1
            if result.status in ("rejected", "failed"):
                first = result.errors[0] if result.errors else {}
                typer.echo(
                    f"line {line_no}: {result.status}: {first.get('loc')}: {first.get('msg')}",
                    err=True,
                )
        chunk.clear()
        numbers.clear()

    with stream:
        for line_no, raw in enumerate(stream, 1):
            if raw.strip():
                chunk.append(raw.rstrip(b"\r\n"))
                numbers.append(line_no)
            if len(chunk) >= batch:
                flush()
        if chunk:
            flush()
    typer.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to import")
    if counts.get("rejected") or counts.get("failed"):
        raise typer.Exit(1)


@app.command("status")
def status(
    order_number: str,
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full answer as JSON.")] = False,
) -> None:
    """Show the order-status answer for an order number."""
    w = _wismo()
    store_id = _store_id(w, store)
    answer = w.status.by_number(store_id, order_number.lstrip("#"))
    if answer is None:
        answer = w.status.by_number(store_id, order_number)
    if answer is None:
        raise fail(f"no order {order_number}")
    typer.echo(_dumps(dataclasses.asdict(answer)) if as_json else render_text(answer))


def render_text(a: OrderStatusAnswer) -> str:
    out = [f"Order {a.order_number}: {a.headline}"]
    if a.summary:
        out.append(f"  {a.summary}")
    if a.estimate:
        window = (
            f"{a.estimate.from_on} to {a.estimate.to_on}"
            if a.estimate.from_on
            else (f"by {a.estimate.to_on}")
        )
        likely = (
            f", most likely {a.estimate.likely_on}"
            if a.estimate.likely_on and a.estimate.from_on
            else ""
        )
        share = f", {round(a.estimate.confidence * 100)}% likely" if a.estimate.confidence else ""
        flag = "  LATE" if a.late else ("  PREDICTED LATE" if a.predicted_late else "")
        out.append(f"  Expected {window}{likely}{share} (source: {a.estimate.source}){flag}")
    if a.problem:
        out.append(f"  Problem: {a.problem.text} Next: {a.problem.next_step or '-'}")
    for i, p in enumerate(a.packages, 1):
        out.append(f"  Package {i} ({p.carrier_name} {p.tracking_number or ''}): {p.status_text}")
        items = ", ".join(f"{it.quantity} x {it.title}" for it in p.contents)
        if items:
            out.append(f"    contains {items}")
        for alert in p.alerts:
            out.append(f"    found: {alert.text}")
        if p.last_scan:
            where = f" at {p.last_scan.location}" if p.last_scan.location else ""
            out.append(
                f"    last scan {p.last_scan.at.isoformat()}{where}: "
                f"{p.last_scan.description or ''}"
            )
    if a.not_yet_shipped:
        out.append(
            "  Not shipped yet: "
            + ", ".join(f"{it.quantity} x {it.title}" for it in a.not_yet_shipped)
        )
    for r in a.returns:
        out.append(f"  Return {r.return_ref}: {r.state_text}")
    for f in a.refunds:
        out.append(f"  Refund {f.refund_ref}: {f.amount} {f.currency}, {f.state_text}")
    return "\n".join(out)


@inbox_app.command("list")
def inbox_list(
    status: Annotated[
        str, typer.Option(help="Comma-separated: dead, parked, processed, received.")
    ] = "dead,parked",
    store: StoreOpt = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List dead (rejected or failed) and parked (waiting for their order) payloads."""
    w = _wismo()
    store_id = _store_id(w, store) if store else None
    with w.engine.connect() as conn:
        rows = SqlInbox(conn).list(status.split(","), store_id, limit)
    if as_json:
        typer.echo(_dumps(rows))
        return
    if not rows:
        typer.echo("inbox: nothing " + " or ".join(status.split(",")))
        return
    for r in rows:
        why = r["waiting_for"] or ""
        if r["error"]:
            first = r["error"][0]
            why = f"{first.get('loc')}: {first.get('msg')}"
        typer.echo(
            f"{r['id']}\t{r['status']}\t{r['source']}\t{r['event_id'] or '-'}\t"
            f"{r['received_at']:%Y-%m-%d %H:%M:%S}\t{why}"
        )


@inbox_app.command("replay")
def inbox_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Inbox ids; default: all dead.")] = None,
    store: StoreOpt = None,
    include_parked: Annotated[
        bool, typer.Option("--parked", help="Retry parked ones too.")
    ] = False,
) -> None:
    """Parse and apply stored payloads again, e.g. after fixing the cause."""
    w = _wismo()
    wanted = ["dead", "parked"] if include_parked else ["dead"]
    with w.engine.connect() as conn:
        inbox = SqlInbox(conn)
        rows = [inbox.get(i) for i in ids] if ids else inbox.list(wanted, None, 100_000)
    groups: dict[int, list[int]] = {}
    # Inbound SMS (STOP, delivery reports) is not an order event: its own service applies it.
    sms_ids: list[int] = []
    for r in rows:
        if r is not None and r["status"] in ("dead", "parked"):
            if store is not None and int(r["store_id"]) != _store_id(w, store):
                continue
            if r["source"] == "twilio":
                sms_ids.append(int(r["id"]))
            else:
                groups.setdefault(int(r["store_id"]), []).append(int(r["id"]))
    if not groups and not sms_ids:
        typer.echo("nothing to replay")
        return
    counts: dict[str, int] = {}
    if sms_ids:
        for inbox_id, outcome in sorted(sms_inbound(w).replay(sms_ids).items()):
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            detail = outcome.error[0]["msg"] if outcome.error else ""
            typer.echo(f"{inbox_id}\t{outcome.status}\t{detail}")
    for store_id, inbox_ids in groups.items():
        for inbox_id, outcome in sorted(w.ingestor.replay(store_id, inbox_ids).items()):
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            detail = outcome.waiting_for or (outcome.error[0]["msg"] if outcome.error else "")
            typer.echo(f"{inbox_id}\t{outcome.status}\t{detail}")
    typer.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Only 1 with SQLite.")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    settings = Settings.from_env()
    engine_probe = _wismo()
    engine_probe.close()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        raise fail("several workers need PostgreSQL (WISMO_DATABASE_URL)")
    typer.echo(f"Wismo API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "wismo.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command("demo")
def demo(
    path: Annotated[Path, typer.Option(help="SQLite file to build.")] = Path("wismo-demo.db"),
    orders: Annotated[int, typer.Option(help="Orders in the simulated store.")] = 400,
    port: int = 8000,
    speed: Annotated[float, typer.Option(help="Simulated minutes per real second.")] = 60.0,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until ^C).")
    ] = None,
) -> None:
    """Build a simulated retailer on SQLite, serve it, and keep feeding carrier events."""
    from wismo.demo.run import run_demo  # noqa: PLC0415 - only this command needs it

    run_demo(path=path, orders=orders, port=port, speed=speed, seconds=seconds)


def main() -> None:
    app()
