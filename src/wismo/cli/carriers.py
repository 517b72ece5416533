"""`wismo carriers`: parse a raw carrier response, list carriers, list unmapped codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError

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
