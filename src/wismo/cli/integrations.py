"""`wismo integrations`: a store's accounts at aggregators and carriers.

Aggregator webhooks (`easypost`, `aftership`, `shippo`) need the signing secret (Shippo:
the URL token); carriers to poll (`carrier:ups`, ...) need API credentials. Secrets are
never printed back.
"""

from __future__ import annotations

from typing import Annotated

import typer

from wismo.bootstrap import bootstrap
from wismo.storage import stores as store_db
from wismo.storage.integrations import store_integrations, upsert_integration

app = typer.Typer(
    help="Accounts at aggregators and carriers (webhook secrets, API credentials).",
    no_args_is_help=True,
)

PROVIDERS = ("easypost", "aftership", "shippo")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            typer.echo(f"error: {option} takes KEY=VALUE, got {item!r}", err=True)
            raise typer.Exit(2)
        out[key] = value
    return out


@app.command("add")
def add(  # noqa: PLR0917 - Typer turns each parameter into a CLI option
    provider: Annotated[str, typer.Argument(help="easypost, aftership, shippo, or carrier:NAME")],
    account: Annotated[str, typer.Option(help="Names the account in webhook URLs and logs.")],
    store: Annotated[str, typer.Option(help="Store slug.")],
    secret: Annotated[str | None, typer.Option(help="Webhook signing secret or URL token.")] = None,
    credential: Annotated[
        list[str] | None, typer.Option(help="API credential KEY=VALUE (repeatable).")
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(help="Setting KEY=VALUE, e.g. base_url, requests_per_second (repeatable)."),
    ] = None,
) -> None:
    """Add or update an integration."""
    from wismo.ingestion.carriers import registry  # noqa: PLC0415 - only `add` needs it

    if provider.startswith("carrier:"):
        name = provider.partition(":")[2]
        if name not in registry.supported():
            typer.echo(f"error: unsupported carrier {name!r}; see `wismo carriers list`", err=True)
            raise typer.Exit(2)
    elif provider not in PROVIDERS:
        typer.echo(
            f"error: provider must be one of {', '.join(PROVIDERS)} or carrier:NAME", err=True
        )
        raise typer.Exit(2)
    credentials = _pairs(credential, "--credential")
    settings = _pairs(setting, "--setting")
    w = bootstrap()
    try:
        with w.engine.begin() as conn:
            row = store_db.get_store(conn, store)
            if row is None:
                typer.echo(f"error: no store {store!r}", err=True)
                raise typer.Exit(1)
            upsert_integration(
                conn,
                int(row.id),
                provider,
                account,
                secret=secret,
                credentials=credentials,
                settings=settings,
            )
    finally:
        w.close()
    where = f"/webhooks/{provider}/{account}" if provider in PROVIDERS else "polled by `wismo poll`"
    typer.echo(f"{provider} account {account} saved for {store} ({where})")


@app.command("list")
def list_integrations(store: Annotated[str, typer.Option(help="Store slug.")]) -> None:
    """A store's integrations (secrets and credentials hidden)."""
    w = bootstrap()
    try:
        with w.engine.connect() as conn:
            row = store_db.get_store(conn, store)
            if row is None:
                typer.echo(f"error: no store {store!r}", err=True)
                raise typer.Exit(1)
            found = store_integrations(conn, int(row.id))
    finally:
        w.close()
    for i in found:
        keys = ",".join(sorted(i.credentials)) or "-"
        typer.echo(
            f"{i.provider}\t{i.account}\tsecret={'set' if i.secret else '-'}\tcredentials={keys}"
        )
