"""Driver-level statements for the ingestion hot path.

SQLAlchemy Core costs ~30 µs a row in type processing and statement building; at peak
volume the inbox, the scans and the shipment states are written once per event each, so
these few statements go to the driver with rows already in its types:

- SQLite: `executemany` of fixed statements (sqlite3 caches them). Inserted rows are found
  by id range: the writer holds the database lock (BEGIN IMMEDIATE) and rowids only grow.
- PostgreSQL: one fixed statement per batch over arrays (`unnest`), with RETURNING; fixed
  text also lets psycopg prepare it once instead of parsing a new multi-row VALUES each time.

Values written here must read back through the Core tables exactly as Core would have
written them; `tests/integration/test_bulk.py` holds the two paths to that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection

_CHUNK = 900  # values per IN list: below SQLite's variable limit


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


# The same instants are written several times per batch (a scan's time goes into the scan
# and into its shipment's state); formatting costs ~30 times a dict lookup.
_TEXTS: dict[datetime, str] = {}


def sqlite_instant(moment: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME stores for this instant (naive UTC)."""
    if moment is None:
        return None
    text = _TEXTS.get(moment)
    if text is None:
        if len(_TEXTS) > 200_000:
            _TEXTS.clear()
        if moment.tzinfo is UTC:
            # Already UTC (the parsers convert on the way in): drop the "+00:00" suffix.
            text = moment.isoformat(" ", "microseconds")[:26]
        else:
            text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        _TEXTS[moment] = text
    return text


_INSTANT_CACHE: dict[str, datetime] = {}


def read_instant(value: Any) -> datetime | None:
    """An aware UTC datetime from what the driver returned (text on SQLite)."""
    if value is None:
        return None
    if isinstance(value, str):
        moment = _INSTANT_CACHE.get(value)
        if moment is None:
            if len(_INSTANT_CACHE) > 250_000:  # a sweep reads ~8 instants per row
                _INSTANT_CACHE.clear()
            moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
            _INSTANT_CACHE[value] = moment
        return moment
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise TypeError(f"not an instant: {value!r}")


def json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def chunks(values: Iterable[Any]) -> list[list[Any]]:
    items = list(values)
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def pg_execute(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run `sql` on PostgreSQL with binary parameters; its rows (empty if none).

    Goes to the psycopg cursor of the connection's transaction, and the statements use `%b`
    placeholders: psycopg's text dumping of large arrays escapes every element with a
    regular expression, which costs more than the statement itself; binary does not.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params, binary=True)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


def sqlite_connection(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under `conn`, inside `conn`'s transaction.

    The hot path's SQLite statements go straight to it: SQLAlchemy's result wrapping costs
    about three times what sqlite3 takes to produce the rows. The transaction is begun
    through SQLAlchemy first (its hook issues BEGIN IMMEDIATE); sqlite3 itself is in
    autocommit mode and would otherwise commit each statement on its own.
    """
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.driver_connection  # type: ignore[return-value]


def sqlite_rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    return sqlite_connection(conn).execute(sql, params).fetchall()


def sqlite_many(conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    sqlite_connection(conn).executemany(sql, rows)


def max_id(conn: Connection, table: str) -> int:
    if is_postgres(conn):
        value = conn.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar()  # noqa: S608 - fixed names
    else:
        value = sqlite_rows(conn, f"SELECT max(id) FROM {table}")[0][0]  # noqa: S608 - fixed names
    return int(value or 0)


def in_list(conn: Connection, sql: str, ids: Sequence[Any], *params: Any) -> list[Any]:
    """Run `sql` whose last placeholder is an id list, chunked; rows of all chunks.

    `sql` holds `{ids}` where the list goes: `= ANY(%s)` on PostgreSQL, `IN (?, ...)` on
    SQLite.
    """
    rows: list[Any] = []
    for chunk in chunks(ids):
        if is_postgres(conn):
            text = sql.format(ids="= ANY(%s)").replace("?", "%s")
            rows.extend(conn.exec_driver_sql(text, (*params, chunk)).fetchall())
        else:
            text = sql.format(ids=f"IN ({','.join('?' * len(chunk))})")
            rows.extend(sqlite_rows(conn, text, (*params, *chunk)))
    return rows


def execute_in_list(conn: Connection, sql: str, ids: Sequence[Any], *params: Any) -> None:
    """Like `in_list`, for statements that return nothing (UPDATE ... WHERE id IN)."""
    for chunk in chunks(ids):
        if is_postgres(conn):
            text = sql.format(ids="= ANY(%s)").replace("?", "%s")
            conn.exec_driver_sql(text, (*params, chunk))
        else:
            text = sql.format(ids=f"IN ({','.join('?' * len(chunk))})")
            sqlite_connection(conn).execute(text, (*params, *chunk))
