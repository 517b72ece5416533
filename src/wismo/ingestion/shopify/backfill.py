"""Existing orders from a Shopify export, as the payloads webhooks would have carried.

Accepted: the Admin API's list answer (`{"orders": [...]}`, as GET
/admin/api/<version>/orders.json returns it, or a JSON array of orders), one order
(`{"order": {...}}` or the bare object), or NDJSON with one order (bare or wrapped) per line.
Each order becomes an `orders/updated` payload (the same Order shape) with the event id
`backfill:<order id>:<updated_at>`, so importing a file twice stores it once while a newer
export of a changed order is imported again.
"""

from __future__ import annotations

from typing import Any

import orjson

from wismo.ingestion.shopify.mapping import SOURCE
from wismo.services.ports import Inbound

FORMAT = "shopify:orders/updated"


class ExportError(ValueError):
    """The file is not a Shopify orders export."""


def _unwrap(item: Any) -> Any:
    if isinstance(item, dict) and isinstance(item.get("order"), dict) and "id" not in item:
        return item["order"]
    return item


def _orders(raw: bytes) -> list[Any]:
    text = raw.strip()
    if not text:
        return []
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    else:
        if isinstance(data, dict) and isinstance(data.get("orders"), list):
            return list(data["orders"])
        if isinstance(data, list):
            return [_unwrap(item) for item in data]
        if isinstance(data, dict):
            return [_unwrap(data)]
        raise ExportError('expected {"orders": [...]}, an array of orders, or NDJSON')
    found: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.append(_unwrap(orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise ExportError(f"line {number} is not JSON ({exc})") from None
    return found


def label(item: Any) -> str:
    """How an order of the export is named in messages: its name, else its id."""
    if isinstance(item, dict):
        name, order_id = item.get("name"), item.get("id")
        if isinstance(name, str) and name:
            return name
        if order_id is not None:
            return f"id {order_id}"
    return "an entry that is not an order"


def read_export(raw: bytes) -> list[tuple[str, Inbound]]:
    """(label, payload) per order in the export; raises `ExportError` for other files."""
    out: list[tuple[str, Inbound]] = []
    for item in _orders(raw):
        event_id = None
        if isinstance(item, dict) and item.get("id") is not None:
            event_id = f"backfill:{item['id']}:{item.get('updated_at') or ''}"[:200]
        out.append((label(item), Inbound(orjson.dumps(item), FORMAT, SOURCE, event_id)))
    return out
