"""The notification outbox: planning in the caller's transaction, claiming for the relay.

Planning runs inside the ingestion or sweep transaction, only for facts that can become a
message (a changed milestone, a new finding), and costs three set-based statements per
batch whatever its size: recipients, opt-outs, one multi-row insert that skips keys
already planned. Claiming takes rows `FOR UPDATE SKIP LOCKED` on PostgreSQL, so relays in
several processes take disjoint rows; on SQLite the write transaction (BEGIN IMMEDIATE)
serialises them. A claim is a lease: a worker that dies leaves its rows to whoever comes
after `lease_until`.
"""

from __future__ import annotations

import time as timer
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from wismo.domain.notify import (
    NotifyChannel,
    Recipient,
    StoreRules,
    Trigger,
    idempotency_key,
    plan,
)
from wismo.services.notify import Attempt
from wismo.services.ports import Claimed, PlannedFact
from wismo.storage import bulk
from wismo.storage.tables import (
    channel_optouts,
    customers,
    integrations,
    notification_attempts,
    notifications,
    orders,
    shipments,
    stores,
)

NOTIFICATIONS_PROVIDER = "notifications"  # integrations row holding a store's StoreRules


def store_rules(conn: Connection, store_ids: Sequence[int]) -> dict[int, StoreRules]:
    rows = conn.execute(
        select(integrations.c.store_id, integrations.c.settings).where(
            integrations.c.provider == NOTIFICATIONS_PROVIDER,
            integrations.c.store_id.in_(store_ids),
        )
    ).all()
    found = {int(r.store_id): StoreRules.from_config(r.settings) for r in rows}
    return {sid: found.get(sid, StoreRules()) for sid in store_ids}


class SqlNotificationPlanner:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def plan(self, facts: Sequence[PlannedFact], now: datetime) -> int:
        if not facts:
            return 0
        conn = self._conn
        shipment_ids = {f.shipment_id for f in facts if f.shipment_id is not None}
        order_ids = {f.order_id for f in facts if f.order_id is not None}
        sid_to_order = (
            {
                int(r.id): int(r.order_id)
                for r in conn.execute(
                    select(shipments.c.id, shipments.c.order_id).where(
                        shipments.c.id.in_(shipment_ids)
                    )
                )
            }
            if shipment_ids
            else {}
        )
        order_ids |= set(sid_to_order.values())
        order_rows = {
            int(r.id): r
            for r in conn.execute(
                select(
                    orders.c.id,
                    orders.c.store_id,
                    orders.c.customer_id,
                    orders.c.email,
                    orders.c.phone,
                    orders.c.cancelled_at,
                    customers.c.language,
                    customers.c.time_zone,
                    customers.c.consent,
                    stores.c.time_zone.label("store_zone"),
                )
                .join(stores, stores.c.id == orders.c.store_id)
                .outerjoin(customers, customers.c.id == orders.c.customer_id)
                .where(orders.c.id.in_(order_ids))
            )
        }
        rules = store_rules(conn, sorted({int(r.store_id) for r in order_rows.values()}))
        addresses = {a for r in order_rows.values() for a in (r.email, r.phone) if a}
        opted_out = (
            frozenset(
                (str(c), str(a))
                for c, a in conn.execute(
                    select(channel_optouts.c.channel, channel_optouts.c.address).where(
                        channel_optouts.c.address.in_(addresses)
                    )
                )
            )
            if addresses
            else frozenset()
        )
        rows: list[dict[str, Any]] = []
        for fact in facts:
            order_id = (
                sid_to_order.get(fact.shipment_id)
                if fact.shipment_id is not None
                else fact.order_id
            )
            o = order_rows.get(order_id) if order_id is not None else None
            if o is None or (o.cancelled_at is not None and fact.shipment_id is not None):
                continue
            trigger = Trigger(fact.trigger)
            store_rule = rules[int(o.store_id)]
            recipient = Recipient(
                email=o.email,
                phone=o.phone,
                language=o.language,
                time_zone=o.time_zone,
                consent=o.consent or {},
            )
            for p in plan(
                trigger,
                store_rule,
                recipient,
                store_zone=o.store_zone,
                now=now,
                opted_out=opted_out,
            ):
                rows.append(
                    {
                        "store_id": o.store_id,
                        "order_id": o.id,
                        "shipment_id": fact.shipment_id,
                        "customer_id": o.customer_id,
                        "trigger": trigger.value,
                        "channel": p.channel.value,
                        "recipient": p.recipient,
                        "language": p.language,
                        "template": store_rule.template(trigger),
                        "payload": dict(fact.detail),
                        "idempotency_key": idempotency_key(
                            trigger,
                            p.channel,
                            order_id=int(o.id),
                            shipment_id=fact.shipment_id,
                            occurrence=fact.occurrence,
                        ),
                        "status": p.status,
                        "not_before": p.not_before,
                        "attempts": 0,
                        "next_attempt_at": p.not_before or now,
                        "created_at": now,
                    }
                )
        if not rows:
            return 0
        dialect = postgresql if bulk.is_postgres(conn) else sqlite
        stmt = dialect.insert(notifications).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
        return int(conn.execute(stmt, rows).rowcount or 0)


