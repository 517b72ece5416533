"""Shopify webhooks: `POST /webhooks/shopify`.

Shopify signs each delivery instead of sending an API key: the shop is named by
`X-Shopify-Shop-Domain`, its integration (`wismo shopify connect`) holds the signing secret,
and `X-Shopify-Hmac-Sha256` must be the HMAC of the raw body under it. Anything else is a
401 and the body is neither stored nor parsed. A signed delivery goes through the same
group commit as `/v1/events`, deduplicated on `X-Shopify-Webhook-Id`.
"""

from __future__ import annotations

import logging

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from wismo.bootstrap import Wismo
from wismo.ingestion.shopify import normalise_shop, verify
from wismo.services.ingest import IngestResult
from wismo.services.ports import Inbound
from wismo.storage.integrations import Integration, find_integration
from wismo.web.deps import CommitterDep, WismoDep, json_response, problem
from wismo.web.ingest_routes import read_body

log = logging.getLogger(__name__)
router = APIRouter(tags=["shopify"])

PROVIDER = "shopify"
_UNSIGNED = "missing or invalid Shopify signature"
_PLACEHOLDER = "wismo-unknown-shop"


def _answer(r: IngestResult) -> dict[str, object]:
    body: dict[str, object] = {"status": r.status, "inbox_id": r.inbox_id}
    if r.waiting_for:
        body["waiting_for"] = r.waiting_for
    if r.errors:
        body["errors"] = r.errors
    return body


def _integration(w: Wismo, shop: str) -> Integration | None:
    with w.engine.connect() as conn:
        return find_integration(conn, PROVIDER, shop)


@router.post(
    "/webhooks/shopify",
    summary="Receive a Shopify webhook (signed with X-Shopify-Hmac-Sha256)",
    responses={
        200: {"description": "Stored (and processed, parked, a duplicate, or kept as dead)"},
        401: {"description": "Unknown shop, or missing or forged signature; nothing stored"},
        413: {"description": "Body too large"},
        503: {"description": "Storage unavailable; Shopify retries"},
    },
)
async def shopify_webhook(request: Request, w: WismoDep, c: CommitterDep) -> Response:
    headers = request.headers
    shop = normalise_shop(headers.get("x-shopify-shop-domain"))
    signature = headers.get("x-shopify-hmac-sha256")
    if shop is None or not signature:
        raise HTTPException(401, _UNSIGNED)
    body = await read_body(request, w.settings.max_event_bytes)
    integration = await anyio.to_thread.run_sync(_integration, w, shop)
    secret = integration.secret if integration is not None else None
    # Checked even for an unknown shop, and one answer for both: neither the reply nor its
    # timing tells a caller which shops are connected.
    genuine = verify(body, signature, secret or _PLACEHOLDER)
    if integration is None or not secret or not genuine:
        log.info("refused Shopify webhook for %r: unknown shop or bad signature", shop)
        raise HTTPException(401, _UNSIGNED)
    topic = headers.get("x-shopify-topic", "").strip().lower()[:90]  # format is 100 wide
    # The webhook id is the same on every retry of one delivery; the event id is the
    # fallback Shopify also documents for spotting duplicates.
    delivery = headers.get("x-shopify-webhook-id") or headers.get("x-shopify-event-id")
    inbound = Inbound(
        body,
        format=f"shopify:{topic}",
        source=PROVIDER,
        event_id=delivery.strip()[:200] if delivery and delivery.strip() else None,
    )
    try:
        result = await c.submit(integration.store_id, inbound)
    except Exception:
        # Nothing was stored: a non-2xx makes Shopify deliver it again later.
        log.exception("Shopify webhook ingestion failed")
        return problem(503, "storage unavailable; retry later", {"Retry-After": "5"})
    # 200 whatever the outcome. Once stored, the payload is Wismo's to keep: a payload we
    # cannot parse is kept as dead (listed by `wismo inbox list`, replayable after a fix).
    # Answering non-2xx would only make Shopify resend the same bytes for hours and then
    # delete the subscription, losing every later webhook of the shop.
    return json_response(_answer(result), 200)
