"""Webhooks from tracking aggregators: EasyPost, AfterShip, Shippo.

`POST /webhooks/{provider}/{account}`: `account` names the integration (provider + account ->
store and secret). These routes take no API key: the aggregator proves itself with its
signature (EasyPost, AfterShip) or the URL token (Shippo). An unknown account, a missing or
forged signature is 401 and the body is neither processed nor stored. A verified body goes
through the inbox like every other payload (group commit) and is answered 200 once it is
stored and processed, whatever the outcome (a duplicate, parked, or kept as dead for replay),
so the aggregator does not retry what retrying cannot fix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from wismo.bootstrap import Wismo
from wismo.ingestion.aggregators import aftership, easypost, shippo, signatures
from wismo.ingestion.aggregators.common import load_object
from wismo.services.ports import Inbound
from wismo.storage.integrations import Integration, find_integration
from wismo.web.batcher import GroupCommitter
from wismo.web.deps import CommitterDep, WismoDep, json_response, problem, result_body
from wismo.web.ingest_routes import read_body

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])

# provider -> (does the request carry the provider's proof, event id of a body)
Verify = Callable[[Request, bytes, str | None], bool]
EventId = Callable[[dict[str, Any], bytes], str]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stored and processed (or a duplicate of one already received)"},
    401: {"description": "Unknown account, or a missing or forged signature"},
    413: {"description": "Body too large"},
    503: {"description": "Storage unavailable; the aggregator should retry"},
}
# Compared against when the account is unknown, so its absence does not show in the timing.
_PLACEHOLDER = "wismo-unknown-account"


def _easypost(request: Request, body: bytes, secret: str | None) -> bool:
    header = request.headers.get(signatures.EASYPOST_HEADER)
    return signatures.easypost_valid(body, header, secret)


def _aftership(request: Request, body: bytes, secret: str | None) -> bool:
    header = request.headers.get(signatures.AFTERSHIP_HEADER)
    return signatures.aftership_valid(body, header, secret)


def _shippo(request: Request, body: bytes, secret: str | None) -> bool:
    return signatures.shippo_valid(request.query_params.get(signatures.SHIPPO_QUERY), secret)


def _find(w: Wismo, provider: str, account: str) -> Integration | None:
    with w.engine.connect() as conn:
        return find_integration(conn, provider, account)


def _event_id(read: EventId, body: bytes) -> str | None:
    try:
        return read(load_object(body), body)
    except ValueError:
        return None  # unreadable: the parser rejects it and says why


async def _receive(
    request: Request,
    *,
    w: Wismo,
    committer: GroupCommitter,
    provider: str,
    account: str,
    verify: Verify,
    read_id: EventId,
) -> Response:
    body = await read_body(request, w.settings.max_event_bytes)
    found = await anyio.to_thread.run_sync(_find, w, provider, account)
    secret = found.secret if found is not None else None
    genuine = verify(request, body, secret or _PLACEHOLDER)
    if found is None or not secret or not genuine:
        log.info(
            "refused %s webhook for account %r: unknown account or bad signature", provider, account
        )
        raise HTTPException(401, "unknown account, or missing or invalid signature")
    inbound = Inbound(body, format=provider, source=provider, event_id=_event_id(read_id, body))
    try:
        result = await committer.submit(found.store_id, inbound)
    except Exception:
        log.exception("%s webhook ingestion failed", provider)
        return problem(503, "storage unavailable; retry later", {"Retry-After": "5"})
    return json_response(result_body(result), 200)


@router.post(
    "/webhooks/easypost/{account}",
    summary="EasyPost tracker events (signed with X-Hmac-Signature)",
    responses=_RESPONSES,
)
async def easypost_webhook(
    account: str, request: Request, w: WismoDep, c: CommitterDep
) -> Response:
    return await _receive(
        request,
        w=w,
        committer=c,
        provider="easypost",
        account=account,
        verify=_easypost,
        read_id=easypost.event_id,
    )


@router.post(
    "/webhooks/aftership/{account}",
    summary="AfterShip tracking updates (signed with aftership-hmac-sha256)",
    responses=_RESPONSES,
)
async def aftership_webhook(
    account: str, request: Request, w: WismoDep, c: CommitterDep
) -> Response:
    return await _receive(
        request,
        w=w,
        committer=c,
        provider="aftership",
        account=account,
        verify=_aftership,
        read_id=aftership.event_id,
    )


@router.post(
    "/webhooks/shippo/{account}",
    summary="Shippo track_updated events (authenticated by the ?token= in the URL)",
    responses=_RESPONSES,
)
async def shippo_webhook(account: str, request: Request, w: WismoDep, c: CommitterDep) -> Response:
    return await _receive(
        request,
        w=w,
        committer=c,
        provider="shippo",
        account=account,
        verify=_shippo,
        read_id=shippo.event_id,
    )
