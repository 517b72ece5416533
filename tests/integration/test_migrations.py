"""Alembic migrations create exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from wismo.storage.engine import make_engine
from wismo.storage.migrate import current, downgrade, head, upgrade
from wismo.storage.tables import metadata


def test_migrated_schema_matches_tables(database_url: str) -> None:
    """No difference between the migrated database and `wismo.storage.tables`."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
        assert diff == []
        assert current(engine) == head()
    finally:
        engine.dispose()


def test_upgrade_from_first_release_schedules_open_shipments(database_url: str) -> None:
    """A database made by 0001 upgrades in place; open shipments become due for the sweeper,
    finished ones do not, and a downgrade gives 0001's schema back."""
    engine = make_engine(database_url)
    try:
        downgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO stores (slug, name, country, time_zone, created_at)"
                    " VALUES ('m', 'M', 'US', 'UTC', '2026-01-01 00:00:00')"
                )
            )
            store = conn.execute(text("SELECT id FROM stores WHERE slug = 'm'")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO orders (store_id, order_number, currency, stage, placed_at,"
                    " created_at, updated_at) VALUES (:s, '1', 'USD', 'order_placed',"
                    " '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"s": store},
            )
            order = conn.execute(text("SELECT id FROM orders")).scalar_one()
            for ref, milestone in (("open", "in_transit"), ("done", "delivered")):
                conn.execute(
                    text(
                        "INSERT INTO shipments (store_id, order_id, shipment_ref, carrier,"
                        " created_at, milestone, reason, event_count, poll_failures)"
                        " VALUES (:s, :o, :r, 'ups', '2026-01-02 00:00:00', :m, 'none', 0, 0)"
                    ),
                    {"s": store, "o": order, "r": ref, "m": milestone},
                )
        upgrade(engine)
        with engine.connect() as conn:
            due: dict[str, object] = dict(
                conn.execute(text("SELECT shipment_ref, next_check_at FROM shipments")).all()
            )
        assert due["open"] is not None
        assert due["done"] is None
        assert current(engine) == head()
    finally:
        engine.dispose()
