"""The chat widget on the tracking page, in real headless Chromium: shown only with
JavaScript, labelled and usable by keyboard, replies announced in a live region, nothing
requested from other hosts, and the page unchanged without JavaScript.

Needs Debian's chromium (/usr/bin/chromium), Python Playwright and axe-core from npm
(`npm install --prefix .cache/npm axe-core@4`). Without them the tests skip with the
reason; with WISMO_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from wismo.bootstrap import Wismo, bootstrap
from wismo.config import Settings
from wismo.storage import page as page_db
from wismo.storage import stores
from wismo.testing import FakeClock, encode, order_created, shipment_created, tracking
from wismo.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("WISMO_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(os.environ.get("WISMO_AXE_PATH", ROOT / ".cache/npm/node_modules/axe-core/axe.min.js"))
SCRIPT = ROOT / "src/wismo/web/static/chat.js"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TRACKING = "1Z999AA10123456784"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Python playwright is not installed (pip install -e '.[dev]')"
    if not AXE.exists():
        return f"axe-core not found at {AXE} (npm install --prefix .cache/npm axe-core@4)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = _missing()
    if problem:
        if os.environ.get("WISMO_REQUIRE_BROWSER") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional, checked above

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The app on a free port over a seeded SQLite copy: (base URL, signed order path)."""
    target = tmp_path / "wismo.db"
    shutil.copy(sqlite_template, target)
    clock = FakeClock()
    w: Wismo = bootstrap(Settings(database_url=f"sqlite:///{target}"), clock=clock, migrate=False)
    with w.engine.begin() as conn:
        store_id = stores.create_store(conn, "acme", "Acme & Co", "US", "America/New_York")
    events = [
        order_created("1001", placed_at=T0, promised=("2026-11-27", "2026-11-30")),
        shipment_created("1001", "S1", created_at=T0, tracking_number=TRACKING),
        tracking("in_transit", T0 + timedelta(days=1), shipment_ref="S1", city="Newark"),
    ]
    w.ingestor.ingest(store_id, [encode(e) for e in events])
    with w.engine.connect() as conn:
        found = page_db.parcel_order(conn, store_id, TRACKING)
    assert found is not None
    path = w.links.sign_order_link(store_id, found[0], clock() + timedelta(days=1))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(w), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", path
    finally:
        server.should_exit = True
        thread.join(5)
        w.close()


def test_chat_script_is_small() -> None:
    """The widget's script stays under 10 KB."""
    assert SCRIPT.stat().st_size < 10_000


def test_asking_where_is_my_order_gets_a_reply(browser: Any, site: tuple[str, str]) -> None:
    """On an order page opened from its signed link, "where is my order" + Enter is answered
    at once with that order's facts in the live log: no order number or contact asked."""
    base, path = site
    context = browser.new_context(viewport={"width": 320, "height": 800})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    resp = page.goto(base + path)
    assert resp is not None
    assert resp.status == 200
    chat = page.locator("#chat")
    chat.wait_for(state="visible", timeout=5_000)
    assert page.locator("#chat-log").get_attribute("aria-live") == "polite"
    box = page.get_by_label("Your message")
    box.focus()
    page.keyboard.type("where is my order")
    page.keyboard.press("Enter")
    agent = page.locator("#chat-log .chat-agent")
    # The greeting, then the answer to the question.
    agent.nth(1).wait_for(timeout=10_000)
    texts = agent.all_inner_texts()
    assert "1001" in texts[0], texts  # the greeting already knows the order
    assert TRACKING in texts[-1], texts
    assert "Newark" in texts[-1], texts
    assert "order number" not in texts[-1].casefold(), texts
    assert "email" not in texts[-1].casefold(), texts
    assert page.locator("#chat").get_attribute("data-link") == path.removeprefix("/t/")
    assert page.locator("#chat-log .chat-you").inner_text().endswith("where is my order")
    assert box.input_value() == ""
    assert page.evaluate("document.activeElement.id") == "chat-input"
    others = [u for u in requests if not u.startswith(base) and not u.startswith("data:")]
    assert not others, f"requested other hosts: {others}"
    assert not errors, errors
    context.close()
    # bypass_csp only lets the test inject axe-core; the widget above ran under the real CSP.
    context = browser.new_context(viewport={"width": 320, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(base + path)
    page.locator("#chat").wait_for(state="visible", timeout=5_000)
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', "
        "'wcag21a', 'wcag21aa', 'best-practice']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))"
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, bad
    context.close()


def test_page_without_javascript_shows_no_chat(browser: Any, site: tuple[str, str]) -> None:
    """Without JavaScript the order page works and the chat block stays hidden."""
    base, path = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    resp = page.goto(base + path)
    assert resp is not None
    assert resp.status == 200
    assert page.locator("h1").inner_text()
    assert not page.locator("#chat").is_visible()
    context.close()
