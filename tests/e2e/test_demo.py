"""End to end: the simulated retailer, the demo database it builds, and `wismo demo`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import phonenumbers
import pytest
from sqlalchemy import func, select

from wismo.demo.run import Demo, build, feed
from wismo.demo.simulator import Simulation
from wismo.domain.milestones import PROBLEM_MILESTONES, Milestone
from wismo.ingestion.canonical import EVENT
from wismo.storage.inbox import SqlInbox
from wismo.storage.tables import orders, refunds, returns, shipments

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # a Wednesday afternoon in New York
FAR = NOW + timedelta(days=60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    built = build(tmp_path_factory.mktemp("demo") / "demo.db", orders=400, now=NOW)
    yield built
    built.wismo.close()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Demo]:
    built = build(tmp_path / "small.db", orders=120, now=NOW)
    yield built
    built.wismo.close()


def _milestones(d: Demo) -> dict[str, str]:
    with d.wismo.engine.connect() as conn:
        rows = conn.execute(select(shipments.c.shipment_ref, shipments.c.milestone))
        return {r.shipment_ref: r.milestone for r in rows}


def _inbox(d: Demo, status: str) -> list[dict[str, object]]:
    with d.wismo.engine.connect() as conn:
        return SqlInbox(conn).list([status], limit=100_000)


def test_simulation_is_deterministic_for_a_seed() -> None:
    """The same seed and `now` give the same events, history and schedule alike."""
    a, b = Simulation(5, NOW, 80), Simulation(5, NOW, 80)
    assert a.history() == b.history()
    assert a.due(NOW + timedelta(days=2)) == b.due(NOW + timedelta(days=2))
    assert Simulation(6, NOW, 80).history() != a.history()


def test_history_ends_at_now_and_the_rest_waits_in_the_schedule() -> None:
    """History holds only what arrived by `now`; `due` releases later events once, in order."""
    sim = Simulation(11, NOW, 60)
    assert all(e.arrive_at <= NOW for e in sim.history_events())
    first = sim.due_events(NOW + timedelta(hours=12))
    assert first
    assert all(NOW < e.arrive_at <= NOW + timedelta(hours=12) for e in first)
    assert sim.due(NOW + timedelta(hours=12)) == []
    rest = sim.due_events(FAR)
    assert [e.arrive_at for e in rest] == sorted(e.arrive_at for e in rest)
    assert sim.pending == 0


def test_every_simulated_event_is_valid_canonical_v1() -> None:
    """Every event passes the canonical schema, and customer phone numbers are valid E.164."""
    sim = Simulation(3, NOW, 150)
    bodies = sim.history() + sim.due(FAR)
    types: Counter[str] = Counter()
    for body in bodies:
        event = EVENT.validate_json(body, context={"region": "US"})
        types[event.type] += 1
        raw = orjson.loads(body)
        for phone in raw["data"].get("phones", []):
            assert phonenumbers.is_valid_number(phonenumbers.parse(phone)), phone
    assert set(types) >= {
        "customer.upserted",
        "order.created",
        "order.updated",
        "order.cancelled",
        "shipment.created",
        "tracking.event",
        "return.created",
        "return.updated",
        "refund.created",
        "refund.updated",
    }


def test_repeated_ids_are_only_deliberate_retries() -> None:
    """An event id appears twice only as a webhook retry of the identical payload."""
    sim = Simulation(4, NOW, 200)
    seen: dict[tuple[str, str], bytes] = {}
    retries = 0
    for body in sim.history() + sim.due(FAR):
        raw = orjson.loads(body)
        key = (raw["source"], raw["id"])
        if key in seen:
            assert seen[key] == body
            retries += 1
        seen[key] = body
    assert retries > 0


def test_demo_database_is_a_realistic_store(demo: Demo) -> None:
    """Hundreds of orders, several carriers, split shipments, problems, returns and refunds."""
    with demo.wismo.engine.connect() as conn:
        order_count = conn.execute(select(func.count()).select_from(orders)).scalar_one()
        carriers = conn.execute(
            select(shipments.c.carrier, func.count()).group_by(shipments.c.carrier)
        ).all()
        per_order = conn.execute(
            select(shipments.c.order_id, func.count().label("n")).group_by(shipments.c.order_id)
        ).all()
        problem = conn.execute(
            select(shipments.c.milestone, shipments.c.reason).where(
                shipments.c.milestone.in_([m.value for m in PROBLEM_MILESTONES])
                | (shipments.c.reason != "none")
            )
        ).all()
        return_count = conn.execute(select(func.count()).select_from(returns)).scalar_one()
        processed = conn.execute(
            select(func.count()).select_from(refunds).where(refunds.c.state == "processed")
        ).scalar_one()
    assert order_count == 400
    assert len(carriers) >= 5
    assert sum(1 for r in per_order if r.n > 1) >= 20
    assert len(problem) >= 8
    assert len({r.reason for r in problem} - {"none"}) >= 3
    assert return_count >= 5
    assert processed >= 5
    assert demo.build_seconds < 15


def test_nothing_dead_and_every_parked_event_waits_for_a_scheduled_shipment(
    demo: Demo,
) -> None:
    """No payload failed; a scan still parked belongs to a shipment the schedule delivers."""
    assert _inbox(demo, "dead") == []
    assert demo.outcomes["rejected"] == demo.outcomes["failed"] == 0
    assert demo.outcomes["duplicate"] > 0
    coming = b"".join(e.body for e in demo.sim.upcoming(FAR) if e.source == "wms")
    for item in _inbox(demo, "parked"):
        waiting = str(item["waiting_for"])
        assert waiting.startswith("tracking:"), waiting
        assert waiting.rsplit(":", 1)[1].encode() in coming, waiting


def test_every_order_answers_and_the_answers_vary(demo: Demo) -> None:
    """Each simulated order has a status answer; together they show the interesting cases."""
    answers = [demo.wismo.status.by_number(demo.store_id, o.number) for o in demo.sim.orders]
    assert all(a is not None for a in answers)
    found = [a for a in answers if a is not None]
    statuses = Counter(a.status for a in found)
    assert statuses[Milestone.DELIVERED] > 100
    assert statuses[Milestone.CANCELLED] > 0
    assert statuses[Milestone.AWAITING_FULFILMENT] + statuses[Milestone.CONFIRMED] > 0
    assert sum(a.late for a in found) > 5
    assert sum(a.problem is not None for a in found) > 5
    assert any(a.refunds and a.returns for a in found)
    assert any(
        0 < sum(p.status is Milestone.DELIVERED for p in a.packages) < len(a.packages)
        for a in found
    )


def test_feeder_moves_shipments_on(small: Demo) -> None:
    """Feeding six simulated hours changes at least one shipment's status and says so."""
    before = _milestones(small)
    line = feed(small, NOW + timedelta(hours=6))
    assert line is not None
    assert "sim —" in line
    after = _milestones(small)
    assert any(after[ref] != milestone for ref, milestone in before.items())


