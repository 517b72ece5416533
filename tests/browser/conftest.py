"""What the browser tests share: headless Chromium, axe-core, and the app served on a port.

Needs Debian's chromium (/usr/bin/chromium), Python Playwright and axe-core from npm
(`npm install --prefix .cache/npm axe-core@4`). Without them the tests skip with the
reason; with WISMO_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from wismo.bootstrap import Wismo
from wismo.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("WISMO_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(os.environ.get("WISMO_AXE_PATH", ROOT / ".cache/npm/node_modules/axe-core/axe.min.js"))

Serve = Callable[[Wismo], AbstractContextManager[str]]


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


@pytest.fixture(scope="session")
def axe_path() -> Path:
    return AXE


@contextmanager
def _serve(w: Wismo) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture(scope="session")
def serve() -> Serve:
    """`with serve(w) as base_url:` runs the app over `w` on a free port in a thread."""
    return _serve
