"""Shared fixtures. Every database test runs on SQLite and on PostgreSQL.

PostgreSQL tests skip, with the reason, when the server is not reachable; CI sets
WISMO_REQUIRE_POSTGRES=1 so that an unreachable server fails instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from wismo.bootstrap import Wismo, bootstrap
from wismo.config import Settings
from wismo.storage import stores
from wismo.storage.engine import make_engine
from wismo.storage.migrate import upgrade
from wismo.storage.tables import ALL_TABLES
from wismo.testing import FakeClock

PG_URL = os.environ.get("WISMO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_SCHEMA = f"wismo_test_{os.getpid()}"


def _pg_problem() -> str | None:
    try:
        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip()[:200]}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated schema of its own in the PostgreSQL test database."""
    problem = _pg_problem()
    if problem:
        if os.environ.get("WISMO_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    admin = PG_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{PG_SCHEMA}"')
    url = f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "wismo.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    names = ", ".join(t.name for t in ALL_TABLES)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wismo(database_url: str, clock: FakeClock) -> Iterator[Wismo]:
    w = bootstrap(Settings(database_url=database_url), clock=clock, migrate=False)
    yield w
    w.close()


@pytest.fixture
def store_id(wismo: Wismo) -> int:
    with wismo.engine.begin() as conn:
        return stores.create_store(conn, "acme", "Acme", "US", "America/New_York")