def test_whole_schedule_is_absorbed(small: Demo) -> None:
    """Releasing every scheduled event leaves nothing dead and nothing parked."""
    for hours in range(6, 24 * 60, 6):
        feed(small, NOW + timedelta(hours=hours))
    assert small.sim.pending == 0
    assert _inbox(small, "dead") == []
    assert _inbox(small, "parked") == []
    final = Counter(_milestones(small).values())
    assert final["delivered"] > 100
    assert final["in_transit"] + final["out_for_delivery"] == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo_command(path: Path, port: int, seconds: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from wismo.cli.main import app; app()",
        "demo",
        "--path",
        str(path),
        "--port",
        str(port),
        "--seconds",
        str(seconds),
    ]


def test_demo_command_serves_the_store_and_stops(tmp_path: Path) -> None:
    """`wismo demo` builds, serves /healthz and status answers for the printed key, then stops."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        _demo_command(tmp_path / "d.db", port, 6),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdout, stderr_pipe = proc.stdout, proc.stderr
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(stdout.readline, "")))
    reader.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        key = number = None
        while time.monotonic() < deadline and proc.poll() is None:
            text = "".join(out)
            key_match = re.search(r"Read key:\s+(wk_\S+)", text)
            url_match = re.search(r"/v1/orders/by-number/(\w+)/status", text)
            if key_match and url_match:
                key, number = key_match.group(1), url_match.group(1)
                break
            time.sleep(0.2)
        assert key, "".join(out)
        assert number, "".join(out)
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        response = httpx.get(
            f"{base}/v1/orders/by-number/{number}/status",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 200
        assert "packages" in response.json()
        assert httpx.get(f"{base}/v1/orders/by-number/{number}/status").status_code == 401
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(timeout=10)
        stderr = stderr_pipe.read()
    assert "Traceback" not in stderr, stderr
    assert "stopped after 6 s" in "".join(out)


def test_demo_command_refuses_a_taken_port_in_one_line(tmp_path: Path) -> None:
    """A port in use ends the demo with one line on stderr and a non-zero exit, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            _demo_command(tmp_path / "d.db", port, 2),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0
    assert f"port {port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "d.db").exists()
