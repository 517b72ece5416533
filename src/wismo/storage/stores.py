"""Stores and their API keys."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from wismo.services.access import NewKey, Principal, Scope, new_key, secret_matches, split_token
from wismo.storage.tables import api_keys, stores

_UNUSED_HASH = "0" * 64  # compared against when the prefix is unknown, to keep timing flat


def create_store(conn: Connection, slug: str, name: str, country: str, time_zone: str) -> int:
    return int(
        conn.execute(
            stores.insert()
            .values(
                slug=slug,
                name=name,
                country=country.upper(),
                time_zone=time_zone,
                created_at=datetime.now(UTC),
            )
            .returning(stores.c.id)
        ).scalar_one()
    )


def get_store(conn: Connection, slug: str) -> Any | None:
    return conn.execute(select(stores).where(stores.c.slug == slug)).first()


def list_stores(conn: Connection) -> list[Any]:
    return list(conn.execute(select(stores).order_by(stores.c.id)))


def create_key(conn: Connection, store_id: int, scope: Scope, label: str | None = None) -> NewKey:
    key = new_key()
    conn.execute(
        api_keys.insert().values(
            store_id=store_id,
            prefix=key.prefix,
            secret_hash=key.secret_hash,
            scope=scope.value,
            label=label,
            created_at=datetime.now(UTC),
        )
    )
    return key


def list_keys(conn: Connection, store_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(
                api_keys.c.prefix,
                api_keys.c.scope,
                api_keys.c.label,
                api_keys.c.created_at,
                api_keys.c.revoked_at,
            )
            .where(api_keys.c.store_id == store_id)
            .order_by(api_keys.c.id)
        )
    )


def revoke_key(conn: Connection, prefix: str) -> bool:
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return bool(result.rowcount)


class KeyVerifier:
    """Resolves a bearer token to a principal, with a small cache of known-good keys.

    The cache holds (prefix -> hash, store, scope) for a few seconds so a busy ingestion
    endpoint does not read the key table per request; a revoked key stops working within
    `ttl_seconds`.
    """

    def __init__(self, engine: Engine, ttl_seconds: float = 10.0) -> None:
        self._engine = engine
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, str, int, Scope]] = {}

    def verify(self, token: str) -> Principal | None:
        parts = split_token(token)
        if parts is None:
            secret_matches("", _UNUSED_HASH)
            return None
        prefix, secret = parts
        now = time.monotonic()
        cached = self._cache.get(prefix)
        if cached is None or now - cached[0] > self._ttl:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(api_keys.c.secret_hash, api_keys.c.store_id, api_keys.c.scope).where(
                        api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None)
                    )
                ).first()
            if row is None:
                self._cache.pop(prefix, None)
                secret_matches(secret, _UNUSED_HASH)
                return None
            cached = (now, row.secret_hash, row.store_id, Scope(row.scope))
            self._cache[prefix] = cached
        _, secret_hash, store_id, scope = cached
        if not secret_matches(secret, secret_hash):
            return None
        return Principal(store_id=store_id, scope=scope, key_prefix=prefix)
