"""The `wismo` command: stores, keys, import, status, inbox list and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wismo.cli.main import app
from wismo.storage.migrate import head
from wismo.testing import encode, order_created, shipment_created, tracking

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WISMO_DATABASE_URL", database_url)
    result = runner.invoke(
        app, ["stores", "create", "acme", "--country", "US", "--time-zone", "America/New_York"]
    )
    assert result.exit_code == 0, result.output
    return database_url


def test_keys_create_prints_a_token_once(env: str) -> None:
    """`keys create` prints the token; `keys list` shows only its prefix."""
    result = runner.invoke(app, ["keys", "create", "--scope", "write", "--label", "oms"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert token.startswith("wk_")
    listed = runner.invoke(app, ["keys", "list"])
    assert token.split("_")[1] in listed.output
    assert token.split("_", 2)[2] not in listed.output
    revoke = runner.invoke(app, ["keys", "revoke", token.split("_")[1]])
    assert revoke.exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).output


def test_import_status_inbox_replay(env: str, tmp_path: Path) -> None:
    """Import a file with one bad line: counts, a line-numbered error, status, replay."""
    lines = [
        encode(order_created("1042", placed_at=T0, lines=[("L1", "Blue mug", 2)])),
        encode(
            shipment_created("1042", "S1", created_at=T0 + timedelta(hours=2), lines=[("L1", 2)])
        ),
        b"",
        b'{"id": "bad-1", "source": "oms", "type": "order.created", "data": {}}',
        encode(
            tracking("out_for_delivery", T0 + timedelta(days=2), shipment_ref="S1", city="Queens")
        ),
    ]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 1
    assert "processed=3" in result.output
    assert "rejected=1" in result.output
    assert "line 4: rejected" in result.output
    status = runner.invoke(app, ["status", "#1042"])
    assert status.exit_code == 0, status.output
    assert "Out for delivery" in status.output
    assert "2 x Blue mug" in status.output
    as_json = runner.invoke(app, ["status", "1042", "--json"])
    assert '"status": "out_for_delivery"' in as_json.output
    listed = runner.invoke(app, ["inbox", "list"])
    assert "dead" in listed.output
    assert "bad-1" not in listed.output
    assert "order_number" in listed.output
    replay = runner.invoke(app, ["inbox", "replay"])
    assert replay.exit_code == 0
    assert "dead=1" in replay.output


def test_user_errors_are_one_line(env: str, tmp_path: Path) -> None:
    """A missing file, an unknown order or store: one line on stderr, non-zero exit."""
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.ndjson")])
    assert missing.exit_code == 1
    assert "no such file" in missing.output
    unknown = runner.invoke(app, ["status", "404404"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "error: no order 404404"
    store = runner.invoke(app, ["status", "1", "--store", "nope"])
    assert "no store 'nope'" in store.output
    assert "Traceback" not in missing.output + unknown.output + store.output


def test_db_upgrade_is_idempotent(env: str) -> None:
    """`db upgrade` on an up-to-date database reports the head revision."""
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0
    assert f"revision {head()}" in result.output


def test_integrations_add_and_list_hide_secrets(env: str) -> None:
    """`integrations add` stores an account; `list` never prints the secret."""
    ok = runner.invoke(
        app,
        [
            "integrations",
            "add",
            "easypost",
            "--account",
            "main",
            "--store",
            "acme",
            "--secret",
            "s3cr3t",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "/webhooks/easypost/main" in ok.output
    carrier = runner.invoke(
        app,
        [
            "integrations",
            "add",
            "carrier:ups",
            "--account",
            "A1",
            "--store",
            "acme",
            "--credential",
            "client_id=x",
            "--credential",
            "client_secret=y",
        ],
    )
    assert carrier.exit_code == 0, carrier.output
    listed = runner.invoke(app, ["integrations", "list", "--store", "acme"])
    assert "easypost\tmain\tsecret=set" in listed.output
    assert "credentials=client_id,client_secret" in listed.output
    assert "s3cr3t" not in listed.output
    assert "=y" not in listed.output
    bad = runner.invoke(
        app, ["integrations", "add", "carrier:nope", "--account", "x", "--store", "acme"]
    )
    assert bad.exit_code == 2
    assert "unsupported carrier" in bad.output
