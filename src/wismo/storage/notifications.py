"""The notification outbox, planning side: messages planned in the caller's transaction.

Planning runs inside the ingestion or sweep transaction, only for facts that can become a
message (a changed milestone, a new finding), and costs three set-based statements per
batch whatever its size: recipients, opt-outs, one multi-row insert that skips keys
already planned. The relay that sends them is `wismo.storage.relay`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    Connection,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from wismo.domain.notify import (
    Recipient,
    StoreRules,
    Trigger,
    idempotency_key,
    overtaken_by,
    plan,
    preferred_channel,
)
from wismo.services.notify import closed_days
from wismo.services.ports import PlannedFact
from wismo.storage import bulk, order_packages, push
from wismo.storage.tables import (
    channel_optouts,
    integrations,
    notifications,
    stores,
)

NOTIFICATIONS_PROVIDER = "notifications"  # integrations row holding a store's StoreRules


def store_rules(conn: Connection, store_ids: Sequence[int]) -> dict[int, StoreRules]:
    """Each store's rules, with its country (whose holidays close business hours)."""
    rows = conn.execute(
        select(stores.c.id, stores.c.country, integrations.c.settings)
        .outerjoin(
            integrations,
            and_(
                integrations.c.store_id == stores.c.id,
                integrations.c.provider == NOTIFICATIONS_PROVIDER,
            ),
        )
        .where(stores.c.id.in_(store_ids))
    ).all()
    found = {
        int(r.id): replace(StoreRules.from_config(r.settings), country=r.country) for r in rows
    }
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
        # Driver-level reads: a sweep plans for thousands of shipments per batch, and Core's
        # row processing would cost more than the planning itself.
        sid_to_order = (
            {
                int(r[0]): int(r[1])
                for r in bulk.in_list(
                    conn, "SELECT id, order_id FROM shipments WHERE id {ids}", sorted(shipment_ids)
                )
            }
            if shipment_ids
            else {}
        )
        order_ids |= set(sid_to_order.values())
        order_rows = {
            int(r[0]): _OrderRow(*r) for r in bulk.in_list(conn, _ORDER_ROWS, sorted(order_ids))
        }
        rules = store_rules(conn, sorted({int(r.store_id) for r in order_rows.values()}))
        addresses = {a for r in order_rows.values() for a in (r.email, r.phone) if a}
        push_endpoints = push.active_endpoints(conn, order_rows)
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
        holidays = {sid: closed_days(r, (now.year, now.year + 1)) for sid, r in rules.items()}
        # The last package of a split order: its "delivered" becomes the order's summary.
        completed = order_packages.completed_splits(
            conn,
            {
                sid_to_order[f.shipment_id]
                for f in facts
                if f.trigger == Trigger.DELIVERED and f.shipment_id in sid_to_order
            },
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
            trigger = _TRIGGERS.get(fact.trigger) or Trigger(fact.trigger)
            store_rule = rules[int(o.store_id)]
            endpoints = push_endpoints.get(int(o.id), ())
            if not (o.email or o.phone or endpoints or store_rule.webhook_url):
                continue  # no channel has an address: `plan` would find no message
            key_shipment = fact.shipment_id
            if (
                trigger is Trigger.DELIVERED
                and int(o.id) in completed
                and Trigger.SPLIT_SUMMARY in store_rule.triggers
            ):
                trigger, key_shipment = Trigger.SPLIT_SUMMARY, None  # one per order
            consent = o.consent_map()
            recipient = Recipient(
                email=o.email,
                phone=o.phone,
                language=o.language,
                time_zone=o.time_zone,
                consent=consent,
                preferred=preferred_channel(consent),
                push_endpoints=endpoints,
            )
            for p in plan(
                trigger,
                store_rule,
                recipient,
                store_zone=o.store_zone,
                now=now,
                opted_out=opted_out,
                holidays=holidays[int(o.store_id)],
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
                            shipment_id=key_shipment,
                            occurrence=fact.occurrence,
                            address=p.recipient,
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
        # Two last packages delivered in one batch give one summary, not two.
        unique: dict[str, dict[str, Any]] = {}
        for r in rows:
            unique.setdefault(r["idempotency_key"], r)
        rows = list(unique.values())
        _supersede(conn, rows)
        dialect = postgresql if bulk.is_postgres(conn) else sqlite
        stmt = dialect.insert(notifications).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
        return int(conn.execute(stmt, rows).rowcount or 0)


_TRIGGERS: dict[str, Trigger] = {t.value: t for t in Trigger}

_ORDER_ROWS = (
    "SELECT o.id, o.store_id, o.customer_id, o.email, o.phone, o.cancelled_at, c.language,"
    " c.time_zone, c.consent, st.time_zone FROM orders o JOIN stores st ON st.id = o.store_id"
    " LEFT JOIN customers c ON c.id = o.customer_id WHERE o.id {ids}"
)


class _OrderRow(NamedTuple):
    """What planning reads of an order (`_ORDER_ROWS`), its customer and its store."""

    id: int
    store_id: int
    customer_id: int | None
    email: str | None
    phone: str | None
    cancelled_at: Any  # only ever tested against None: left as the driver gave it
    language: str | None
    time_zone: str | None
    consent: Any  # JSON text on SQLite, parsed by psycopg; read only when a message may go
    store_zone: str

    def consent_map(self) -> Any:
        value = self.consent
        if isinstance(value, str | bytes):
            value = orjson.loads(value)
        return value or {}


def _supersede(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Cancel waiting messages that the rows about to be inserted make stale: a held
    message about a shipment no further along than the new one (held for the night, or
    over the rate limit: the relay would send both when the hold ends), and an order's
    unsent "delivered" when its split summary is planned. One statement per batch."""
    shipments_by: dict[tuple[str, str], set[int]] = {}  # (trigger, channel) -> shipments
    summaries: dict[str, set[int]] = {}  # channel -> orders
    for r in rows:
        if r["trigger"] == Trigger.SPLIT_SUMMARY:
            summaries.setdefault(r["channel"], set()).add(r["order_id"])
        elif r["shipment_id"] is not None and overtaken_by(Trigger(r["trigger"])):
            shipments_by.setdefault((r["trigger"], r["channel"]), set()).add(r["shipment_id"])
    stale = [
        and_(
            notifications.c.status == "held",
            notifications.c.channel == channel,
            notifications.c.shipment_id.in_(ids),
            notifications.c.trigger.in_([t.value for t in overtaken_by(Trigger(trigger))]),
        )
        for (trigger, channel), ids in shipments_by.items()
    ] + [
        and_(
            notifications.c.status.in_(("pending", "held")),
            notifications.c.channel == channel,
            notifications.c.order_id.in_(ids),
            notifications.c.trigger == Trigger.DELIVERED.value,
        )
        for channel, ids in summaries.items()
    ]
    if not stale:
        return
    conn.execute(
        update(notifications)
        .where(
            notifications.c.order_id.in_({r["order_id"] for r in rows}),
            # A fact planned again (a replay) must not cancel its own waiting message.
            notifications.c.idempotency_key.not_in([r["idempotency_key"] for r in rows]),
            or_(*stale),
        )
        .values(status="cancelled", last_error="superseded by a newer message")
    )
