"""The inbox: every inbound payload, stored raw before it is processed."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from wismo.services.ports import InboxItem, Outcome
from wismo.storage import bulk
from wismo.storage.tables import inbox


class SqlInbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        store_id: int,
        items: Sequence[tuple[str, str | None, str, bytes]],
        now: datetime,
    ) -> list[int | None]:
        if not items:
            return []
        # Sorted by key so concurrent batches with overlapping ids take the unique-index locks
        # in one order (PostgreSQL would otherwise deadlock them).
        keyed = sorted((item for item in items if item[1] is not None), key=lambda i: i[:2])
        by_key = self._insert_keyed(store_id, keyed, now) if keyed else {}
        result: list[int | None] = []
        claimed: set[int] = set()
        for source, event_id, payload_format, body in items:
            if event_id is None:
                # Payloads without a key (rejected ones) are rare: one insert each.
                result.append(
                    int(
                        self._conn.execute(
                            inbox.insert()
                            .values(
                                store_id=store_id,
                                source=source,
                                event_id=None,
                                format=payload_format,
                                body=body,
                                status="received",
                                attempts=0,
                                received_at=now,
                            )
                            .returning(inbox.c.id)
                        ).scalar_one()
                    )
                )
                continue
            inbox_id = by_key.get((source, event_id))
            if inbox_id is None or inbox_id in claimed:
                result.append(None)
            else:
                claimed.add(inbox_id)
                result.append(inbox_id)
        return result

    def _insert_keyed(
        self,
        store_id: int,
        items: list[tuple[str, str | None, str, bytes]],
        now: datetime,
    ) -> dict[tuple[str, str], int]:
        """Insert payloads that have a dedup key; (source, event id) -> id of those inserted."""
        conn = self._conn
        if bulk.is_postgres(conn):
            returned = bulk.pg_execute(
                conn,
                "INSERT INTO inbox (store_id, source, event_id, format, body, status, attempts,"
                " received_at) SELECT %b, s, e, f, b, 'received', 0, %b FROM unnest("
                "%b::text[], %b::text[], %b::text[], %b::bytea[]) AS t(s, e, f, b)"
                " ON CONFLICT (store_id, source, event_id) DO NOTHING"
                " RETURNING id, source, event_id",
                (store_id, now, *(list(column) for column in zip(*items, strict=True))),
            )
        else:
            before = bulk.max_id(conn, "inbox")
            stamp = bulk.sqlite_instant(now)
            bulk.sqlite_many(
                conn,
                "INSERT INTO inbox (store_id, source, event_id, format, body, status, attempts,"
                " received_at) VALUES (?, ?, ?, ?, ?, 'received', 0, ?)"
                " ON CONFLICT (store_id, source, event_id) DO NOTHING",
                [(store_id, *item, stamp) for item in items],
            )
            returned = bulk.sqlite_rows(
                conn, "SELECT id, source, event_id FROM inbox WHERE id > ?", (before,)
            )
        # Only inserted rows come back; a duplicate (also within this batch) does not.
        return {(r[1], r[2]): int(r[0]) for r in returned}

    def record(self, outcomes: Mapping[int, Outcome], now: datetime) -> None:
        if not outcomes:
            return
        # The common case, processed, is one statement for the whole batch.
        done = [i for i, o in outcomes.items() if o.status == "processed"]
        if done:
            stamp: Any = now if bulk.is_postgres(self._conn) else bulk.sqlite_instant(now)
            bulk.execute_in_list(
                self._conn,
                "UPDATE inbox SET status = 'processed', waiting_for = NULL, error = NULL,"
                " processed_at = ?, attempts = attempts + 1 WHERE id {ids}",
                done,
                stamp,
            )
        rest = {i: o for i, o in outcomes.items() if o.status != "processed"}
        if not rest:
            return
        params = [
            {
                "b_id": inbox_id,
                "status": o.status,
                "waiting_for": o.waiting_for,
                "error": o.error or None,
                "processed_at": now if o.status == "processed" else None,
            }
            for inbox_id, o in rest.items()
        ]
        self._conn.execute(
            update(inbox)
            .where(inbox.c.id == bindparam("b_id"))
            .values(
                status=bindparam("status"),
                waiting_for=bindparam("waiting_for"),
                error=bindparam("error"),
                processed_at=bindparam("processed_at"),
                attempts=inbox.c.attempts + 1,
            ),
            params,
        )

    def waiting_for(self, store_id: int, keys: Collection[str]) -> list[InboxItem]:
        rows = self._conn.execute(
            select(
                inbox.c.id,
                inbox.c.source,
                inbox.c.event_id,
                inbox.c.body,
                inbox.c.format,
                inbox.c.attempts,
            )
            .where(
                inbox.c.store_id == store_id,
                inbox.c.waiting_for.in_(list(keys)),
                inbox.c.status == "parked",
            )
            .order_by(inbox.c.id)
        )
        return [_item(r) for r in rows]

    def load(self, ids: Collection[int]) -> list[InboxItem]:
        rows = self._conn.execute(
            select(
                inbox.c.id,
                inbox.c.source,
                inbox.c.event_id,
                inbox.c.body,
                inbox.c.format,
                inbox.c.attempts,
            )
            .where(inbox.c.id.in_(list(ids)))
            .order_by(inbox.c.id)
        )
        return [_item(r) for r in rows]

    def get(self, inbox_id: int, store_id: int | None = None) -> dict[str, Any] | None:
        query = select(inbox).where(inbox.c.id == inbox_id)
        if store_id is not None:
            query = query.where(inbox.c.store_id == store_id)
        row = self._conn.execute(query).first()
        return dict(row._mapping) if row else None

    def list(
        self, statuses: Collection[str], store_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Inbox rows for operators (`wismo inbox list`), newest first."""
        query = select(
            inbox.c.id,
            inbox.c.store_id,
            inbox.c.source,
            inbox.c.event_id,
            inbox.c.format,
            inbox.c.status,
            inbox.c.waiting_for,
            inbox.c.error,
            inbox.c.attempts,
            inbox.c.received_at,
        ).where(inbox.c.status.in_(list(statuses)))
        if store_id is not None:
            query = query.where(inbox.c.store_id == store_id)
        rows = self._conn.execute(query.order_by(inbox.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def _item(r: Any) -> InboxItem:
    return InboxItem(
        id=r.id,
        source=r.source,
        event_id=r.event_id,
        body=bytes(r.body),
        format=r.format,
        attempts=r.attempts,
    )
