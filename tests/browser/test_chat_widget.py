"""The chat widget on the tracking page, in real headless Chromium: shown only with
JavaScript, labelled and usable by keyboard, replies announced in a live region, nothing
requested from other hosts, and the page unchanged without JavaScript.

Needs Debian's chromium (/usr/bin/chromium), Python Playwright and axe-core from npm
(`npm install --prefix .cache/npm axe-core@4`). Without them the tests skip with the
reason; with WISMO_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wismo.bootstrap import Wismo, bootstrap
from wismo.config import Settings
from wismo.storage import page as page_db
from wismo.storage import stores
from wismo.testing import FakeClock, encode, order_created, shipment_created, tracking

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "src/wismo/web/static/chat.js"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TRACKING = "1Z999AA10123456784"


@pytest.fixture
def site(
    sqlite_template: Path, tmp_path: Path, serve: Callable[[Wismo], AbstractContextManager[str]]
) -> Iterator[tuple[str, str]]:
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
    try:
        with serve(w) as base:
            yield base, path
    finally:
        w.close()


def test_chat_script_is_small() -> None:
    """The widget's script stays under 10 KB."""
    assert SCRIPT.stat().st_size < 10_000


def test_asking_where_is_my_order_gets_a_reply(
    browser: Any, site: tuple[str, str], axe_path: Path
) -> None:
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
    page.add_script_tag(path=str(axe_path))
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
