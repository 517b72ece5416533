"""Unit of work: one connection, one transaction, the repositories bound to it.

Repositories never commit; whoever opens the unit of work (an entry point, or the
ingestion use case at its documented boundaries) decides.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from wismo.storage.inbox import SqlInbox
from wismo.storage.notifications import SqlNotificationPlanner
from wismo.storage.orders import SqlOrderRepository
from wismo.storage.shipments import SqlShipmentRepository


class SqlUnitOfWork:
    conn: Connection
    orders: SqlOrderRepository
    shipments: SqlShipmentRepository
    inbox: SqlInbox
    notifications: SqlNotificationPlanner

    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self._engine = engine
        self._write = write

    def __enter__(self) -> SqlUnitOfWork:
        self.conn = self._engine.connect().execution_options(wismo_write=self._write)
        self.conn.begin()
        self.orders = SqlOrderRepository(self.conn)
        self.shipments = SqlShipmentRepository(self.conn)
        self.inbox = SqlInbox(self.conn)
        self.notifications = SqlNotificationPlanner(self.conn)
        return self

    def __exit__(self, *args: object) -> None:
        # Anything not committed explicitly is rolled back.
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()

    # The next statement begins the next transaction (SQLAlchemy's autobegin, which runs the
    # same BEGIN IMMEDIATE hook): beginning here would take SQLite's writer lock again only
    # for `__exit__` to roll the empty transaction back.
    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write)
