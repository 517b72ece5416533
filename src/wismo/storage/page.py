"""Reads and writes the tracking page needs beyond the order-status answer: stores by
slug or custom domain, branding, a parcel by tracking number, scans for the timeline, the
customer's notification choices, and the per-store key that signs order links."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from wismo.services.links import derive_store_key
from wismo.storage.tables import customers, integrations, orders, shipments, stores, tracking_events

# The link key lives in the store's integrations as a secret, so it is shared by every
# process on either backend and never appears in `branding` or in output.
LINK_KEY_PROVIDER = "wismo:links"
MAX_SCANS_PER_PARCEL = 50


@dataclass(frozen=True, slots=True)
class PageStore:
    id: int
    slug: str
    name: str
    time_zone: str
    branding: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScanRow:
    shipment_ref: str
    occurred_at: datetime
    occurred_tz: str | None
    milestone: str
    description: str | None
    location: str | None


def _store(row: Any) -> PageStore:
    return PageStore(row.id, row.slug, row.name, row.time_zone, dict(row.branding or {}))


def store_by_slug(conn: Connection, slug: str) -> PageStore | None:
    row = conn.execute(select(stores).where(stores.c.slug == slug)).first()
    return _store(row) if row else None


def store_by_id(conn: Connection, store_id: int) -> PageStore | None:
    row = conn.execute(select(stores).where(stores.c.id == store_id)).first()
    return _store(row) if row else None


def domains(conn: Connection) -> dict[str, str]:
    """Custom domain -> store slug, for every store that has one."""
    out = {}
    for row in conn.execute(select(stores.c.slug, stores.c.branding)):
        domain = (row.branding or {}).get("custom_domain")
        if domain:
            out[str(domain).lower()] = str(row.slug)
    return out


def set_branding(conn: Connection, store_id: int, changes: dict[str, str | None]) -> dict[str, Any]:
    """Merge validated `changes` into the store's branding (None removes a field)."""
    current = conn.execute(select(stores.c.branding).where(stores.c.id == store_id)).scalar()
    merged = {**(current or {}), **changes}
    merged = {k: v for k, v in merged.items() if v is not None}
    conn.execute(update(stores).where(stores.c.id == store_id).values(branding=merged))
    return merged


def parcel_order(conn: Connection, store_id: int, tracking_number: str) -> tuple[int, str] | None:
    """(order id, shipment ref) of the store's latest parcel with this tracking number."""
    row = conn.execute(
        select(shipments.c.order_id, shipments.c.shipment_ref)
        .where(shipments.c.store_id == store_id, shipments.c.tracking_number == tracking_number)
        .order_by(shipments.c.id.desc())
        .limit(1)
    ).first()
    return (int(row.order_id), str(row.shipment_ref)) if row else None


def scans(conn: Connection, store_id: int, order_id: int) -> dict[str, list[ScanRow]]:
    """Each shipment's scans, newest first, at most MAX_SCANS_PER_PARCEL each."""
    rows = conn.execute(
        select(
            shipments.c.shipment_ref,
            tracking_events.c.occurred_at,
            tracking_events.c.occurred_tz,
            tracking_events.c.milestone,
            tracking_events.c.description,
            tracking_events.c.location,
        )
        .join(shipments, shipments.c.id == tracking_events.c.shipment_id)
        .where(shipments.c.order_id == order_id, shipments.c.store_id == store_id)
        .order_by(tracking_events.c.occurred_at.desc(), tracking_events.c.id.desc())
    )
    out: dict[str, list[ScanRow]] = {}
    for r in rows:
        kept = out.setdefault(r.shipment_ref, [])
        if len(kept) < MAX_SCANS_PER_PARCEL:
            kept.append(
                ScanRow(
                    r.shipment_ref,
                    r.occurred_at,
                    r.occurred_tz,
                    r.milestone,
                    r.description,
                    _place(r.location),
                )
            )
    return out


def _place(location: Any) -> str | None:
    if not isinstance(location, dict):
        return None
    parts = [location.get(k) for k in ("city", "region", "country")]
    return ", ".join(str(p) for p in parts if p) or None


def consent(conn: Connection, store_id: int, order_id: int) -> dict[str, bool] | None:
    """The order's customer's consent per channel; None when the order has no customer."""
    row = conn.execute(
        select(customers.c.consent)
        .join(orders, orders.c.customer_id == customers.c.id)
        .where(orders.c.id == order_id, orders.c.store_id == store_id)
    ).first()
    return {str(k): bool(v) for k, v in (row.consent or {}).items()} if row else None


def set_consent(conn: Connection, store_id: int, order_id: int, choice: dict[str, bool]) -> bool:
    """Merge `choice` into the consent of the order's customer; False if there is none."""
    row = conn.execute(
        select(customers.c.id, customers.c.consent)
        .join(orders, orders.c.customer_id == customers.c.id)
        .where(orders.c.id == order_id, orders.c.store_id == store_id)
    ).first()
    if row is None:
        return False
    conn.execute(
        update(customers)
        .where(customers.c.id == row.id)
        .values(consent={**(row.consent or {}), **choice}, updated_at=datetime.now(UTC))
    )
    return True


def link_key(engine: Engine, store_id: int) -> bytes:
    """The store's link-signing key, created on first use (races settle on one row)."""
    query = select(integrations.c.secret).where(
        integrations.c.provider == LINK_KEY_PROVIDER,
        integrations.c.account == f"store:{store_id}",
    )
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    if found:
        return str(found).encode()
    if not _store_exists(engine, store_id):
        raise LookupError(f"no store {store_id}")
    try:
        with engine.begin() as conn:
            conn.execute(
                integrations.insert().values(
                    store_id=store_id,
                    provider=LINK_KEY_PROVIDER,
                    account=f"store:{store_id}",
                    secret=secrets.token_urlsafe(32),
                    credentials={},
                    settings={},
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        pass  # another process created it first; use theirs
    with engine.connect() as conn:
        return str(conn.execute(query).scalar_one()).encode()


def _store_exists(engine: Engine, store_id: int) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).where(stores.c.id == store_id)).scalar())


def link_keys(engine: Engine, secret: str = "") -> Callable[[int], bytes]:
    """Per-store link keys: derived from `WISMO_LINK_SECRET` when set, else each store's
    random key kept in the database. Cached: a key never changes while the process runs."""

    @lru_cache(maxsize=4096)
    def key_for(store_id: int) -> bytes:
        if secret:
            return derive_store_key(secret.encode(), store_id)
        return link_key(engine, store_id)

    return key_for
