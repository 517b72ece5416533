"""Ingestion routes: one event, NDJSON batches, and the inbox for operators."""

from __future__ import annotations

import dataclasses
import logging

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from wismo.storage.inbox import SqlInbox
from wismo.web.deps import (
    CommitterDep,
    WismoDep,
    Writer,
    json_response,
    problem,
    result_body,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["ingestion"])

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
INBOX_STATUSES = {"dead", "parked", "processed", "received"}


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) anything over `limit` before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise HTTPException(400, "Content-Length is not a number") from None
        if too_big:
            raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/v1/events",
    status_code=202,
    summary="Ingest one canonical event (JSON)",
    responses={
        200: {"description": "A duplicate of an event already received"},
        413: {"description": "Body too large"},
        422: {"description": "Invalid event; stored as dead, the bad fields are named"},
    },
)
async def post_event(request: Request, p: Writer, w: WismoDep, c: CommitterDep) -> Response:
    body = await read_body(request, w.settings.max_event_bytes)
    try:
        result = await c.submit(p.store_id, body)
    except Exception:
        log.exception("ingestion failed")
        return problem(503, "storage unavailable; retry later", {"Retry-After": "5"})
    code = {"rejected": 422, "duplicate": 200}.get(result.status, 202)
    return json_response(result_body(result), code)


@router.post(
    "/v1/events/batch",
    summary="Ingest a batch of canonical events (NDJSON, one event per line)",
    responses={413: {"description": "Body too large"}, 415: {"description": "Not NDJSON"}},
)
async def post_batch(request: Request, p: Writer, w: WismoDep) -> Response:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in NDJSON_TYPES:
        return problem(415, f"send NDJSON ({NDJSON_TYPES[0]}), one event per line")
    body = await read_body(request, w.settings.max_batch_bytes)
    lines = [ln for ln in body.split(b"\n") if ln.strip()]
    if len(lines) > w.settings.max_batch_lines:
        return problem(413, f"at most {w.settings.max_batch_lines} events per batch")
    try:
        results = await anyio.to_thread.run_sync(w.ingestor.ingest, p.store_id, lines)
    except Exception:
        log.exception("batch ingestion failed")
        return problem(503, "storage unavailable; retry later", {"Retry-After": "5"})
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return json_response(
        {
            "counts": counts,
            "results": [{"line": i + 1, **result_body(r)} for i, r in enumerate(results)],
        }
    )


@router.get("/v1/inbox", tags=["ops"], summary="Dead and parked inbound payloads")
def inbox_list(p: Writer, w: WismoDep, status: str = "dead", limit: int = 100) -> Response:
    statuses = [s for s in status.split(",") if s]
    if not statuses or not set(statuses) <= INBOX_STATUSES:
        raise HTTPException(422, f"status must be among {sorted(INBOX_STATUSES)}")
    with w.engine.connect() as conn:
        rows = SqlInbox(conn).list(statuses, p.store_id, min(max(limit, 1), 1000))
    return json_response({"items": rows})


@router.post("/v1/inbox/{inbox_id}/replay", tags=["ops"], summary="Process a payload again")
def inbox_replay(inbox_id: int, p: Writer, w: WismoDep) -> Response:
    with w.engine.connect() as conn:
        row = SqlInbox(conn).get(inbox_id, p.store_id)
    if row is None or row["status"] not in ("dead", "parked"):
        raise HTTPException(404, "no dead or parked payload with that id")
    outcome = w.ingestor.replay(p.store_id, [inbox_id])[inbox_id]
    return json_response(dataclasses.asdict(outcome))
