"""Operational metrics for a store (read key).

`GET /v1/metrics/staleness`: how old the carrier data of the store's open shipments is, per
carrier (count, p50, p95, max, in seconds): now minus the last successful carrier fetch, or
minus the shipment's creation if it was never fetched. The same numbers as
`wismo carriers staleness --store SLUG --json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from wismo.bootstrap import staleness_report
from wismo.web.deps import Reader, WismoDep, json_response

router = APIRouter(tags=["ops"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Staleness of open shipments' carrier data, per carrier"},
    401: {"description": "Missing or invalid API key"},
}


@router.get(
    "/v1/metrics/staleness",
    summary="How stale open shipments' carrier data is, per carrier",
    responses=_RESPONSES,
)
def staleness(p: Reader, w: WismoDep) -> Response:
    return json_response(staleness_report(w)(p.store_id).as_json())
