"""The threaded local HTTP server the fake providers (help desk, language model, push
service) run on, and the base of their request handlers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """Kept-alive HTTP/1.1 without Nagle's delay, as the real providers' clients expect;
    no access log on the test output."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are asserted on by the tests, not logged."""


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is expected here: no traceback."""


def start(handler: type[BaseHTTPRequestHandler], port: int) -> tuple[QuietServer, int]:
    """Serve `handler` on 127.0.0.1:`port` (0: any free port) in a daemon thread; the
    server and the port it got."""
    server = QuietServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, int(server.server_address[1])


def stop(server: QuietServer, stopping: threading.Event) -> None:
    """Wake handlers that are sleeping on `stopping`, then stop and close the server."""
    stopping.set()
    server.shutdown()
    server.server_close()
