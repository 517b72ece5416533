"""Shopify: Admin API webhook bodies (REST JSON shapes, API version 2024-10 or later) ->
commands.

The format is `shopify:<topic>`, the topic being the `X-Shopify-Topic` header
("orders/updated", "fulfillments/create", "returns/approve", ...). `payloads` declares the
fields Wismo reads (everything else is ignored), `mapping` turns them into commands,
`parser` dispatches on the topic and finds the order of payloads that name it only by
Shopify's id (see docs/adr/0006-shopify.md), `webhook` checks `X-Shopify-Hmac-Sha256` and
normalises shop domains. Pure: no I/O but the clock and the injected order finder.

May import: wismo.domain, wismo.services.ports, wismo.ingestion (canonical helpers).
Must not import storage or entry points.
"""

from wismo.ingestion.shopify.parser import TOPICS, OrderClues, OrderFinder, ShopifyParser
from wismo.ingestion.shopify.webhook import normalise_shop, sign, verify

__all__ = [
    "TOPICS",
    "OrderClues",
    "OrderFinder",
    "ShopifyParser",
    "normalise_shop",
    "sign",
    "verify",
]
