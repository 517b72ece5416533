"""What the benchmarks share: the database to run on, progress lines, percentiles."""

from __future__ import annotations

import argparse
import importlib
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from wismo.storage.engine import normalise_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
# The PostgreSQL server is shared: everything the benchmarks create lives in this schema,
# which is dropped before (and, unless --keep, after) each run.
SCHEMA = "wismo_bench"


class Progress:
    """Progress lines on stdout, stamped with the time since the benchmark started."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self._start:7.1f}s] {message}", flush=True)


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the SQLite file or the PostgreSQL schema afterwards, to inspect it",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")
    add_profile_argument(parser)


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="profile the timed part with pyinstrument (not a dependency) into PATH (text);"
        " the figures of a profiled run are slower and not comparable",
    )


@contextmanager
def profiled(path: str | None, say: Progress) -> Iterator[None]:
    if not path:
        yield
        return
    try:
        # Imported by name: an optional tool, absent from the project's dependencies.
        module: Any = importlib.import_module("pyinstrument")
    except ImportError:
        raise SystemExit("bench: --profile needs pyinstrument (pip install pyinstrument)") from None
    profiler = module.Profiler(interval=0.0005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        Path(path).write_text(profiler.output_text(unicode=True, color=False))
        # The raw session can be rendered again in other ways: `pyinstrument --load=PATH`.
        profiler.last_session.save(f"{path}.pyisession")
        say(f"profile written to {path} (and {path}.pyisession)")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was actually observed, never interpolated."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def postgres_url() -> str:
    return normalise_url(os.environ.get("WISMO_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def with_search_path(url: str, schema: str) -> str:
    # libpq's `options` startup parameter sets search_path for every pooled connection,
    # so unqualified table names (the app's and Alembic's) all land in the schema.
    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@contextmanager
def database(backend: str, keep: bool, say: Progress) -> Iterator[str]:
    """A fresh, empty database URL for one run; removed afterwards unless `keep`."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="wismo-bench-"))
        path = folder / "bench.db"
        say(f"sqlite database {path}")
        try:
            yield f"sqlite:///{path}"
        finally:
            if keep:
                say(f"kept {path}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
        return
    base = postgres_url()
    admin = create_engine(base, pool_size=1)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        say(f"postgres {make_url(base).render_as_string()} schema {SCHEMA}")
        yield with_search_path(base, SCHEMA)
    finally:
        if keep:
            say(f"kept schema {SCHEMA}")
        else:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


def check_schema(engine: Engine, say: Progress) -> None:
    """Fail loudly if the app's engine or Alembic wrote anywhere but the bench schema."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        current = conn.execute(text("SELECT current_schema()")).scalar()
        placed = {
            str(row.table_name)
            for row in conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_name IN ('orders', 'alembic_version')"
                    " AND table_schema = :schema"
                ),
                {"schema": SCHEMA},
            )
        }
    if current != SCHEMA or placed != {"orders", "alembic_version"}:
        raise RuntimeError(
            f"expected tables in {SCHEMA!r}; current_schema={current!r}, found there {placed}"
        )
    say(f"verified: connections use search_path {SCHEMA}, migrations created tables there")
