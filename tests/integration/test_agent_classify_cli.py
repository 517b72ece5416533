"""`wismo agent classify`: stdin lines in, one JSON object per line out, no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from wismo.cli.main import app

runner = CliRunner()
KEYS = ["order_number", "email", "phone", "postal_code", "tracking_number", "dates"]


def test_classify_prints_one_object_per_line_in_order() -> None:
    """Each input line, empty ones included, gives one JSON object, in input order."""
    lines = ["where is #1042", "", "my zip is 94107", "when will it arrive?", "ok thanks bye"]
    result = runner.invoke(
        app, ["agent", "classify", "--today", "2026-03-18"], input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["text"] for o in out] == lines
    for o in out:
        assert list(o) == ["text", "intent", "confidence", "entities"]
        assert list(o["entities"]) == KEYS
        assert 0.0 <= o["confidence"] <= 1.0
    assert out[0]["intent"] == "order_status"
    assert out[0]["entities"]["order_number"] == "1042"
    assert (out[1]["intent"], out[1]["confidence"]) == ("out_of_scope", 0.0)
    assert out[2]["entities"]["postal_code"] == "94107"
    assert out[2]["entities"]["order_number"] is None
    assert out[3]["intent"] == "delivery_date"


def test_classify_options_reach_the_understanding() -> None:
    """--region reads national phones and dates, --order-pattern adds a store format."""
    result = runner.invoke(
        app,
        [
            "agent", "classify", "--region", "gb", "--today", "2026-03-18",
            "--order-pattern", r"\bW-\d{6}\b",
        ],
        input="call 07911 123456 about W-123456 from 3/12\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    entities = json.loads(result.stdout)["entities"]
    assert entities["phone"] == "+447911123456"
    assert entities["order_number"] == "W-123456"
    assert entities["dates"] == ["2025-12-03"]


def test_bad_options_are_one_line_errors() -> None:
    """Bad --today, --region or --order-pattern: one `error:` line and exit code 2."""
    for args in (["--today", "tomorrow"], ["--region", "XX"], ["--order-pattern", "("]):
        result = runner.invoke(app, ["agent", "classify", *args], input="hi\n")
        assert result.exit_code == 2
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1


def test_classify_needs_no_database(tmp_path: Path) -> None:
    """The command runs with a database URL that cannot be opened, undecodable bytes too."""
    env = {**os.environ, "WISMO_DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.db"}
    done = subprocess.run(
        [sys.executable, "-c", "from wismo.cli.main import app; app()", "agent", "classify"],
        input=b"hola, \xff d\xc3\xb3nde est\xc3\xa1 mi pedido?\nrefund?\n",
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["order_status", "refund_status"]
    assert "\ufffd" in out[0]["text"]


def test_the_command_line_does_not_load_the_model_at_start() -> None:
    """Importing the `wismo` command loads neither scikit-learn nor numpy (fast --help)."""
    code = "import sys, wismo.cli.main; print(sorted({'sklearn', 'numpy'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
