"""Group commit for single events posted over HTTP.

Each request hands its payload to one writer thread and waits. The writer takes whatever
has queued up (up to `max_items`, waiting at most `max_wait_ms` for more) and ingests it as
one batch: one inbox commit and one processing commit for the lot. A request is answered
only after its payload is durably stored and processed, so "202 Accepted" never means
"maybe".
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from wismo.services.ingest import Ingestor, IngestResult
from wismo.services.ports import Inbound

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Job:
    store_id: int
    body: bytes | Inbound  # plain bytes are canonical events
    future: asyncio.Future[IngestResult]
    loop: asyncio.AbstractEventLoop


class GroupCommitter:
    def __init__(self, ingestor: Ingestor, max_wait_ms: float, max_items: int) -> None:
        self._ingestor = ingestor
        self._max_wait = max_wait_ms / 1000
        self._max_items = max_items
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="wismo-group-commit", daemon=True)
        self._thread.start()

    async def submit(self, store_id: int, body: bytes | Inbound) -> IngestResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._queue.put(_Job(store_id, body, future, loop))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            deadline = time.monotonic() + self._max_wait
            stop = False
            while len(jobs) < self._max_items:
                remaining = deadline - time.monotonic()
                try:
                    nxt = (
                        self._queue.get(timeout=max(remaining, 0))
                        if remaining > 0
                        else (self._queue.get_nowait())
                    )
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
            self._flush(jobs)
            if stop:
                return

    def _flush(self, jobs: list[_Job]) -> None:
        by_store: dict[int, list[_Job]] = defaultdict(list)
        for job in jobs:
            by_store[job.store_id].append(job)
        for store_id, group in by_store.items():
            try:
                results = self._ingestor.ingest(store_id, [j.body for j in group])
            except Exception as exc:
                log.exception("group commit failed")
                for j in group:
                    j.loop.call_soon_threadsafe(_fail, j.future, exc)
                continue
            for j, result in zip(group, results, strict=True):
                j.loop.call_soon_threadsafe(_resolve, j.future, result)


def _resolve(future: asyncio.Future[IngestResult], result: IngestResult) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[IngestResult], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
