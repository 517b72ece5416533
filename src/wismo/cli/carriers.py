"""`wismo carriers`: parse a raw carrier response, list carriers, list unmapped codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError
from wismo.ingestion.carriers.detect import detect

app = typer.Typer(
    help="Carrier tracking: parse responses, supported carriers, unmapped codes.",
    no_args_is_help=True,
)


@app.command("parse")
def parse(
    path: Annotated[Path, typer.Argument(help="One raw tracking response (JSON or XML), or -")],
    carrier: Annotated[str, typer.Option("--carrier", help="Carrier name, e.g. ups")],
) -> None:
    """Print the normalised tracking (JSON) of one raw carrier response. No database,
    credentials or network needed."""
    try:
        registry.carrier(carrier)
    except CarrierError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if str(path) == "-":
        body = typer.get_binary_stream("stdin").read()
    elif not path.is_file():
        typer.echo(f"error: no such file: {path}", err=True)
        raise typer.Exit(1)
    else:
        body = path.read_bytes()
    try:
        found = registry.parse(carrier, body)
    except CarrierError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except orjson.JSONDecodeError as exc:
        typer.echo(f"error: unparseable: not valid JSON ({exc})", err=True)
        raise typer.Exit(1) from None
    reports = [registry.report(t) for t in found]
    out = reports[0]
    if len(reports) > 1:
        out = {**out, "other_trackings": reports[1:]}
    typer.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())


@app.command("list")
def list_carriers() -> None:
    """The carriers `parse` understands."""
    for name in registry.supported():
        typer.echo(f"{name}\t{registry.carrier(name).DISPLAY_NAME}")


@app.command("detect")
def detect_carrier(
    number: Annotated[str, typer.Argument(help="A tracking number (spaces are ignored)")],
) -> None:
    """The carriers whose tracking-number format NUMBER fits, best first, or "unknown".
    Several lines mean the number is ambiguous: only the carrier can say which it is."""
    candidates = detect(number)
    for code in candidates:
        typer.echo(code)
    if not candidates:
        typer.echo("unknown")
        raise typer.Exit(1)


@app.command("unmapped")
def unmapped(
    carrier: Annotated[str | None, typer.Option(help="Only this carrier.")] = None,
) -> None:
    """Carrier codes no table knew (the message decided them meanwhile), most seen first."""
    from wismo.bootstrap import bootstrap  # noqa: PLC0415 - parse/list need no database
    from wismo.storage.shipments import list_unmapped  # noqa: PLC0415

    w = bootstrap()
    try:
        with w.engine.connect() as conn:
            rows = list_unmapped(conn, carrier)
    finally:
        w.close()
    if not rows:
        typer.echo("no unmapped carrier codes")
        return
    typer.echo("carrier\tcode\tcount\tlast seen\tmessage")
    for r in rows:
        typer.echo(
            f"{r.carrier}\t{r.code}\t{r.count}\t{r.last_seen_at:%Y-%m-%d %H:%M}\t{r.message or ''}"
        )
