"""Web Push subscriptions made on the tracking page (`push_subscriptions`).

A subscription belongs to one order: the customer asked for that order's news in that
browser. Its endpoint is the address push messages are planned to; the keys stay here and
are read by the channel at send time (`SqlPushSubscriptions.keys_for`), so a subscription
revoked after planning is not pushed to. Revoking is the push opt-out: the customer turning
it off (one order), or the push service answering 404/410 (the endpoint is dead for every
order, in every store). Both suppress what is queued for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Update, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from wismo.storage import bulk
from wismo.storage.tables import notifications, orders, push_subscriptions

PUSH = "push"  # the notifications.channel value
MAX_PER_ORDER = 10  # browsers per order: more is abuse of a shared link, not a family


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    order_id: int
    endpoint: str
    p256dh: str
    auth: str
    language: str | None
    created_at: datetime
    revoked_at: datetime | None


class TooManySubscriptions(Exception):
    """The order already has its maximum of browser subscriptions (answered 409)."""


def save(
    conn: Connection,
    store_id: int,
    order_id: int,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    language: str | None,
    now: datetime,
) -> int:
    """Subscribe (or subscribe again: new keys, not revoked) one browser to one order's
    news; the row id. LookupError when the store has no such order, TooManySubscriptions
    past `MAX_PER_ORDER` active browsers."""
    order = conn.execute(
        select(orders.c.customer_id).where(orders.c.id == order_id, orders.c.store_id == store_id)
    ).first()
    if order is None:
        raise LookupError("no such order")
    active = conn.execute(
        select(func.count()).where(
            push_subscriptions.c.order_id == order_id,
            push_subscriptions.c.revoked_at.is_(None),
            push_subscriptions.c.endpoint != endpoint,
        )
    ).scalar_one()
    if active >= MAX_PER_ORDER:
        raise TooManySubscriptions(f"at most {MAX_PER_ORDER} browsers per order")
    dialect = postgresql if bulk.is_postgres(conn) else sqlite
    stmt = dialect.insert(push_subscriptions).values(
        store_id=store_id,
        order_id=order_id,
        customer_id=order.customer_id,
        endpoint=endpoint,
        p256dh=p256dh,
        auth=auth,
        language=language,
        created_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["order_id", "endpoint"],
        set_={
            "p256dh": stmt.excluded.p256dh,
            "auth": stmt.excluded.auth,
            "language": stmt.excluded.language,
            "revoked_at": None,
        },
    )
    conn.execute(stmt)
    return int(
        conn.execute(
            select(push_subscriptions.c.id).where(
                push_subscriptions.c.order_id == order_id,
                push_subscriptions.c.endpoint == endpoint,
            )
        ).scalar_one()
    )


def revoke(conn: Connection, store_id: int, order_id: int, endpoint: str, now: datetime) -> bool:
    """The customer turned one order's push off in one browser; False if it was not on."""
    changed = conn.execute(
        update(push_subscriptions)
        .where(
            push_subscriptions.c.store_id == store_id,
            push_subscriptions.c.order_id == order_id,
            push_subscriptions.c.endpoint == endpoint,
            push_subscriptions.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    ).rowcount
    conn.execute(
        _suppress("turned off on the tracking page").where(
            notifications.c.order_id == order_id, notifications.c.recipient == endpoint
        )
    )
    return bool(changed)


def revoke_endpoint(conn: Connection, endpoint: str, now: datetime, reason: str) -> int:
    """The endpoint is dead (the push service said 404/410): revoke it for every order and
    suppress what is queued for it. The number of subscriptions revoked."""
    changed = conn.execute(
        update(push_subscriptions)
        .where(
            push_subscriptions.c.endpoint == endpoint,
            push_subscriptions.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    ).rowcount
    conn.execute(
        _suppress(f"push subscription gone ({reason})").where(notifications.c.recipient == endpoint)
    )
    return int(changed or 0)


def _suppress(reason: str) -> Update:
    return (
        update(notifications)
        .where(
            notifications.c.channel == PUSH,
            notifications.c.status.in_(("pending", "held")),
        )
        .values(status="suppressed", last_error=reason)
    )


def active_endpoints(conn: Connection, order_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Each order's subscribed endpoints, oldest first: one query for a planning batch."""
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    found: dict[int, list[str]] = {}
    for order_id, endpoint in conn.execute(
        select(push_subscriptions.c.order_id, push_subscriptions.c.endpoint)
        .where(
            push_subscriptions.c.order_id.in_(wanted),
            push_subscriptions.c.revoked_at.is_(None),
        )
        .order_by(push_subscriptions.c.id)
    ):
        found.setdefault(int(order_id), []).append(str(endpoint))
    return {k: tuple(v) for k, v in found.items()}


def listed(conn: Connection, store_id: int, order_id: int) -> list[Subscription]:
    """An order's subscriptions, revoked ones too, oldest first."""
    return [
        Subscription(
            id=int(r.id),
            order_id=int(r.order_id),
            endpoint=r.endpoint,
            p256dh=r.p256dh,
            auth=r.auth,
            language=r.language,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
        )
        for r in conn.execute(
            select(push_subscriptions)
            .where(
                push_subscriptions.c.store_id == store_id,
                push_subscriptions.c.order_id == order_id,
            )
            .order_by(push_subscriptions.c.id)
        )
    ]


class SqlPushSubscriptions:
    """What the push channel reads at send time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def keys_for(self, endpoint: str) -> tuple[str, str] | None:
        """(p256dh, auth) of the endpoint's newest active subscription. A browser has one
        key pair per endpoint, whichever order it subscribed to."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(push_subscriptions.c.p256dh, push_subscriptions.c.auth)
                .where(
                    push_subscriptions.c.endpoint == endpoint,
                    push_subscriptions.c.revoked_at.is_(None),
                )
                .order_by(push_subscriptions.c.id.desc())
                .limit(1)
            ).first()
        return (str(row.p256dh), str(row.auth)) if row else None