# -- relay -----------------------------------------------------------------------------------

CLAIMABLE = ("pending", "held", "sending")


class SqlRelayStore:
    """The relay's reads and writes (`wismo.services.notify.RelayStore`)."""

    def __init__(self, engine: Engine, rules_ttl_seconds: float = 60.0) -> None:
        self._engine = engine
        self._rules: dict[int, tuple[float, StoreRules]] = {}
        self._rules_ttl = rules_ttl_seconds

    def rules(self, store_id: int) -> StoreRules:
        """The store's rules, re-read at most every `rules_ttl_seconds`."""
        cached = self._rules.get(store_id)
        if cached is None or timer.monotonic() - cached[0] > self._rules_ttl:
            with self._engine.connect() as conn:
                cached = (timer.monotonic(), store_rules(conn, [store_id])[store_id])
            self._rules[store_id] = cached
        return cached[1]

    def claim(self, worker: str, now: datetime, lease_seconds: float, limit: int) -> list[Claimed]:
        """Lease up to `limit` due notifications and mark them `sending` (committed before
        any provider is called, so a crash leaves them for takeover, not for ever)."""
        lease_until = now + timedelta(seconds=lease_seconds)
        due = or_(
            and_(
                notifications.c.status.in_(("pending", "held")),
                notifications.c.next_attempt_at <= now,
            ),
            # A worker that died mid-send: its lease has run out.
            and_(notifications.c.status == "sending", notifications.c.lease_until < now),
        )
        with self._engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            pick = (
                select(notifications.c.id, notifications.c.status)
                .where(due)
                .order_by(notifications.c.next_attempt_at)
                .limit(limit)
            )
            if bulk.is_postgres(conn):
                pick = pick.with_for_update(skip_locked=True)
            picked = conn.execute(pick).all()
            if not picked:
                return []
            ids = [int(r.id) for r in picked]
            was_sending = {int(r.id) for r in picked if r.status == "sending"}
            conn.execute(
                update(notifications)
                .where(notifications.c.id.in_(ids))
                .values(
                    status="sending",
                    lease_until=lease_until,
                    claimed_by=worker,
                    attempts=notifications.c.attempts + 1,
                )
            )
            rows = conn.execute(
                select(
                    notifications,
                    orders.c.order_number,
                    orders.c.cancelled_at,
                    stores.c.name.label("store_name"),
                    stores.c.slug.label("store_slug"),
                    stores.c.time_zone.label("store_zone"),
                    customers.c.time_zone.label("customer_zone"),
                    shipments.c.milestone,
                )
                .join(orders, orders.c.id == notifications.c.order_id)
                .join(stores, stores.c.id == notifications.c.store_id)
                .outerjoin(customers, customers.c.id == notifications.c.customer_id)
                .outerjoin(shipments, shipments.c.id == notifications.c.shipment_id)
                .where(notifications.c.id.in_(ids))
                .order_by(notifications.c.id)
            ).all()
            recipients = {r.recipient for r in rows}
            # The rate limit counts what went out to the same address in the last day.
            sent_counts: dict[str, int] = dict(
                conn.execute(
                    select(notifications.c.recipient, func.count())
                    .where(
                        notifications.c.recipient.in_(recipients),
                        notifications.c.status == "sent",
                        notifications.c.sent_at >= now - timedelta(days=1),
                    )
                    .group_by(notifications.c.recipient)
                ).all()
            )
        return [
            Claimed(
                id=int(r.id),
                store_id=int(r.store_id),
                order_id=int(r.order_id),
                shipment_id=r.shipment_id,
                trigger=r.trigger,
                channel=r.channel,
                recipient=r.recipient,
                language=r.language,
                template=r.template,
                payload=dict(r.payload or {}),
                idempotency_key=r.idempotency_key,
                attempts=int(r.attempts),
                was_sending=int(r.id) in was_sending,
                order_number=r.order_number,
                store_name=r.store_name,
                store_slug=r.store_slug,
                time_zone=r.customer_zone or r.store_zone,
                milestone=r.milestone,
                order_cancelled=r.cancelled_at is not None,
                sent_last_day=int(sent_counts.get(r.recipient, 0)),
                created_at=r.created_at,
            )
            for r in rows
        ]

    def finish(self, records: Sequence[Attempt], worker: str) -> None:
        """Record attempts and move each notification on, only if this worker still holds
        its lease (a worker that lost its lease must not overwrite the new holder's)."""
        if not records:
            return
        with self._engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            if bulk.is_postgres(conn):
                # Durable against the worker crashing (the server has it) without waiting
                # for the disk: this commit is the window in which an accepted message is
                # not yet recorded, so it must be short. A server crash can lose the mark,
                # and the message is then sent again (docs/notifications.md).
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            for r in records:
                values: dict[str, Any] = {"status": r.status, "last_error": None}
                if r.status == "sent":
                    values.update(sent_at=r.finished_at, lease_until=None)
                if r.provider_message_id:
                    values["provider_message_id"] = r.provider_message_id
                if r.outcome in ("retry", "failed"):
                    values["last_error"] = r.detail
                if r.next_attempt_at is not None:
                    values.update(next_attempt_at=r.next_attempt_at, lease_until=None)
                conn.execute(
                    update(notifications)
                    .where(
                        notifications.c.id == r.notification_id,
                        notifications.c.claimed_by == worker,
                        notifications.c.status == "sending",
                    )
                    .values(**values)
                )
            conn.execute(
                notification_attempts.insert(),
                [
                    {
                        "notification_id": r.notification_id,
                        "attempt": r.attempt,
                        "worker": worker,
                        "outcome": r.outcome,
                        "provider_status": r.provider_status,
                        "provider_message_id": r.provider_message_id,
                        "detail": (r.detail or "")[:2000] or None,
                        "started_at": r.started_at,
                        "finished_at": r.finished_at,
                    }
                    for r in records
                ],
            )

    def opt_out(
        self, store_id: int, channel: str, address: str, source: str, now: datetime
    ) -> None:
        with self._engine.begin() as conn:
            dialect = postgresql if bulk.is_postgres(conn) else sqlite
            conn.execute(
                dialect.insert(channel_optouts)
                .values(
                    store_id=store_id,
                    channel=channel,
                    address=address,
                    source=source,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            # Honoured at once: what is queued for the address is not sent either.
            conn.execute(
                update(notifications)
                .where(
                    notifications.c.store_id == store_id,
                    notifications.c.channel == channel,
                    notifications.c.recipient == address,
                    notifications.c.status.in_(("pending", "held")),
                )
                .values(status="suppressed", last_error=f"opted out ({source})")
            )

    def opt_in(self, store_id: int, channel: str, address: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                channel_optouts.delete().where(
                    channel_optouts.c.store_id == store_id,
                    channel_optouts.c.channel == channel,
                    channel_optouts.c.address == address,
                )
            )

    def opted_out(self, store_id: int, channel: str, address: str) -> bool:
        with self._engine.connect() as conn:
            return (
                conn.execute(
                    select(channel_optouts.c.id).where(
                        channel_optouts.c.store_id == store_id,
                        channel_optouts.c.channel == channel,
                        channel_optouts.c.address == address,
                    )
                ).first()
                is not None
            )

    def stores_for_address(self, channel: str, address: str) -> list[int]:
        """Stores that messaged `address` (an inbound STOP names no store)."""
        with self._engine.connect() as conn:
            return [
                int(s)
                for s in conn.execute(
                    select(notifications.c.store_id)
                    .where(
                        notifications.c.channel == channel,
                        notifications.c.recipient == address,
                    )
                    .distinct()
                ).scalars()
            ]

    def status_callback(self, provider_message_id: str, status: str, now: datetime) -> bool:
        """A provider's delivery report; a hard failure (undelivered, failed) is recorded
        as an attempt so the history shows it. False when the message is not ours."""
        with self._engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            row = conn.execute(
                select(notifications.c.id, notifications.c.attempts).where(
                    notifications.c.provider_message_id == provider_message_id
                )
            ).first()
            if row is None:
                return False
            conn.execute(
                notification_attempts.insert().values(
                    notification_id=row.id,
                    attempt=row.attempts,
                    worker="provider",
                    outcome="report",
                    provider_status=status[:64],
                    provider_message_id=provider_message_id,
                    started_at=now,
                    finished_at=now,
                )
            )
            if status in ("failed", "undelivered"):
                conn.execute(
                    update(notifications)
                    .where(notifications.c.id == row.id)
                    .values(status="failed", last_error=f"provider reported {status}")
                )
        return True


def history(conn: Connection, store_id: int, order_number: str) -> list[dict[str, Any]]:
    """Every notification of an order with its attempts, oldest first (CLI, API)."""
    rows = conn.execute(
        select(notifications)
        .join(orders, orders.c.id == notifications.c.order_id)
        .where(orders.c.store_id == store_id, orders.c.order_number == order_number)
        .order_by(notifications.c.id)
    ).all()
    ids = [r.id for r in rows]
    attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for a in conn.execute(
            select(notification_attempts)
            .where(notification_attempts.c.notification_id.in_(ids))
            .order_by(notification_attempts.c.id)
        ).all():
            attempts[a.notification_id].append(
                {
                    "attempt": a.attempt,
                    "worker": a.worker,
                    "outcome": a.outcome,
                    "provider_status": a.provider_status,
                    "provider_message_id": a.provider_message_id,
                    "detail": a.detail,
                    "at": a.finished_at.isoformat(),
                }
            )
    return [
        {
            "id": r.id,
            "trigger": r.trigger,
            "channel": r.channel,
            "recipient": r.recipient,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
            "sent_at": r.sent_at.isoformat() if r.sent_at else None,
            "not_before": r.not_before.isoformat() if r.not_before else None,
            "last_error": r.last_error,
            "attempts": attempts[r.id],
        }
        for r in rows
    ]


__all__ = ["NotifyChannel", "SqlNotificationPlanner", "SqlRelayStore", "history"]


def notification_address(
    conn: Connection, store_id: int, notification_id: int
) -> tuple[str, str] | None:
    """(channel, recipient) of a store's notification, for an unsubscribe link."""
    row = conn.execute(
        select(notifications.c.channel, notifications.c.recipient).where(
            notifications.c.id == notification_id, notifications.c.store_id == store_id
        )
    ).first()
    return (str(row.channel), str(row.recipient)) if row else None
