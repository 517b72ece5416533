"""The tracking page in real headless Chromium: no JavaScript needed, no horizontal scroll
at 320 px, no requests to other hosts, and no serious or critical axe-core violations.
Screenshots at phone and desktop widths go to `test-artifacts/` (gitignored).

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
from wismo.services.branding import validate
from wismo.storage import page as page_db
from wismo.storage import stores
from wismo.testing import FakeClock, encode, envelope, order_created, shipment_created, tracking

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TRACKING = "1Z999AA10123456784"
WIDTHS = (320, 1280)


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
        page_db.set_branding(
            conn,
            store_id,
            validate(
                {"primary": "#ffd400", "accent": "#ffe680", "support_email": "help@acme.test"}
            ),
        )
    events = [
        envelope("customer.upserted", {"external_id": "c-1", "emails": ["ada@example.com"]}),
        order_created(
            "1001",
            placed_at=T0,
            lines=[("L1", "<b>Bold</b> mug with a very long name " * 3, 1), ("L2", "Towel", 2)],
            promised=("2026-11-27", "2026-11-29"),
            customer_external_id="c-1",
        ),
        shipment_created("1001", "S1", created_at=T0, tracking_number=TRACKING, lines=[("L1", 1)]),
        shipment_created("1001", "S2", created_at=T0, lines=[("L2", 2)]),
        tracking("in_transit", T0 + timedelta(days=1), shipment_ref="S1", city="Newark"),
        tracking("exception", T0 + timedelta(days=2), shipment_ref="S2", reason="customs_hold"),
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


def _check(browser: Any, base: str, path: str, name: str, axe_path: Path) -> None:
    for width in WIDTHS:
        # bypass_csp only lets the test inject axe-core; the page itself runs no script.
        context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r, seen=requests: seen.append(r.url))
        resp = page.goto(base + path)
        assert resp is not None
        assert resp.status == 200, path
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"track-{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert scroll <= 0, f"{name} at {width}px scrolls sideways by {scroll}px"
        page.add_script_tag(path=str(axe_path))
        violations = page.evaluate(
            "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', "
            "'wcag21a', 'wcag21aa', 'best-practice']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))"
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name} at {width}px: {bad}"
        others = [u for u in requests if not u.startswith(base) and not u.startswith("data:")]
        assert not others, f"{name} requested other hosts: {others}"
        context.close()


def test_pages_in_chromium(browser: Any, site: tuple[str, str], axe_path: Path) -> None:
    """Lookup form, full order (split, problem) and parcel view pass at 320 and 1280 px."""
    base, order_path = site
    _check(browser, base, "/track/acme", "lookup", axe_path)
    _check(browser, base, order_path, "order", axe_path)
    _check(browser, base, f"/track/acme/parcel/{TRACKING}", "parcel", axe_path)
    _check(browser, base, "/track/acme?lang=fr", "lookup-fr", axe_path)


def test_lookup_works_without_javascript(browser: Any, site: tuple[str, str]) -> None:
    """With JavaScript off, the form posts and the order page shows, at phone width."""
    base, _ = site
    context = browser.new_context(java_script_enabled=False, viewport={"width": 320, "height": 700})
    page = context.new_page()
    page.goto(base + "/track/acme")
    page.get_by_label("Order number").fill("1001")
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_load_state()
    assert "Order 1001" in page.content()
    page.get_by_label("Text message (SMS)").check()
    page.get_by_role("button", name="Save my choice").click()
    page.wait_for_load_state()
    assert "Your choice is saved." in page.content()
    page.screenshot(path=str(ARTIFACTS / "track-nojs-saved-320.png"), full_page=True)
    context.close()
