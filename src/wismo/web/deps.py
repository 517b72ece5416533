"""Request dependencies: the bootstrapped Wismo, API-key principals, JSON responses."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, HTTPException, Request
from fastapi.responses import Response

from wismo.bootstrap import Wismo
from wismo.services.access import Principal, Scope
from wismo.services.ingest import IngestResult
from wismo.web.batcher import GroupCommitter


# The dependencies are `async def` although they do not await: FastAPI runs plain `def`
# dependencies in a worker thread, a thread hop per dependency per request.
async def get_wismo(request: Request) -> Wismo:
    w: Wismo = request.app.state.wismo
    return w


async def get_committer(request: Request) -> GroupCommitter:
    c: GroupCommitter = request.app.state.committer
    return c


WismoDep = Annotated[Wismo, Depends(get_wismo)]
CommitterDep = Annotated[GroupCommitter, Depends(get_committer)]


async def principal(
    w: WismoDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller's key: `Authorization: Bearer wk_…` or `X-API-Key: wk_…`."""
    token = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    found = w.keys.verify(token) if token else None
    if found is None:
        raise HTTPException(
            401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return found


async def writer(p: Annotated[Principal, Depends(principal)]) -> Principal:
    if not p.may(Scope.WRITE):
        raise HTTPException(403, "this API key may only read")
    return p


Reader = Annotated[Principal, Depends(principal)]
Writer = Annotated[Principal, Depends(writer)]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact: "12.50", never 12.5 as a float
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value).__name__)


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS),
        status_code=status_code,
        media_type="application/json",
    )


def problem(status_code: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    resp = json_response({"detail": detail}, status_code)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def result_body(r: IngestResult) -> dict[str, Any]:
    """What a sender is told about one payload (every ingestion route answers alike)."""
    body: dict[str, Any] = {"status": r.status, "inbox_id": r.inbox_id}
    if r.event_id is not None:
        body["id"] = r.event_id
    if r.waiting_for:
        body["waiting_for"] = r.waiting_for
    if r.errors:
        body["errors"] = r.errors
    return body
