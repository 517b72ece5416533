"""`python -m bench http`: single-event ingestion over HTTP, against a real server.

The server is uvicorn in a subprocess (uvloop and httptools when installed, as in
production) serving `create_app()` on a temporary SQLite database with a store, a write
key and some orders and shipments. Concurrent keep-alive clients POST one
`tracking.event` each to /v1/events, every one with a unique id, for the given time; every
response is read whole and anything but 2xx, or a connection failure, is an error.

The load generator is a minimal HTTP/1.1 client on raw asyncio streams: on a 2-core
machine a heavier client (httpx) would take the CPU the server needs and measure itself.

Floor: the same clients against GET /healthz of the same server for a few seconds: what
this server, framework and load generator manage when the request does no work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from bench._common import Progress, percentile
from bench._events import ingest_all, seed_events
from wismo.bootstrap import bootstrap
from wismo.config import Settings
from wismo.services.access import Scope
from wismo.storage.stores import create_key, create_store
from wismo.storage.tables import inbox

HOST = "127.0.0.1"
TARGET_RPS = 1_000
TARGET_P99_MS = 50.0
READY_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
SOURCE = "bench-http"
APP_FACTORY = "bench.http_app:app"
ROOT = Path(__file__).resolve().parent.parent  # so the server can import `bench.http_app`
_READ_ERRORS = (asyncio.IncompleteReadError, asyncio.LimitOverrunError)
MAX_CHUNKS = 10_000  # a chunked body longer than this is not something this API sends


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the timed run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients")
    parser.add_argument(
        "--floor-seconds", type=float, default=5.0, help="length of the GET /healthz floor run"
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=2.0, help="untimed POSTs before measuring"
    )
    parser.add_argument("--shipments", type=int, default=1_000, help="shipments to seed")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (one is the default)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and server log")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")


@dataclass
class PhaseResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    ok: int = 0
    errors: int = 0
    connection_failures: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.seconds <= 0 or args.clients < 1:
        raise SystemExit("bench: --seconds and --clients must be positive")
    say = Progress()
    folder = Path(tempfile.mkdtemp(prefix="wismo-bench-http-"))
    try:
        return _measure(args, folder, say)
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _measure(args: argparse.Namespace, folder: Path, say: Progress) -> dict[str, Any]:
    rng = random.Random(args.seed)
    url = f"sqlite:///{folder / 'bench.db'}"
    wismo = bootstrap(Settings(database_url=url))
    try:
        with wismo.engine.begin() as conn:
            store_id = create_store(conn, "bench", "Bench store", "GB", "Europe/London")
            token = create_key(conn, store_id, Scope.WRITE, "bench").token
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
        orders, shipment_events, seeded = seed_events(rng, args.shipments, start, timedelta(days=2))
        ingest_all(wismo.ingestor, store_id, orders, 1000)
        ingest_all(wismo.ingestor, store_id, shipment_events, 1000)
    finally:
        wismo.close()
    say(f"seeded {len(orders)} orders, {len(seeded)} shipments in {url}")

    loop_impl = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http_impl = "httptools" if importlib.util.find_spec("httptools") else "h11"
    port = _free_port()
    log_path = folder / "server.log"
    server = _start_server(
        url,
        port,
        loop_impl,
        http_impl,
        log_path=log_path,
        workers=args.workers,
    )
    say(
        f"server pid {server.pid} on {HOST}:{port}: {APP_FACTORY}, "
        f"loop {loop_impl}, http {http_impl}, {args.workers} worker(s)"
    )
    try:
        refs = [s.ref for s in seeded]
        # After every seeded shipment was created, so no scan predates its label.
        posts = _PostFactory(token, port, refs, start + timedelta(days=4))
        healthz = _request(b"GET", "/healthz", port)
        with _runner(loop_impl) as runner:
            runner.run(_wait_ready(port, server, log_path))
            say("server ready")
            warm = runner.run(_drive(port, args.clients, args.warmup_seconds, posts, server.pid))
            say(f"warm-up: {warm.ok} POSTs, {warm.errors} errors")
            floor = runner.run(
                _drive(port, args.clients, args.floor_seconds, lambda: healthz, server.pid)
            )
            say(
                f"floor GET /healthz: {floor.per_s:,.0f} req/s, "
                f"p99 {percentile(floor.latencies_ms, 99):.2f} ms, {floor.errors} errors"
            )
            main = runner.run(_drive(port, args.clients, args.seconds, posts, server.pid))
        p50, p99 = percentile(main.latencies_ms, 50), percentile(main.latencies_ms, 99)
        say(
            f"POST /v1/events: {main.per_s:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"{main.errors} errors, statuses {dict(main.statuses)}; cpu: server "
            f"{main.server_cpu_s:.1f}s, load generator {main.client_cpu_s:.1f}s"
        )
    finally:
        code = _stop_server(server)
        # uvicorn re-raises the SIGTERM it caught once its graceful shutdown is done.
        how = "after a graceful shutdown" if code in (0, -signal.SIGTERM) else "abnormally"
        say(f"server stopped {how} (exit code {code})")
    stored, flushes = _count_processed(url)
    say(
        f"inbox: {stored} processed events from this run (2xx POSTs: {warm.ok + main.ok}) "
        f"in {flushes} group commits, {stored / max(flushes, 1):.1f} events each"
    )
    return {
        "bench": "http",
        "backend": "sqlite",
        "seconds": args.seconds,
        "clients": args.clients,
        "requests": main.ok + main.errors,
        "requests_per_s": round(main.per_s, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "errors": main.errors,
        "floor_requests_per_s": round(floor.per_s, 1),
        "floor_p99_ms": round(percentile(floor.latencies_ms, 99), 2),
        "floor_errors": floor.errors,
        "ratio": round(main.per_s / floor.per_s, 4) if floor.per_s else None,
        "statuses": {str(k): v for k, v in sorted(main.statuses.items())},
        "inbox_processed": stored,
        "group_commit_mean_batch": round(stored / max(flushes, 1), 1),
        "server_cpu_s": round(main.server_cpu_s, 2),
        "client_cpu_s": round(main.client_cpu_s, 2),
        "server": {
            "loop": loop_impl,
            "http": http_impl,
            "workers": args.workers,
        },
        "target_requests_per_s": TARGET_RPS,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": main.per_s >= TARGET_RPS and p99 <= TARGET_P99_MS and main.errors == 0,
    }


class _PostFactory:
    """One POST /v1/events per call: a fresh scan with a unique event id."""

    def __init__(self, token: str, port: int, refs: list[str], base: datetime) -> None:
        self._head = (
            f"POST /v1/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self._refs = refs
        self._base = base
        self._n = 0

    def __call__(self) -> bytes:
        self._n += 1
        n = self._n
        body = orjson.dumps(
            {
                "version": 1,
                "id": f"http-{n}",
                "source": SOURCE,
                "type": "tracking.event",
                "data": {
                    "shipment_ref": self._refs[n % len(self._refs)],
                    "milestone": "in_transit",
                    "raw_code": "IT",
                    "description": "Arrived at sort facility",
                    "location": {"city": "Leeds", "country": "GB"},
                    # One second apart: each request is a new scan, not a duplicate.
                    "occurred_at": self._base + timedelta(seconds=n),
                },
            }
        )
        return self._head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _request(method: bytes, path: str, port: int) -> bytes:
    return method + f" {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _start_server(
    url: str,
    port: int,
    loop_impl: str,
    http_impl: str,
    *,
    log_path: Path,
    workers: int,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WISMO_DATABASE_URL": url}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        APP_FACTORY,
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--loop",
        loop_impl,
        "--http",
        http_impl,
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def _stop_server(server: subprocess.Popen[bytes]) -> int:
    # SIGTERM lets uvicorn run the app's shutdown (the group committer flushes and stops).
    server.terminate()
    try:
        return server.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.wait(timeout=STOP_TIMEOUT_S)


def _server_cpu(pid: int) -> float:
    """User + system CPU seconds of the server and its worker processes (Linux; else 0)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def _runner(loop_impl: str) -> Iterator[asyncio.Runner]:
    # The load generator uses uvloop too when it can: less CPU taken from the server.
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop_impl == "uvloop":
        import uvloop  # noqa: PLC0415 - optional

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        yield runner


