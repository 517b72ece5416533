"""`wismo demo`: build the simulated retailer on SQLite, serve the API, and keep feeding it.

The status service runs on the simulated clock, so "late", estimates and "today" agree with
the simulation while it runs faster than real time.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from wismo.bootstrap import Wismo, bootstrap, make_sweeper
from wismo.config import Settings
from wismo.demo import catalog as cat
from wismo.demo.simulator import SimEvent, Simulation
from wismo.demo.tracking import zone
from wismo.domain.milestones import Milestone
from wismo.services.access import Scope
from wismo.services.ingest import IngestResult
from wismo.services.status import OrderStatusAnswer
from wismo.services.sweep import Sweeper, SweepReport
from wismo.storage import stores
from wismo.web.app import create_app

DEMO_SEED = 1042
BATCH = 1000


class SimClock:
    """Simulated time: frozen at `start` until `run()`, then `speed` minutes per second."""

    def __init__(self, start: datetime, speed: float) -> None:
        self._start = start
        self._speed = speed
        self._began: float | None = None

    def run(self) -> None:
        self._began = time.monotonic()

    def __call__(self) -> datetime:
        if self._began is None:
            return self._start
        elapsed = time.monotonic() - self._began
        return self._start + timedelta(minutes=elapsed * self._speed)


@dataclass(slots=True)
class Demo:
    wismo: Wismo
    store_id: int
    read_key: str
    write_key: str
    sim: Simulation
    path: Path
    build_seconds: float
    history: int
    outcomes: Counter[str]
    sweeper: Sweeper
    swept: SweepReport


def build(
    path: Path,
    *,
    orders: int,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
    seed: int = DEMO_SEED,
) -> Demo:
    """A fresh demo database at `path`, holding the simulation's history up to `now`."""
    started = time.perf_counter()
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    wismo = bootstrap(Settings(database_url=f"sqlite:///{path}"), clock=clock or (lambda: now))
    with wismo.engine.begin() as conn:
        store_id = stores.create_store(
            conn, cat.STORE_SLUG, cat.STORE_NAME, cat.STORE_COUNTRY, cat.STORE_ZONE
        )
        write = stores.create_key(conn, store_id, Scope.WRITE, "demo: shop, warehouse, carriers")
        read = stores.create_key(conn, store_id, Scope.READ, "demo: support and tracking page")
    sim = Simulation(seed, now, orders)
    history = sim.history()
    outcomes: Counter[str] = Counter()
    for i in range(0, len(history), BATCH):
        results = wismo.ingestor.ingest(store_id, history[i : i + BATCH])
        outcomes.update(r.status for r in results)
    # The estimates and the problems found are part of what the demo shows from the start.
    sweeper = make_sweeper(wismo)
    swept = sweeper.sweep(limit=1_000_000)
    seconds = time.perf_counter() - started
    return Demo(
        wismo,
        store_id,
        read.token,
        write.token,
        sim,
        path,
        seconds,
        len(history),
        outcomes,
        sweeper,
        swept,
    )


def feed(demo: Demo, until: datetime) -> str | None:
    """Ingest what the simulation has due by `until`; one line saying what happened."""
    events = demo.sim.due_events(until)
    results = demo.wismo.ingestor.ingest(demo.store_id, [e.body for e in events]) if events else []
    swept = demo.sweeper.sweep()
    if not events and not swept.findings:
        return None
    line = describe_batch(until, events, results) if events else ""
    if swept.findings:
        found = "problem" if swept.findings == 1 else "problems"
        line += f"{'; ' if line else ''}sweeper: {swept.findings} {found} found"
    return line


def describe_batch(
    at: datetime, events: Sequence[SimEvent], results: Sequence[IngestResult]
) -> str:
    groups: dict[str, list[SimEvent]] = {"carrier": [], "warehouse": [], "shop": [], "crm": []}
    for e in events:
        kind = "carrier" if e.source.startswith("carrier:") else e.source
        groups["warehouse" if kind == "wms" else kind].append(e)
    parts = []
    for label, group in groups.items():
        if not group:
            continue
        seen: set[tuple[str | None, str]] = set()
        items: list[str] = []
        for e in sorted((e for e in group if e.weight), key=lambda e: -e.weight):
            if (e.order_number, e.note) not in seen:
                seen.add((e.order_number, e.note))
                items.append(f"{e.order_number} {e.note}")
        shown = ", ".join(items[:4]) + (", …" if len(items) > 4 else "")
        noun = "event" if len(group) == 1 else "events"
        parts.append(f"{len(group)} {label} {noun}" + (f": {shown}" if shown else ""))
    counts = Counter(r.status for r in results)
    extra = []
    if counts["duplicate"]:
        extra.append(f"{counts['duplicate']} duplicate absorbed")
    if counts["parked"]:
        extra.append(f"{counts['parked']} waiting for their shipment")
    if counts["rejected"] or counts["failed"]:
        extra.append(f"{counts['rejected'] + counts['failed']} REJECTED, see `wismo inbox list`")
    tail = f" ({'; '.join(extra)})" if extra else ""
    local = at.astimezone(zone(cat.STORE_ZONE))
    return f"{local:%a %H:%M} sim — " + "; ".join(parts) + tail


