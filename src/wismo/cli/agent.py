"""`wismo agent ...`: the order-status agent from the terminal.

`classify` needs no database, no settings and no network: it runs the offline
understanding on stdin. The agent's modules (and scikit-learn) are imported inside the
commands, so that `wismo --help` and every other command start as fast as before.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

import orjson
import typer

from wismo.cli import agent_test

app = typer.Typer(help="The order-status agent.", no_args_is_help=True)
app.command("test")(agent_test.run_scenarios)  # conversation scenarios (scenarios/*.yaml)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command("classify")
def classify(
    region: Annotated[
        str,
        typer.Option("--region", help="Country for phone numbers without +code and 3/12 dates."),
    ] = "US",
    today: Annotated[
        str | None,
        typer.Option(
            "--today", help="YYYY-MM-DD that 'yesterday' is relative to (default: today)."
        ),
    ] = None,
    order_pattern: Annotated[
        list[str] | None,
        typer.Option(
            "--order-pattern",
            help="The store's order-number format, a regular expression (first group or "
            "whole match); repeatable.",
        ),
    ] = None,
) -> None:
    """Classify messages: one per line on stdin, one JSON object per line on stdout.

    Each object is {"text", "intent", "confidence", "entities": {"order_number", "email",
    "phone", "postal_code", "tracking_number", "dates"}}, in input order. An empty line
    gives intent "out_of_scope" with confidence 0.
    """
    import phonenumbers  # noqa: PLC0415 - heavy imports wait for the command that needs them

    on: date | None = None
    if today is not None:
        try:
            on = date.fromisoformat(today)
        except ValueError:
            raise _fail(f"--today: expected YYYY-MM-DD, got {today!r}") from None
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise _fail(f"--region: unknown country code {region!r}")
    patterns = order_pattern or []
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(f"--order-pattern {pattern!r}: {exc}") from None

    from wismo.conversation.nlu import understand  # noqa: PLC0415 - as phonenumbers above

    stdin = typer.get_binary_stream("stdin")
    stdout = typer.get_binary_stream("stdout")
    for raw in stdin:
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        u = understand(text, order_patterns=patterns, default_region=region, today=on)
        line = {
            "text": u.text,
            "intent": u.intent,
            "confidence": u.confidence,
            "entities": u.entities.to_json(),
        }
        stdout.write(orjson.dumps(line) + b"\n")
        stdout.flush()  # a caller feeding one line at a time waits for each answer
