"""`wismo push keys`: a new VAPID key pair for Web Push, printed as environment lines.

Registered on the main app by `wismo.cli.main`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from wismo.channels.push import check_subject, generate_keys, load_vapid

app = typer.Typer(help="Web Push to browsers (tracking page opt-ins).", no_args_is_help=True)


@app.command("keys")
def keys(
    subject: Annotated[
        str,
        typer.Option(
            "--subject",
            help="Contact for push services: mailto:ops@yourstore.com or an https URL.",
        ),
    ] = "mailto:support@example.com",
) -> None:
    """Generate a VAPID key pair. Keep the private key secret; changing it later voids
    every browser's subscription (they were made with the public key)."""
    private, public = generate_keys()
    try:
        check_subject(load_vapid(private), subject)
    except ValueError:
        typer.echo("error: --subject must be mailto:someone@domain or an https URL", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"WISMO_VAPID_PRIVATE_KEY={private}")
    typer.echo(f"WISMO_VAPID_PUBLIC_KEY={public}")
    typer.echo(f"WISMO_VAPID_SUBJECT={subject}")
