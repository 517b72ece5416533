"""`wismo shopify`: connect a Shopify shop to a store; import the shop's existing orders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from wismo.bootstrap import Wismo, bootstrap
from wismo.config import Settings
from wismo.ingestion.shopify import normalise_shop
from wismo.ingestion.shopify.backfill import ExportError, read_export
from wismo.storage import stores as store_db
from wismo.storage.integrations import upsert_integration

app = typer.Typer(
    help="Shopify: connect a shop (webhooks to POST /webhooks/shopify), import its orders.",
    no_args_is_help=True,
)

StoreOpt = Annotated[str, typer.Option("--store", help="Store slug.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _line(exc: Exception) -> str:
    """The first line of an error (database errors run to several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _wismo() -> Wismo:
    try:
        return bootstrap(Settings.from_env())
    except Exception as exc:
        raise _fail(f"cannot open the database: {_line(exc)}") from None


def _store_id(w: Wismo, slug: str) -> int:
    with w.engine.connect() as conn:
        row = store_db.get_store(conn, slug)
    if row is None:
        raise _fail(f"no store {slug!r}; see `wismo stores list`")
    return int(row.id)


@app.command("connect")
def connect(
    store: StoreOpt,
    shop: Annotated[str, typer.Option("--shop", help="The shop, e.g. acme.myshopify.com")],
    secret: Annotated[
        str,
        typer.Option(
            "--secret",
            envvar="WISMO_SHOPIFY_SECRET",
            help="Webhook signing secret: the app's client secret, or the one Shopify shows "
            "under Settings > Notifications > Webhooks.",
        ),
    ],
) -> None:
    """Accept the shop's webhooks for a store (run again to change the secret)."""
    domain = normalise_shop(shop)
    if domain is None:
        raise _fail(f"not a shop domain: {shop!r} (e.g. acme.myshopify.com)", 2)
    if not secret.strip():
        raise _fail("the secret is empty", 2)
    w = _wismo()
    try:
        store_id = _store_id(w, store)
        with w.engine.begin() as conn:
            upsert_integration(conn, store_id, "shopify", domain, secret=secret.strip())
    finally:
        w.close()
    typer.echo(f"shop {domain} connected to store {store}; send its webhooks to /webhooks/shopify")


@app.command("backfill")
def backfill(
    path: Annotated[
        Path,
        typer.Argument(
            help='Orders export: {"orders": [...]} as the Admin API returns, NDJSON, or -'
        ),
    ],
    store: StoreOpt,
    batch: Annotated[int, typer.Option(min=1, help="Orders per transaction.")] = 500,
) -> None:
    """Import a shop's existing orders (with fulfillments and refunds) from an export."""
    if str(path) == "-":
        raw = sys.stdin.buffer.read()
    elif not path.is_file():
        raise _fail(f"no such file: {path}")
    else:
        raw = path.read_bytes()
    try:
        orders = read_export(raw)
    except ExportError as exc:
        raise _fail(f"{path} is not a Shopify orders export: {exc}") from None
    w = _wismo()
    counts: dict[str, int] = {}
    try:
        store_id = _store_id(w, store)
        for start in range(0, len(orders), batch):
            chunk = orders[start : start + batch]
            results = w.ingestor.ingest(store_id, [inbound for _, inbound in chunk])
            for (name, _), result in zip(chunk, results, strict=True):
                counts[result.status] = counts.get(result.status, 0) + 1
                if result.status in ("rejected", "failed"):
                    first = result.errors[0] if result.errors else {}
                    typer.echo(
                        f"order {name}: {result.status}: {first.get('loc')}: {first.get('msg')}",
                        err=True,
                    )
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(f"import stopped: {_line(exc)}") from None
    finally:
        w.close()
    typer.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no orders in the file")
    if counts.get("rejected") or counts.get("failed"):
        raise typer.Exit(1)
