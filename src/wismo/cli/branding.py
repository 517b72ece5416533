"""`wismo stores brand`: a store's look on the tracking page (docs/tracking-page.md).

Only the options given change; an empty value (`--logo-url ''`) removes a field. Every
value is validated (colours `#rrggbb`, http(s) URLs, an email, a host name) before it is
stored, and the result is printed.
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from wismo.bootstrap import bootstrap
from wismo.services.branding import BrandingError, theme, validate
from wismo.storage import page as page_db
from wismo.storage import stores as store_db


def brand(  # noqa: PLR0917 - Typer turns each parameter into a CLI option
    store: Annotated[str, typer.Option("--store", help="Store slug.")],
    logo_url: Annotated[
        str | None, typer.Option(help="https URL, same-origin path or data:image URI.")
    ] = None,
    primary: Annotated[str | None, typer.Option(help="Header and button colour, #rrggbb.")] = None,
    accent: Annotated[str | None, typer.Option(help="Link colour, #rrggbb.")] = None,
    support_url: Annotated[str | None, typer.Option(help="Help centre URL.")] = None,
    support_email: Annotated[str | None, typer.Option(help="Support email address.")] = None,
    custom_domain: Annotated[
        str | None, typer.Option(help="Host that serves this store's page at / and /track.")
    ] = None,
) -> None:
    """Set the tracking page's logo, colours, support links and custom domain."""
    given = {
        "logo_url": logo_url,
        "primary": primary,
        "accent": accent,
        "support_url": support_url,
        "support_email": support_email,
        "custom_domain": custom_domain,
    }
    try:
        changes = validate({k: v for k, v in given.items() if v is not None})
    except BrandingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    w = bootstrap()
    try:
        with w.engine.begin() as conn:
            row = store_db.get_store(conn, store)
            if row is None:
                typer.echo(f"error: no store {store!r}; see `wismo stores list`", err=True)
                raise typer.Exit(1)
            domain = changes.get("custom_domain")
            taken = page_db.domains(conn).get(domain) if domain else None
            if taken and taken != store:
                typer.echo(f"error: custom_domain {domain} is used by store {taken!r}", err=True)
                raise typer.Exit(1)
            branding = page_db.set_branding(conn, int(row.id), {**changes})
    finally:
        w.close()
    typer.echo(orjson.dumps(branding, option=orjson.OPT_INDENT_2).decode())
    shown = theme(branding)
    if shown.link != branding.get("accent", shown.link):
        typer.echo(
            f"note: accent {branding['accent']} is below 4.5:1 on white; links use {shown.link}",
            err=True,
        )
