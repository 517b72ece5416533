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

import threading
import time as timer
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    Update,
    and_,
    bindparam,
    create_engine,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from wismo.domain.notify import (
    NotifyChannel,
    Recipient,
    StoreRules,
    Trigger,
    idempotency_key,
    overtaken_by,
    plan,
    preferred_channel,
)
from wismo.services.notify import DAY, Attempt, closed_days
from wismo.services.ports import Claimed, PlannedFact
from wismo.storage import bulk, order_packages, push, rate_window
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


# -- relay -----------------------------------------------------------------------------------

# `provider_message_id` while an SMTP send is past its point of no return (see
# `wismo.services.notify.Message.commit_point`).
COMMITTING = "wismo:committing"

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
        any provider is called, so a crash leaves them for takeover, not for ever).

        A shipped, delivered or split-summary message of a split order gets the order's
        packages as they are now in its payload (`packages`, not stored): what it says of
        them is current when it is sent, however long it waited."""
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
            sent_counts = rate_window.sent_counts(conn, rows, now - DAY)
            split = order_packages.packages(
                conn, {int(r.order_id) for r in rows if r.trigger in order_packages.TRIGGERS}
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
                payload=order_packages.with_packages(
                    dict(r.payload or {}), r.trigger, r.order_id, r.shipment_id, split
                ),
                idempotency_key=r.idempotency_key,
                attempts=int(r.attempts),
                was_sending=int(r.id) in was_sending,
                past_commit_point=r.provider_message_id == COMMITTING,
                order_number=r.order_number,
                store_name=r.store_name,
                store_slug=r.store_slug,
                time_zone=r.customer_zone or r.store_zone,
                milestone=r.milestone,
                order_cancelled=r.cancelled_at is not None,
                sent_last_day=sent_counts.get(rate_window.rate_key(r), 0),
                created_at=r.created_at,
            )
            for r in rows
        ]

    def finish(self, records: Sequence[Attempt], worker: str) -> None:
        """Record attempts and move each notification on, only if this worker still holds
        its lease (a worker that lost its lease must not overwrite the new holder's)."""
        if not records:
            return
        if self._engine.dialect.name == "postgresql":
            self._finish_pg(records, worker)
            return
        with self._engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            for r in records:
                values = _finish_values(r)
                conn.execute(_move(r, worker, values))
            conn.execute(notification_attempts.insert(), [_attempt_row(r, worker) for r in records])

    def _finish_pg(self, records: Sequence[Attempt], worker: str) -> None:
        """One statement per message (the move and its attempt row, in a data-modifying
        CTE), in autocommit on a session that does not wait for the WAL flush: one round
        trip instead of five, because this commit is the window in which a message the
        provider accepted is not yet recorded. Durable against the worker crashing (the
        server has it); a server crash can lose the mark, and the message is then sent
        again (docs/notifications.md).

        The statement's text is compiled once per shape and run, prepared, on the driver's
        cursor: building and compiling it per message cost more CPU than the send itself."""
        raw = _finisher(self._engine).raw_connection()
        try:
            # psycopg's own cursor: DB-API has no way to ask for a prepared statement.
            driver: Any = raw.driver_connection
            with driver.cursor() as cursor:
                for r in records:
                    sql, params = _finish_statement(r, worker, self._engine.dialect)
                    cursor.execute(sql, params, prepare=True)
        finally:
            raw.close()  # back to the pool (autocommit: nothing to roll back)

    def mark_committing(self, notification_id: int, worker: str) -> None:
        """The provider is about to have the whole message: noted in `provider_message_id`
        (replaced by the provider's id once sent), committed before the channel goes on,
        and only while this worker holds the lease."""
        move = (
            update(notifications)
            .where(
                notifications.c.id == notification_id,
                notifications.c.claimed_by == worker,
                notifications.c.status == "sending",
            )
            .values(provider_message_id=COMMITTING)
        )
        engine = (
            _finisher(self._engine) if self._engine.dialect.name == "postgresql" else self._engine
        )
        with engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            conn.execute(move)

    def sent_times(self, notification_id: int, since: datetime) -> list[datetime]:
        with self._engine.connect() as conn:
            return rate_window.sent_times(conn, notification_id, since)

    def opt_out(
        self, store_id: int, channel: str, address: str, source: str, now: datetime
    ) -> None:
        with self._engine.begin() as conn:
            if channel == NotifyChannel.PUSH:
                # A push address is a subscription: revoking it is the opt-out (and
                # suppresses what is queued); endpoints are longer than opt-out addresses.
                push.revoke_endpoint(conn, address, now, source)
                return
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


def _finish_values(r: Attempt) -> dict[str, Any]:
    values: dict[str, Any] = {"status": r.status, "last_error": None}
    if r.status == "sent":
        values.update(sent_at=r.finished_at, lease_until=None)
    # Set, or cleared: a try that reached the commit point and then failed leaves no mark.
    values["provider_message_id"] = r.provider_message_id or None
    if r.outcome in ("retry", "failed", "deferred"):
        values["last_error"] = r.detail
    if r.outcome == "deferred":
        # Waiting for the rate limit is not a failed try: it uses no attempt.
        values.update(not_before=r.next_attempt_at, attempts=notifications.c.attempts - 1)
    if r.next_attempt_at is not None:
        values.update(next_attempt_at=r.next_attempt_at, lease_until=None)
    return values


_FINISH_SQL: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}


