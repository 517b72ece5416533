"""Engines for the embedded default (SQLite) and production (PostgreSQL)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry


def normalise_url(url: str) -> str:
    """Accept the plain `postgresql://` form users paste, and use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        database = make_url(url).database
        if database and database != ":memory:":
            _Checkpointer(engine, database).start()
        # pysqlite's own transaction handling defers BEGIN until the first write and breaks
        # SAVEPOINT; SQLAlchemy's documented recipe takes BEGIN over. Writers take the lock
        # up front (IMMEDIATE): a deferred reader that later writes fails at once in WAL
        # mode if another writer got in between, instead of waiting its turn.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No server-side prepared statements: after five runs psycopg prepares a statement and
    # PostgreSQL may then switch to a generic plan, which for `col = ANY($1)` lookups picked
    # scans that grew with the table (ingestion slowed from 3,300 to 1,500 events/s).
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"prepare_threshold": None},
    )


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("wismo_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the ingester writes; NORMAL sync is durable across
    # application crashes (not power loss), the usual trade for an embedded store.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    # Checkpoints run in `_Checkpointer`'s thread, not inside a writer's commit.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class _Checkpointer(threading.Thread):
    """Copies the SQLite WAL back into the database file in the background.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, so
    one ingestion batch in ten paid for copying and syncing the whole WAL. Here a thread
    with its own connection runs PASSIVE checkpoints (they never block writers or readers),
    and sqlite3 releases the GIL while it does the I/O. A RESTART checkpoint is used when
    the WAL has grown large, so it is reset rather than growing without bound.
    """

    INTERVAL_SECONDS = 0.5
    LARGE_WAL_PAGES = 50_000

    def __init__(self, engine: Engine, path: str) -> None:
        super().__init__(name="wismo-sqlite-checkpoint", daemon=True)
        self._path = path
        self._stop = threading.Event()
        event.listen(engine, "engine_disposed", lambda _engine: self._stop.set())

    def run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=1, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            while not self._stop.wait(self.INTERVAL_SECONDS):
                try:
                    _, wal_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if wal_pages > self.LARGE_WAL_PAGES:
                        conn.execute("PRAGMA wal_checkpoint(RESTART)")
                except sqlite3.Error:
                    # Busy or gone (a test removed the file): try again next time, or stop
                    # when the engine is disposed.
                    continue
        finally:
            conn.close()