async def _wait_ready(port: int, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    request = _request(b"GET", "/healthz", port)
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            async with asyncio.timeout(2):
                reader, writer = await asyncio.open_connection(HOST, port)
                try:
                    writer.write(request)
                    status, _ = await _read_response(reader)
                finally:
                    writer.close()
            if status == 200:
                return
        except (OSError, TimeoutError, ValueError, *_READ_ERRORS):
            pass  # not listening yet, or half started: ask again shortly
        await asyncio.sleep(0.1)
    raise RuntimeError(f"server not ready in {READY_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response whole; return its status and whether the server closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if chunked:
        for _ in range(MAX_CHUNKS):
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            await reader.readexactly(size + 2)
    elif length:
        await reader.readexactly(length)
    return status, close


async def _client(
    port: int, make: Callable[[], bytes], deadline: float, result: PhaseResult
) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    # Bounded by time; the count bound only guards against a server that answers instantly
    # with an error forever.
    for _ in range(10_000_000):
        if time.perf_counter() >= deadline:
            break
        if writer is None or reader is None:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    reader, writer = await asyncio.open_connection(HOST, port)
            except (OSError, TimeoutError):
                result.errors += 1
                result.connection_failures += 1
                await asyncio.sleep(0.05)
                continue
        request = make()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                writer.write(request)
                status, close = await _read_response(reader)
        except (OSError, TimeoutError, ValueError, *_READ_ERRORS):
            result.errors += 1
            result.connection_failures += 1
            writer.close()
            writer = reader = None
            continue
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.statuses[status] += 1
        if 200 <= status < 300:
            result.ok += 1
        else:
            result.errors += 1
        if close:
            writer.close()
            writer = reader = None
    if writer is not None:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _drive(
    port: int, clients: int, seconds: float, make: Callable[[], bytes], server_pid: int
) -> PhaseResult:
    result = PhaseResult()
    cpu_client, cpu_server = _client_cpu(), _server_cpu(server_pid)
    started = time.perf_counter()
    deadline = started + seconds
    tasks: list[Coroutine[Any, Any, None]] = [
        _client(port, make, deadline, result) for _ in range(clients)
    ]
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - started
    result.client_cpu_s = _client_cpu() - cpu_client
    result.server_cpu_s = _server_cpu(server_pid) - cpu_server
    return result


def _count_processed(url: str) -> tuple[int, int]:
    """Events of this run stored as processed, and in how many group commits: one
    `ingest()` call stamps its whole batch with one `received_at`."""
    wismo = bootstrap(Settings(database_url=url), migrate=False)
    try:
        with wismo.engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.count(inbox.c.received_at.distinct())).where(
                    inbox.c.source == SOURCE, inbox.c.status == "processed"
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        wismo.close()
