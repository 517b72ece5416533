"""What is coming in which package, for split-shipment messages (docs/notifications.md).

An order is *split* when it has more than one shipment or items not shipped yet. The
planner asks, for the orders of a batch's "delivered" facts, which are split and now
complete (every package delivered, nothing left to ship): their last "delivered" becomes
one `split_summary`. The relay's claim asks, for the orders of the messages it took, what
each package holds, so the message says what is current when it is sent. Both are
set-based: one or two statements for a whole batch, never one per order.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, case, func, select

from wismo.domain.milestones import Milestone
from wismo.storage.tables import order_lines, shipment_lines, shipments

DELIVERED = Milestone.DELIVERED.value


def completed_splits(conn: Connection, order_ids: Collection[int]) -> set[int]:
    """The orders among `order_ids` that are split and now wholly delivered."""
    if not order_ids:
        return set()
    ordered = (
        select(order_lines.c.order_id, func.sum(order_lines.c.quantity).label("qty"))
        .where(order_lines.c.order_id.in_(order_ids))
        .group_by(order_lines.c.order_id)
        .subquery()
    )
    per_shipment = (
        select(shipment_lines.c.shipment_id, func.sum(shipment_lines.c.quantity).label("qty"))
        .group_by(shipment_lines.c.shipment_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            shipments.c.order_id,
            func.count().label("packages"),
            func.sum(case((shipments.c.milestone == DELIVERED, 1), else_=0)).label("delivered"),
            func.coalesce(func.sum(per_shipment.c.qty), 0).label("shipped"),
            func.coalesce(func.max(ordered.c.qty), 0).label("ordered"),
        )
        .outerjoin(per_shipment, per_shipment.c.shipment_id == shipments.c.id)
        .outerjoin(ordered, ordered.c.order_id == shipments.c.order_id)
        .where(shipments.c.order_id.in_(order_ids))
        .group_by(shipments.c.order_id)
    ).all()
    return {
        int(r.order_id)
        for r in rows
        if (r.packages > 1 or r.shipped < r.ordered)  # split
        and r.delivered == r.packages
        and r.shipped >= r.ordered  # complete
    }


def packages(conn: Connection, order_ids: Collection[int]) -> dict[int, list[dict[str, Any]]]:
    """Per order: its packages in the order they were made, each {"shipment_id",
    "delivered", "items"}; and what is still to ship, as a package with shipment_id None."""
    if not order_ids:
        return {}
    titles: dict[int, dict[str, tuple[str, int]]] = {}
    for line in conn.execute(
        select(
            order_lines.c.order_id,
            order_lines.c.line_ref,
            order_lines.c.title,
            order_lines.c.quantity,
        )
        .where(order_lines.c.order_id.in_(order_ids))
        .order_by(order_lines.c.id)
    ):
        titles.setdefault(int(line.order_id), {})[line.line_ref] = (line.title, int(line.quantity))
    out: dict[int, list[dict[str, Any]]] = {}
    shipped: dict[int, dict[str, int]] = {}
    by_id: dict[int, dict[str, Any]] = {}
    for r in conn.execute(
        select(
            shipments.c.id,
            shipments.c.order_id,
            shipments.c.milestone,
            shipment_lines.c.line_ref,
            shipment_lines.c.quantity,
        )
        .outerjoin(shipment_lines, shipment_lines.c.shipment_id == shipments.c.id)
        .where(shipments.c.order_id.in_(order_ids))
        .order_by(shipments.c.created_at, shipments.c.id, shipment_lines.c.line_ref)
    ):
        order_id = int(r.order_id)
        package = by_id.get(int(r.id))
        if package is None:
            package = {"shipment_id": int(r.id), "delivered": r.milestone == DELIVERED, "items": []}
            by_id[int(r.id)] = package
            out.setdefault(order_id, []).append(package)
        if r.line_ref is not None:
            title = titles.get(order_id, {}).get(r.line_ref, (r.line_ref, 0))[0]
            package["items"].append({"quantity": int(r.quantity), "title": title})
            done = shipped.setdefault(order_id, {})
            done[r.line_ref] = done.get(r.line_ref, 0) + int(r.quantity)
    for order_id, lines in titles.items():
        done = shipped.get(order_id, {})
        rest = [
            {"quantity": qty - done.get(ref, 0), "title": title}
            for ref, (title, qty) in lines.items()
            if qty > done.get(ref, 0)
        ]
        if rest:
            out.setdefault(order_id, []).append(
                {"shipment_id": None, "delivered": False, "items": rest}
            )
    return out


def package_note(order_packages: list[dict[str, Any]], shipment_id: int | None) -> dict[str, Any]:
    """What a message about `shipment_id` says of the order's packages (the payload's
    `packages`): this package's place and items, how many there are and are delivered,
    and what is still to ship. Empty when the order is not split."""
    sent = [p for p in order_packages if p["shipment_id"] is not None]
    unshipped = [i for p in order_packages if p["shipment_id"] is None for i in p["items"]]
    if len(sent) < 2 and not unshipped:
        return {}
    index = next((n for n, p in enumerate(sent, 1) if p["shipment_id"] == shipment_id), None)
    return {
        "index": index,
        "count": len(sent),
        "delivered": sum(1 for p in sent if p["delivered"]),
        "items": sent[index - 1]["items"] if index else [],
        "unshipped": unshipped,
    }


# Messages whose wording says what is in which package.
TRIGGERS = frozenset({"shipped", "delivered", "split_summary"})


def with_packages(
    payload: dict[str, object],
    trigger: str,
    order_id: int,
    shipment_id: int | None,
    split: dict[int, list[dict[str, Any]]],
) -> dict[str, object]:
    """`payload` with the order's current `packages` note, for messages that say it."""
    if trigger in TRIGGERS and order_id in split:
        note = package_note(split[order_id], shipment_id)
        if note:
            payload["packages"] = note
    return payload