def examples(demo: Demo, watch_until: datetime) -> list[tuple[str, str]]:
    """(why it is interesting, order number) for a few orders worth a look."""
    w, store_id = demo.wismo, demo.store_id

    def first(tags: set[str], check: Callable[[OrderStatusAnswer], bool]) -> str | None:
        # The newest orders first: they are the ones still moving.
        tried = 0
        for o in reversed(demo.sim.orders):
            if tags and not tags & set(o.tags):
                continue
            answer = w.status.by_number(store_id, o.number)
            if answer is not None and check(answer):
                return o.number
            tried += 1
            if tried > 60:
                break
        return None

    def split(a: OrderStatusAnswer) -> bool:
        return len(a.packages) > 1 and 0 < _delivered(a) < len(a.packages)

    wanted = [
        ("split shipment, part delivered", first({"split"}, split)),
        ("a problem in transit", first(set(_PROBLEM_TAGS), lambda a: a.problem is not None)),
        ("delivered", first({"normal"}, lambda a: a.status is Milestone.DELIVERED)),
        ("returned, with a refund", first({"return"}, lambda a: bool(a.refunds and a.returns))),
        ("late against the promise", first(set(), lambda a: a.late and a.problem is None)),
    ]
    found = [(why, n) for why, n in wanted if n]
    taken = {n for _, n in found}
    soon = next(
        (
            e.order_number
            for e in demo.sim.upcoming(watch_until)
            if e.source.startswith("carrier:") and e.weight >= 4 and e.order_number not in taken
        ),
        None,
    )
    if soon:
        return [*found[:4], ("changes within the minute; ask again", soon)]
    return found[:5]


_PROBLEM_TAGS = ("weather", "customs", "attempt", "address", "delay", "lost", "damaged")


def _delivered(a: OrderStatusAnswer) -> int:
    return sum(1 for p in a.packages if p.status is Milestone.DELIVERED)


def _port_free(port: int) -> bool:
    # Same options as uvicorn's own socket, so a port in TIME_WAIT is not reported as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _say(text: str = "") -> None:
    print(text, flush=True)


def run_demo(path: Path, orders: int, port: int, speed: float, seconds: float | None) -> None:
    if not _port_free(port):
        print(f"error: port {port} is already in use; pass --port with a free one", file=sys.stderr)
        raise SystemExit(1)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = SimClock(now, speed)
    try:
        _say(f"Building {cat.STORE_NAME}: {orders} orders over the last three weeks…")
        demo = build(path, orders=orders, now=now, clock=clock)
    except KeyboardInterrupt:
        _say("stopped")
        return
    except (OSError, SQLAlchemyError) as exc:
        # A path the user gave that cannot hold a database is their error, not a crash.
        print(f"error: cannot build the demo database at {path}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    try:
        _serve_and_feed(demo, clock, port, speed, seconds)
    except KeyboardInterrupt:
        _say("stopped")
    finally:
        demo.wismo.close()


def _serve_and_feed(
    demo: Demo, clock: SimClock, port: int, speed: float, seconds: float | None
) -> None:
    o = demo.outcomes
    _say(
        f"Built {demo.path} in {demo.build_seconds:.1f} s: {len(demo.sim.orders)} orders, "
        f"{demo.history} events ({o['processed']} applied, {o['duplicate']} duplicates "
        f"absorbed, {o['parked']} waited for their shipment, "
        f"{o['rejected'] + o['failed']} rejected); the sweeper checked "
        f"{demo.swept.checked} shipments and found {demo.swept.findings} problems"
    )
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(demo.wismo),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, name="wismo-demo-api", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        print(f"error: cannot serve on 127.0.0.1:{port}", file=sys.stderr)
        raise SystemExit(1)
    try:
        _banner(demo, base, speed)
        clock.run()
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic())))
            line = feed(demo, clock())
            if line:
                _say(line)
        _say(f"stopped after {seconds:g} s")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _banner(demo: Demo, base: str, speed: float) -> None:
    auth = f'-H "Authorization: Bearer {demo.read_key}"'
    _say()
    _say(f"API        {base}")
    _say(f"Docs       {base}/docs")
    _say(f"Read key:  {demo.read_key}")
    _say(f"Write key: {demo.write_key}")
    _say()
    _say("Try:")
    watch = demo.sim.now + timedelta(minutes=speed * 45)
    picks = examples(demo, watch)
    for why, number in picks:
        _say(f"  # {number}: {why}")
        _say(f"  curl -s {auth} {base}/v1/orders/by-number/{number}/status")
    if picks:
        number = picks[0][1]
        _say("  # the same answer on the command line (it uses the real clock, not the demo's)")
        # The command that started the demo, so the line works outside an activated venv.
        wismo_cli = Path(sys.argv[0]).resolve() if sys.argv[0].endswith("wismo") else "wismo"
        _say(f"  WISMO_DATABASE_URL=sqlite:///{demo.path} {wismo_cli} status {number}")
    _say()
    start = demo.sim.now.astimezone(zone(cat.STORE_ZONE))
    _say(
        f"Simulated time starts {start:%a %d %b %H:%M} ({cat.STORE_ZONE}) and runs {speed:g} "
        "simulated minutes per second; new events are ingested as they fall due. Ctrl-C stops."
    )
