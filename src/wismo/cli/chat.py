"""`wismo chat`: talk to a store's order-status agent in the terminal (docs/agent.md).

Reads one message per line from stdin and prints the agent's replies; end of input, `quit`
or `exit` ends, as does the agent saying goodbye. One-time codes go out through the
configured email/SMS channels; with neither configured, the terminal only says where a
code would have gone, and `--demo` prints the code itself (for trying the demo store).
`--handoffs` lists what was handed to a person; `--retry-handoffs` offers the help desk
the handoffs it failed to take.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wismo.bootstrap import Wismo, bootstrap, configured_code_sender, make_agent
from wismo.config import Settings
from wismo.conversation.agent import MAX_TEXT_CHARS, Agent
from wismo.conversation.ports import CodeSender
from wismo.conversation.replies import mask_contact
from wismo.storage import stores as store_db
from wismo.storage.conversations import SqlConversationStore

QUIT = frozenset({"quit", "exit", ":q"})


class TerminalCodeSender:
    """Says where the code went; shows the code only in demo mode."""

    def __init__(self, *, show: bool) -> None:
        self._show = show

    def send_code(
        self, store_id: int, channel: str, address: str, code: str, language: str
    ) -> None:
        shown = f": {code}" if self._show else ""
        typer.echo(f"(code sent to {mask_contact(address)}{shown})")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _store_id(w: Wismo, slug: str | None) -> int:
    with w.engine.connect() as conn:
        if slug:
            row = store_db.get_store(conn, slug)
            if row is None:
                raise _fail(f"no store {slug!r}; see `wismo stores list`")
            return int(row.id)
        rows = store_db.list_stores(conn)
    if len(rows) == 1:
        return int(rows[0].id)
    if not rows:
        raise _fail("no store yet; create one with `wismo stores create SLUG` or run `wismo demo`")
    raise _fail("several stores; name one with --store")


def chat(  # noqa: PLR0917 - Typer turns each parameter into a CLI option
    store: Annotated[
        str | None, typer.Option("--store", help="Store slug (default: the only store).")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Your email, as a signed-in chat would pass it.")
    ] = None,
    phone: Annotated[str | None, typer.Option(help="Your phone, as a caller ID would.")] = None,
    language: Annotated[str | None, typer.Option(help="Reply language (en, es).")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Print one-time codes here (no email or SMS).")
    ] = False,
    handoffs: Annotated[
        bool, typer.Option("--handoffs", help="List recent handoffs to a person, then exit.")
    ] = False,
    retry_handoffs: Annotated[
        bool, typer.Option("--retry-handoffs", help="Offer failed handoffs again, then exit.")
    ] = False,
) -> None:
    """Chat with the order-status agent in the terminal."""
    try:
        w = bootstrap(Settings.from_env())
    except Exception as exc:
        raise _fail(f"cannot open the database: {exc}") from None
    try:
        store_id = _store_id(w, store)
        if handoffs:
            _list_handoffs(w, store_id)
            return
        sender: CodeSender = (
            TerminalCodeSender(show=True)
            if demo
            else configured_code_sender(w.settings) or TerminalCodeSender(show=False)
        )
        agent = make_agent(w, code_sender=sender)
        if retry_handoffs:
            sent, pending = agent.retry_handoffs()
            typer.echo(f"{sent} handed over, {pending} still pending")
            return
        started = agent.start(
            store_id, "terminal", email=email, phone=phone, client=phone, language=language
        )
        typer.echo(f"agent> {started.reply}")
        _loop(agent, started.conversation_id)
    finally:
        w.close()


def _loop(agent: Agent, conversation_id: str) -> None:
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            typer.echo("you> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if text.strip().lower() in QUIT:
            break
        if len(text) > MAX_TEXT_CHARS:
            typer.echo(f"error: text: at most {MAX_TEXT_CHARS} characters", err=True)
            continue
        result = agent.turn(conversation_id, text)
        typer.echo(f"agent> {result.reply}")
        if result.ended:
            break


def _list_handoffs(w: Wismo, store_id: int) -> None:
    found = SqlConversationStore(w.engine).handoffs(store_id)
    if not found:
        typer.echo("no handoffs")
    for q in found:
        h = q.handoff
        ticket = f"{q.ticket.provider}:{q.ticket.ticket_id}" if q.ticket else "-"
        typer.echo(f"{h.created_at:%Y-%m-%d %H:%M} {q.status:8} {ticket:20} {h.reason}")
        typer.echo("  " + h.summary.replace("\n", "\n  "))
