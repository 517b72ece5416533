"""The rate limit's window: what went out to a customer on a channel in the last day.

A customer is counted by `customer_id` when known, else by the address: "no more than N
SMS a day" is what people expect, whichever of their numbers an order carried. The relay's
claim counts for its whole batch in one statement; the exact instants are read only for a
message at the limit, to know when the oldest leaves the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from wismo.storage.tables import notifications

RateKey = tuple[str, int | str, str]


def rate_key(r: Any) -> RateKey:
    """Whom a notification row counts for: ("customer", id, channel) or ("address", …)."""
    if r.customer_id is not None:
        return ("customer", int(r.customer_id), str(r.channel))
    return ("address", str(r.recipient), str(r.channel))


def sent_counts(conn: Connection, rows: Sequence[Any], since: datetime) -> dict[RateKey, int]:
    """Messages sent after `since` per rate key of the notification `rows`."""
    customer_ids = {int(r.customer_id) for r in rows if r.customer_id is not None}
    addresses = {str(r.recipient) for r in rows if r.customer_id is None}
    who = []
    if customer_ids:
        who.append(notifications.c.customer_id.in_(customer_ids))
    if addresses:
        who.append(notifications.c.recipient.in_(addresses))
    if not who:
        return {}
    counts: dict[RateKey, int] = {}
    for customer_id, recipient, channel, n in conn.execute(
        select(
            notifications.c.customer_id,
            notifications.c.recipient,
            notifications.c.channel,
            func.count(),
        )
        .where(or_(*who), notifications.c.status == "sent", notifications.c.sent_at > since)
        .group_by(notifications.c.customer_id, notifications.c.recipient, notifications.c.channel)
    ):
        keys: list[RateKey] = []
        if customer_id is not None and int(customer_id) in customer_ids:
            keys.append(("customer", int(customer_id), str(channel)))
        if recipient in addresses:
            keys.append(("address", str(recipient), str(channel)))
        for key in keys:
            counts[key] = counts.get(key, 0) + int(n)
    return counts


def sent_times(conn: Connection, notification_id: int, since: datetime) -> list[datetime]:
    """Sent instants after `since` for the notification's rate key, oldest first."""
    n = conn.execute(
        select(
            notifications.c.customer_id,
            notifications.c.recipient,
            notifications.c.channel,
        ).where(notifications.c.id == notification_id)
    ).first()
    if n is None:
        return []
    who = (
        notifications.c.customer_id == n.customer_id
        if n.customer_id is not None
        else notifications.c.recipient == n.recipient
    )
    return list(
        conn.execute(
            select(notifications.c.sent_at)
            .where(
                who,
                notifications.c.channel == n.channel,
                notifications.c.status == "sent",
                notifications.c.sent_at > since,
            )
            .order_by(notifications.c.sent_at)
        ).scalars()
    )
