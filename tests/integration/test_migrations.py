"""Alembic migrations create exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from wismo.storage.engine import make_engine
from wismo.storage.migrate import current
from wismo.storage.tables import metadata


def test_migrated_schema_matches_tables(database_url: str) -> None:
    """No difference between the migrated database and `wismo.storage.tables`."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
        assert diff == []
        assert current(engine) == "0001"
    finally:
        engine.dispose()
