"""The relay's side of the notification outbox: claiming, finishing, opt-outs, history.

Claiming takes rows `FOR UPDATE SKIP LOCKED` on PostgreSQL, so relays in several processes
take disjoint rows; on SQLite the write transaction (BEGIN IMMEDIATE) serialises them. A
claim is a lease: a worker that dies leaves its rows to whoever comes after `lease_until`.
Each attempt is finished in its own statement on a small autocommit pool (`_finisher`), so
a send is recorded at once and never waits for the rest of the batch.
"""

from __future__ import annotations

import threading
import time as timer
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

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

from wismo.domain.notify import NotifyChannel, StoreRules
from wismo.services.notify import DAY, Attempt
from wismo.services.ports import Claimed
from wismo.storage import bulk, order_packages, push, rate_window
from wismo.storage.notifications import store_rules
from wismo.storage.tables import (
    channel_optouts,
    customers,
    notification_attempts,
    notifications,
    orders,
    shipments,
    stores,
)

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