def _finish_statement(r: Attempt, worker: str, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """`_finish_pg`'s SQL for `r`'s shape (which columns move), compiled once for
    psycopg, and its parameters. Bypasses SQLAlchemy's bind processing, so it checks
    what `UTCDateTime` would: instants must be aware."""
    values = _finish_values(r)
    shape = tuple(sorted(values))
    found = _FINISH_SQL.get(shape)
    if found is None:
        moved = (
            update(notifications)
            .where(
                notifications.c.id == bindparam("m_id", type_=notifications.c.id.type),
                notifications.c.claimed_by == bindparam("m_worker", type_=String()),
                notifications.c.status == "sending",
            )
            .values(
                {
                    k: v
                    if isinstance(v, ColumnElement)
                    else bindparam(f"v_{k}", type_=notifications.c[k].type)
                    for k, v in values.items()
                }
            )
            .returning(notifications.c.id)
        )
        stmt = (
            insert(notification_attempts)
            .values(
                {
                    k: bindparam(f"a_{k}", type_=notification_attempts.c[k].type)
                    for k in _ATTEMPT_COLUMNS
                }
            )
            .add_cte(moved.cte("moved"))
        )
        compiled = stmt.compile(dialect=dialect)
        defaults = {k: v for k, v in compiled.params.items() if v is not None}
        found = _FINISH_SQL[shape] = (compiled.string, defaults)
    sql, defaults = found
    params = dict(defaults)
    params["m_id"], params["m_worker"] = r.notification_id, worker
    for k, v in values.items():
        if not isinstance(v, ColumnElement):
            params[f"v_{k}"] = _aware(v)
    for k, v in _attempt_row(r, worker).items():
        params[f"a_{k}"] = _aware(v)
    return sql, params


_ATTEMPT_COLUMNS = (
    "notification_id",
    "attempt",
    "worker",
    "outcome",
    "provider_status",
    "provider_message_id",
    "detail",
    "started_at",
    "finished_at",
)


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return value


def _move(r: Attempt, worker: str, values: dict[str, Any]) -> Update:
    """Only while this worker still holds the lease: one that lost it must not overwrite
    the new holder's result."""
    return (
        update(notifications)
        .where(
            notifications.c.id == r.notification_id,
            notifications.c.claimed_by == worker,
            notifications.c.status == "sending",
        )
        .values(**values)
    )


def _attempt_row(r: Attempt, worker: str) -> dict[str, Any]:
    return {
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


_FINISHERS: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()
_FINISHERS_LOCK = threading.Lock()


def _finisher(engine: Engine) -> Engine:
    """A small autocommit pool beside `engine` whose sessions commit asynchronously and
    skip the pre-ping (a dropped connection fails one finish; the relay retries the pass,
    and the lease brings the message back). Shared by the relays of one process."""
    with _FINISHERS_LOCK:
        found = _FINISHERS.get(engine)
        if found is None:
            found = create_engine(
                engine.url,
                pool_size=4,
                max_overflow=4,
                isolation_level="AUTOCOMMIT",
                # Only `_finish_pg` runs here, and it asks for its one statement to be
                # prepared (a primary-key update: the generic plan is the right one).
                connect_args={"prepare_threshold": 1_000_000},
            )
            event.listen(found, "connect", _asynchronous_commit)
            event.listen(engine, "engine_disposed", lambda _e, f=found: f.dispose())
            _FINISHERS[engine] = found
        return found


def _asynchronous_commit(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    if not dbapi_connection.autocommit:
        dbapi_connection.commit()  # a session setting: it outlives this transaction
