"""Composition root: the only place that picks concrete adapters.

Entry points (web, cli, demo, bench) call `bootstrap()`; tests call it with their own
settings and clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Engine, select

from wismo.config import Settings
from wismo.ingestion.aggregators import aftership, easypost, shippo
from wismo.ingestion.canonical import CanonicalParser
from wismo.ingestion.carriers.clients import HttpTrackingFetcher
from wismo.ingestion.carriers.ingest import CarrierResponseParser
from wismo.ingestion.registry import ParserRegistry
from wismo.ingestion.shopify import OrderClues, ShopifyParser
from wismo.services.ingest import Ingestor
from wismo.services.polling import Poller, StalenessReport
from wismo.services.ports import TrackingFetcher
from wismo.services.status import StatusService
from wismo.storage.engine import make_engine
from wismo.storage.migrate import upgrade
from wismo.storage.polling import SqlPolling
from wismo.storage.stores import KeyVerifier
from wismo.storage.tables import order_lines, orders, returns, stores
from wismo.storage.uow import SqlUnitOfWorkFactory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wismo:
    settings: Settings
    engine: Engine
    uow_factory: SqlUnitOfWorkFactory
    ingestor: Ingestor
    status: StatusService
    keys: KeyVerifier
    clock: Callable[[], datetime]
    parsers: ParserRegistry

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    migrate: bool = True,
) -> Wismo:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    uow_factory = SqlUnitOfWorkFactory(engine)

    @lru_cache(maxsize=1024)
    def region_of(store_id: int) -> str | None:
        with engine.connect() as conn:
            country = conn.execute(
                select(stores.c.country).where(stores.c.id == store_id)
            ).scalar_one_or_none()
        return str(country) if country else None

    parsers = ParserRegistry({"canonical": CanonicalParser(region_of, clock)})
    parsers.register("carrier", CarrierResponseParser(clock))
    parsers.register("easypost", easypost.EasyPostParser(clock))
    parsers.register("aftership", aftership.AfterShipParser(clock))
    parsers.register("shippo", shippo.ShippoParser(clock))

    def shopify_order(store_id: int, clues: OrderClues) -> str | None:
        """The store's order a Shopify refund or return belongs to (docs/adr/0006)."""
        query = select(orders.c.order_number).where(orders.c.store_id == store_id).limit(1)
        tries = (
            (orders.c.order_number, clues.numbers, query),
            (returns.c.return_ref, clues.return_refs, query.join(returns)),
            (order_lines.c.line_ref, clues.line_refs, query.join(order_lines)),
        )
        with engine.connect() as conn:
            for column, wanted, base in tries:
                found = conn.execute(base.where(column.in_(wanted))).scalar() if wanted else None
                if found is not None:
                    return str(found)
        return None

    parsers.register("shopify", ShopifyParser(region_of, clock, shopify_order))
    return Wismo(
        settings=settings,
        engine=engine,
        uow_factory=uow_factory,
        ingestor=Ingestor(uow_factory, parsers, clock),
        parsers=parsers,
        status=StatusService(uow_factory, clock),
        keys=KeyVerifier(engine),
        clock=clock,
    )


def make_poller(w: Wismo, fetcher: TrackingFetcher | None = None) -> Poller:
    """The carrier poller over this Wismo's database, pulling with the HTTP clients."""
    return Poller(
        SqlPolling(w.engine),
        fetcher or HttpTrackingFetcher(),
        w.ingestor,
        w.uow_factory,
        w.clock,
    )


def staleness_report(w: Wismo) -> StalenessReport:
    """How old open shipments' carrier data is, per carrier (CLI and API)."""
    return StalenessReport(SqlPolling(w.engine), w.clock)
