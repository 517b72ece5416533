"""`python -m bench page`: server render time of the customer tracking page.

Fills the database like `bench status` (bulk Core inserts, 100,000 orders by default),
brands the store, then times the page's whole server side for random orders: the
order-status answer, the scans and the consent read, and the HTML render, exactly as
`GET /t/{token}` does it (`wismo.web.page`), without the HTTP stack. `bytes` is the size
of the largest page rendered; `external_urls` counts URLs to other hosts in it.

Baseline: `StatusService.by_id` alone for the same orders, in the same run; `ratio` is the
page's p99 over the baseline's.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from typing import Any

from bench._common import (
    Progress,
    add_database_arguments,
    check_schema,
    database,
    percentile,
    profiled,
)
from bench.status import _fill, _time_each
from wismo.bootstrap import Wismo, bootstrap
from wismo.config import Settings
from wismo.services.i18n import LANGUAGES, Translator
from wismo.storage import page as page_db
from wismo.storage.stores import create_store
from wismo.web import page as view

TARGET_P99_MS = 30.0
TARGET_BYTES = 100_000
_URL = re.compile(r"""(?:src|href|action)=["']?(?:https?:)?//""", re.IGNORECASE)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument("--orders", type=int, default=100_000, help="orders to fill")
    parser.add_argument("--renders", type=int, default=5_000, help="timed page renders")
    parser.add_argument("--warmup", type=int, default=500, help="untimed renders first")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.orders < 1 or args.renders < 1 or args.warmup < 0:
        raise SystemExit("bench: --orders and --renders must be positive")
    say = Progress()
    with database(args.backend, args.keep, say) as url:
        wismo = bootstrap(Settings(database_url=url))
        try:
            check_schema(wismo.engine, say)
            return _measure(wismo, args, say)
        finally:
            wismo.close()


def _measure(wismo: Wismo, args: argparse.Namespace, say: Progress) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with wismo.engine.begin() as conn:
        store_id = create_store(conn, "bench", "Bench store", "GB", "Europe/London")
        page_db.set_branding(
            conn,
            store_id,
            {"primary": "#0f766e", "accent": "#be185d", "support_email": "help@bench.test"},
        )
    t0 = time.perf_counter()
    counts = _fill(wismo.engine, rng, store_id, args.orders, say)
    say(f"fill: {counts} in {time.perf_counter() - t0:.1f}s")
    with wismo.engine.connect() as conn:
        store = page_db.store_by_slug(conn, "bench")
    assert store is not None
    largest = {"bytes": 0, "external": 0}

    def render(order_id: int) -> None:
        answer = wismo.status.by_id(store_id, order_id)
        if answer is None:
            raise RuntimeError(f"order {order_id} not found")
        with wismo.engine.connect() as conn:
            scans = page_db.scans(conn, store_id, order_id)
            consent = page_db.consent(conn, store_id, order_id)
        t = Translator(LANGUAGES[order_id % len(LANGUAGES)], answer.time_zone)
        frame = view.Frame(store, t, "/track/bench", "/t/TOKEN?")
        html = view.order_page(
            frame, answer, scans, consent=consent, prefs_action="/t/TOKEN/preferences"
        )
        size = len(html.encode())
        if size > largest["bytes"]:
            largest["bytes"] = size
            largest["external"] = len(_URL.findall(html))

    def status_only(order_id: int) -> None:
        if wismo.status.by_id(store_id, order_id) is None:
            raise RuntimeError(f"order {order_id} not found")

    for _ in range(args.warmup):
        render(rng.randint(1, args.orders))
    ids = [rng.randint(1, args.orders) for _ in range(args.renders)]
    with profiled(args.profile, say):
        times = _time_each(render, ids)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    say(f"page: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {len(ids)} renders")
    base = _time_each(status_only, ids)
    base_p50, base_p99 = percentile(base, 50), percentile(base, 99)
    say(f"baseline (status answer only): p50 {base_p50:.3f} ms, p99 {base_p99:.3f} ms")
    say(f"largest page {largest['bytes']} bytes, {largest['external']} URLs to other hosts")
    return {
        "bench": "page",
        "backend": args.backend,
        "orders": args.orders,
        "renders": args.renders,
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "bytes": largest["bytes"],
        "external_urls": largest["external"],
        "baseline_p50_ms": round(base_p50, 3),
        "baseline_p99_ms": round(base_p99, 3),
        "ratio": round(p99 / base_p99, 2),
        "target_p99_ms": TARGET_P99_MS,
        "target_bytes": TARGET_BYTES,
        "meets_target": p99 <= TARGET_P99_MS
        and largest["bytes"] <= TARGET_BYTES
        and largest["external"] == 0,
    }
