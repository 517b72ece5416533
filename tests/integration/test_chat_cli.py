"""`wismo chat`: the agent on stdin and stdout, against the configured database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from wismo.bootstrap import Wismo
from wismo.cli.main import app
from wismo.testing import FakeClock, encode, envelope, order_created, shipment_created

runner = CliRunner()
TRACKING = "1Z999AA10123456784"


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    wismo: Wismo,
    store_id: int,
    clock: FakeClock,
) -> None:
    placed = clock.now - timedelta(days=2)
    events = [
        envelope(
            "customer.upserted",
            {"external_id": "c-ada", "emails": ["ada@example.com"], "phones": [], "consent": {}},
        ),
        order_created("1001", placed_at=placed, customer_external_id="c-ada"),
        shipment_created("1001", "S1", created_at=placed, tracking_number=TRACKING),
    ]
    assert all(
        r.status == "processed"
        for r in wismo.ingestor.ingest(store_id, [encode(e) for e in events])
    )
    monkeypatch.setenv("WISMO_DATABASE_URL", database_url)
    for name in ("WISMO_SMTP_HOST", "WISMO_TWILIO_ACCOUNT_SID", "WISMO_HELPDESK_URL"):
        monkeypatch.delenv(name, raising=False)


def test_chat_answers_after_order_number_and_email(configured: None) -> None:
    """A conversation typed line by line; end of input ends it."""
    result = runner.invoke(
        app, ["chat", "--store", "acme"], input="where is order 1001?\nada@example.com\n"
    )
    assert result.exit_code == 0, result.output
    replies = [line for line in result.output.splitlines() if line.startswith("agent> ")]
    assert len(replies) == 3
    assert TRACKING in result.output


def test_quit_ends_and_goodbye_ends(configured: None) -> None:
    """`quit` stops reading; so does the agent's goodbye."""
    quit_result = runner.invoke(app, ["chat"], input="quit\nwhere is order 1001?\n")
    assert quit_result.exit_code == 0
    assert quit_result.output.count("agent> ") == 1
    bye = runner.invoke(app, ["chat"], input="thanks, bye!\nwhere is order 1001?\n")
    assert bye.exit_code == 0
    assert bye.output.count("agent> ") == 2


def test_demo_mode_prints_the_code_and_plain_mode_does_not(configured: None) -> None:
    """The terminal says where a code went; only --demo shows the code."""
    plain = runner.invoke(app, ["chat", "--email", "ada@example.com"], input="where is my order\n")
    assert plain.exit_code == 0, plain.output
    assert "(code sent to a***@e***.com)" in plain.output
    assert not re.search(r"\b\d{6}\b", plain.output)
    demo = runner.invoke(
        app, ["chat", "--email", "ada@example.com", "--demo"], input="where is my order\n"
    )
    assert re.search(r"\(code sent to a\*\*\*@e\*\*\*\.com: \d{6}\)", demo.output)


def test_handoffs_are_listed(configured: None) -> None:
    """`--handoffs` shows what waits for a person, with its summary."""
    runner.invoke(app, ["chat"], input="I want to talk to a human\n")
    listed = runner.invoke(app, ["chat", "--handoffs"])
    assert listed.exit_code == 0
    assert "queued" in listed.output
    assert "human_requested" in listed.output
    assert "Why handed over: The customer asked for a person." in listed.output


def test_unknown_store_is_a_one_line_error(configured: None) -> None:
    """A store that does not exist: `error: ...` and exit code 1, no traceback."""
    result = runner.invoke(app, ["chat", "--store", "nope"], input="hi\n")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["error: no store 'nope'; see `wismo stores list`"]


def test_an_overlong_line_is_refused_and_the_chat_goes_on(configured: None) -> None:
    """A line over 10,000 characters gets an error line, not a crash."""
    result = runner.invoke(app, ["chat"], input="a" * 10_001 + "\nhello\n")
    assert result.exit_code == 0
    assert "error: text: at most 10000 characters" in result.output
    assert result.output.count("agent> ") == 2
