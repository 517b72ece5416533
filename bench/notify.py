"""Exactly once under a crash: relay workers send the outbox to local SMTP and SMS sinks.

`python -m bench notify --workers 3 --notifications 10000 --kill-one`

PostgreSQL; half the notifications are email (a real SMTP server, aiosmtpd) and half SMS
(a local server speaking Twilio's Messages API, driven through the `twilio` SDK), both in
a process of their own. N relay worker processes share the outbox (`FOR UPDATE SKIP
LOCKED`, 5 s leases); the clock starts when all of them have started and connected. With
`--kill-one`, one of them is SIGKILLed when a third has arrived, and its leases are taken
over. The sinks count every arrival per idempotency key (email: the
`X-Wismo-Idempotency-Key` header; SMS: the order number in the body, unique per
notification here), honestly: neither deduplicates, as the real providers do not.

Result: `sent` (distinct notifications that arrived), `duplicates` (arrivals beyond the
first; the keys are printed), `lost` (never arrived), `per_s` (distinct arrivals per second
of the run), and a same-run `baseline_per_s`: one process sending straight to the sinks,
no database, with its ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import signal
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.synchronize import Event as EventType
from multiprocessing.synchronize import Semaphore as SemaphoreType
from typing import Any

from sqlalchemy import func, select

from bench._common import Progress, check_schema, database
from wismo.bootstrap import bootstrap, make_relay
from wismo.channels.email import SmtpChannel
from wismo.channels.sms import TwilioSmsChannel
from wismo.channels.testing import SmtpSink, TwilioSink
from wismo.config import Settings
from wismo.services.notify import Message, NotificationChannel
from wismo.storage import stores
from wismo.storage.tables import notifications, orders

SENDER = "+15005550006"
BASELINE_MESSAGES = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL one worker mid-run")
    parser.add_argument("--lease-seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=50, help="notifications per claim")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")


def _channels(smtp_port: int, twilio: tuple[str, str, str]) -> dict[str, NotificationChannel]:
    sid, token, base = twilio
    return {
        "email": SmtpChannel("127.0.0.1", smtp_port, "orders@acme.example"),
        "sms": TwilioSmsChannel(sid, token, SENDER, base_url=base),
    }


def _worker(  # noqa: PLR0917 - a process target takes its arguments positionally
    url: str,
    name: str,
    smtp_port: int,
    twilio: tuple[str, str, str],
    lease_seconds: float,
    batch: int,
    ready: SemaphoreType,
    go: EventType,
    stop: EventType,
) -> None:
    w = bootstrap(Settings(database_url=url), migrate=False)
    relay = make_relay(
        w,
        worker=name,
        channels=_channels(smtp_port, twilio),
        batch_size=batch,
        lease_seconds=lease_seconds,
    )
    ready.release()
    go.wait()
    while not stop.is_set():
        if relay.run_once().claimed == 0:
            time.sleep(0.05)
    w.close()


def _seed(url: str, n: int, say: Progress) -> None:
    w = bootstrap(Settings(database_url=url))
    check_schema(w.engine, say)
    now = datetime.now(UTC)
    with w.engine.begin() as conn:
        store_id = stores.create_store(conn, "acme", "Acme", "US", "UTC")
        order_ids = (
            conn.execute(
                orders.insert().returning(orders.c.id, sort_by_parameter_order=True),
                [
                    {
                        "store_id": store_id,
                        "order_number": f"B{i:06}",
                        "currency": "USD",
                        "stage": "confirmed",
                        "placed_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(n)
                ],
            )
            .scalars()
            .all()
        )
        rows = []
        for i, order_id in enumerate(order_ids):
            channel = "email" if i % 2 == 0 else "sms"
            rows.append(
                {
                    "store_id": store_id,
                    "order_id": order_id,
                    "trigger": "order_confirmed",
                    "channel": channel,
                    # One recipient each: the per-customer rate limit is not under test.
                    "recipient": f"c{i}@example.com" if channel == "email" else f"+1415{i:07}",
                    "language": ("en", "fr", "es")[i % 3],
                    "template": "order_confirmed",
                    "payload": {},
                    "idempotency_key": f"o{order_id}:order_confirmed:once:{channel}",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        conn.execute(notifications.insert(), rows)
    w.close()
    say(f"seeded {n} pending notifications (half email, half SMS)")


def _baseline(smtp_port: int, twilio: tuple[str, str, str], n: int) -> float:
    """One process sending straight to the sinks: what the sinks and SDKs allow."""
    channels = _channels(smtp_port, twilio)
    started = time.perf_counter()
    for i in range(n):
        kind = "email" if i % 2 == 0 else "sms"
        to = f"base{i}@example.com" if kind == "email" else f"+1416{i:07}"
        channels[kind].send(Message(f"baseline-{i}", kind, to, "Baseline", f"baseline {i}"))
    return n / (time.perf_counter() - started)


def _sms_key(body: str) -> str:
    """The notification an SMS belongs to, by its order number (whatever else differs)."""
    found = re.search(r"B\d{6}", body)
    return found.group(0) if found else body


def _sink_counts(smtp: SmtpSink, twilio: TwilioSink) -> tuple[int, int, list[str]]:
    """(distinct notifications, arrivals beyond the first of each, a few duplicated keys)."""
    keys = [k for k in smtp.keys().items() if not k[0].startswith("baseline-")]
    keys += [k for k in twilio.keys().items() if not k[0].startswith("baseline ")]
    twice = [k for k, c in keys if c > 1]
    return len(keys), sum(c - 1 for _, c in keys), twice[:5]


def _serve_sinks(conn: Connection) -> None:
    """The sinks' process: answers `arrived` (every arrival so far, counted without
    looking at them) and `counts` (distinct notifications and duplicates), until `stop`."""
    with SmtpSink() as smtp, TwilioSink(key_of=_sms_key) as twilio:
        conn.send((smtp.port, (twilio.account_sid, twilio.auth_token, twilio.base_url)))
        while (request := conn.recv()) != "stop":
            if request == "arrived":
                conn.send(len(smtp.raw) + len(twilio.messages))
            else:
                conn.send(_sink_counts(smtp, twilio))


class _Sinks:
    """The SMTP and Twilio sinks in a process of their own. In the orchestrating process
    they shared its interpreter lock: each progress poll stalled them, and with them every
    worker waiting on an answer, just before the kill. Polling now only asks how many
    arrived; the count per idempotency key is taken once, at the end."""

    def __init__(self, ctx: SpawnContext) -> None:
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_sinks, args=(child,), daemon=True)

    def __enter__(self) -> _Sinks:
        self._proc.start()
        self.smtp_port, self.twilio = self._conn.recv()
        return self

    def __exit__(self, *args: object) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)

    def arrived(self) -> int:
        self._conn.send("arrived")
        return int(self._conn.recv())

    def counts(self) -> tuple[int, int, list[str]]:
        """(distinct notifications that arrived, arrivals beyond the first of each, some of
        the keys that arrived more than once)."""
        self._conn.send("counts")
        distinct, duplicates, twice = self._conn.recv()
        return int(distinct), int(duplicates), list(twice)


def run(args: argparse.Namespace) -> dict[str, Any]:
    say = Progress()
    ctx = mp.get_context("spawn")
    with database("postgres", args.keep, say) as url, _Sinks(ctx) as sinks:
        _seed(url, args.notifications, say)
        baseline = _baseline(sinks.smtp_port, sinks.twilio, BASELINE_MESSAGES)
        say(f"baseline: {baseline:.0f} messages/s straight to the sinks, one process")
        ready, go, stop = ctx.Semaphore(0), ctx.Event(), ctx.Event()
        twilio_cfg = sinks.twilio
        procs = [
            ctx.Process(
                target=_worker,
                args=(
                    url,
                    f"w{i}",
                    sinks.smtp_port,
                    twilio_cfg,
                    args.lease_seconds,
                    args.batch,
                    ready,
                    go,
                    stop,
                ),
                daemon=True,
            )
            for i in range(args.workers)
        ]
        w = bootstrap(Settings(database_url=url), migrate=False)
        for p in procs:
            p.start()
        # The clock starts when every worker has imported and connected: what is measured
        # is the relay, not the interpreter's start-up.
        for _ in procs:
            if not ready.acquire(timeout=120):
                raise RuntimeError("a relay worker did not start")
        started = time.perf_counter()
        go.set()
        killed = None
        last = -1
        deadline = started + max(120.0, args.notifications / 20)
        while time.perf_counter() < deadline:
            arrived = sinks.arrived() - BASELINE_MESSAGES
            if args.kill_one and killed is None and arrived >= args.notifications // 3:
                killed = procs[0].pid
                assert killed is not None
                os.kill(killed, signal.SIGKILL)
                say(f"SIGKILLed worker w0 (pid {killed}) after {arrived} arrivals")
            with w.engine.connect() as conn:
                open_rows = conn.execute(
                    select(func.count()).where(
                        notifications.c.status.in_(("pending", "held", "sending"))
                    )
                ).scalar_one()
            if arrived != last:
                say(f"arrived {arrived}, open in the outbox {open_rows}")
                last = arrived
            if open_rows == 0:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        stop.set()
        for p in procs:
            p.join(timeout=10)
        with w.engine.connect() as conn:
            by_status: dict[str, int] = dict(
                conn.execute(
                    select(notifications.c.status, func.count()).group_by(notifications.c.status)
                ).all()
            )
        w.close()
        time.sleep(0.2)  # let the sinks finish what was in flight
        arrived, duplicates, twice = sinks.counts()
    say(f"outbox by status: {by_status}")
    if twice:
        say(f"arrived more than once: {', '.join(twice)}")
    per_s = arrived / elapsed
    return {
        "benchmark": "notify",
        "workers": args.workers,
        "notifications": args.notifications,
        "killed_one": killed is not None,
        "sent": arrived,
        "duplicates": duplicates,
        "lost": args.notifications - arrived,
        "per_s": round(per_s, 1),
        "seconds": round(elapsed, 2),
        "outbox": by_status,
        "baseline_per_s": round(baseline, 1),
        "ratio_to_baseline": round(per_s / baseline, 3),
    }
