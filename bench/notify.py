"""Exactly once under a crash: relay workers send the outbox to local SMTP and SMS sinks.

`python -m bench notify --workers 3 --notifications 10000 --kill-one`

PostgreSQL; half the notifications are email (a real SMTP server, aiosmtpd) and half SMS
(a local server speaking Twilio's Messages API, driven through the `twilio` SDK). N relay
worker processes share the outbox (`FOR UPDATE SKIP LOCKED`, 5 s leases); with
`--kill-one`, one of them is SIGKILLed when a third has been sent, and its leases are taken
over. The sinks then count what arrived per idempotency key (email: the
`X-Wismo-Idempotency-Key` header; SMS: the body, unique per notification here), honestly:
neither deduplicates, as the real providers do not.

Result: `sent` (distinct notifications that arrived), `duplicates` (arrivals beyond the
first), `lost` (never arrived), `per_s` (distinct arrivals per second of the run), and a
same-run `baseline_per_s`: one process sending straight to the sinks, no database, with
its ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import signal
import time
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as EventType
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


def _baseline(smtp: SmtpSink, twilio: TwilioSink, n: int) -> float:
    """One process sending straight to the sinks: what the sinks and SDKs allow."""
    channels = _channels(smtp.port, (twilio.account_sid, twilio.auth_token, twilio.base_url))
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


def _sink_counts(smtp: SmtpSink, twilio: TwilioSink) -> tuple[int, int]:
    keys = [k for k in smtp.keys().items() if not k[0].startswith("baseline-")]
    keys += [k for k in twilio.keys().items() if not k[0].startswith("baseline ")]
    return len(keys), sum(c - 1 for _, c in keys)


def run(args: argparse.Namespace) -> dict[str, Any]:
    say = Progress()
    ctx = mp.get_context("spawn")
    with (
        database("postgres", args.keep, say) as url,
        SmtpSink() as smtp,
        TwilioSink(key_of=_sms_key) as twilio,
    ):
        _seed(url, args.notifications, say)
        baseline = _baseline(smtp, twilio, 1000)
        say(f"baseline: {baseline:.0f} messages/s straight to the sinks, one process")
        stop = ctx.Event()
        twilio_cfg = (twilio.account_sid, twilio.auth_token, twilio.base_url)
        procs = [
            ctx.Process(
                target=_worker,
                args=(url, f"w{i}", smtp.port, twilio_cfg, args.lease_seconds, args.batch, stop),
                daemon=True,
            )
            for i in range(args.workers)
        ]
        w = bootstrap(Settings(database_url=url), migrate=False)
        started = time.perf_counter()
        for p in procs:
            p.start()
        killed = None
        last = -1
        deadline = started + max(120.0, args.notifications / 20)
        while time.perf_counter() < deadline:
            arrived, _ = _sink_counts(smtp, twilio)
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
        arrived, duplicates = _sink_counts(smtp, twilio)
    say(f"outbox by status: {by_status}")
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
