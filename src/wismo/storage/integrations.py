"""Integrations: a store's accounts at Shopify, aggregators and carriers.

The webhook signing secret is kept in clear because verifying an HMAC needs it; it is never
logged or returned by the API or CLI listings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from wismo.storage.dialect import insert_for
from wismo.storage.tables import integrations


@dataclass(frozen=True, slots=True)
class Integration:
    id: int
    store_id: int
    provider: str
    account: str
    secret: str | None
    credentials: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def _row(r: Any) -> Integration:
    return Integration(
        r.id, r.store_id, r.provider, r.account, r.secret, dict(r.credentials), dict(r.settings)
    )


def upsert_integration(
    conn: Connection,
    store_id: int,
    provider: str,
    account: str,
    *,
    secret: str | None = None,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> int:
    ins = insert_for(conn, integrations)
    values = {
        "store_id": store_id,
        "provider": provider,
        "account": account,
        "secret": secret,
        "credentials": credentials or {},
        "settings": settings or {},
        "created_at": datetime.now(UTC),
    }
    stmt = (
        ins.values(**values)
        .on_conflict_do_update(
            index_elements=["provider", "account"],
            set_={
                "store_id": ins.excluded.store_id,
                "secret": ins.excluded.secret,
                "credentials": ins.excluded.credentials,
                "settings": ins.excluded.settings,
            },
        )
        .returning(integrations.c.id)
    )
    return int(conn.execute(stmt).scalar_one())


def find_integration(conn: Connection, provider: str, account: str) -> Integration | None:
    row = conn.execute(
        select(integrations).where(
            integrations.c.provider == provider, integrations.c.account == account
        )
    ).first()
    return _row(row) if row else None


def store_integrations(
    conn: Connection, store_id: int, provider: str | None = None
) -> list[Integration]:
    query = select(integrations).where(integrations.c.store_id == store_id)
    if provider is not None:
        query = query.where(integrations.c.provider == provider)
    return [_row(r) for r in conn.execute(query.order_by(integrations.c.id))]
