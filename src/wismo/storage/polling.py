"""Carrier polling bookkeeping on shipments (`wismo.services.ports.PollingRepository`).

Not the ingestion hot path: a poller handles a batch every few seconds at most, bounded by
the carriers' rate limits, so these statements use SQLAlchemy Core on both backends.

Each call runs in its own transaction and commits. Claiming is a short transaction that
moves `next_poll_at` of the batch to a lease in the future: on PostgreSQL the rows are
selected `FOR UPDATE SKIP LOCKED`, so concurrent pollers pass over each other's rows instead
of waiting or taking them twice; on SQLite the write transaction (BEGIN IMMEDIATE) already
serialises claims.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from wismo.domain.milestones import FINAL_MILESTONES, Milestone
from wismo.services.ports import CarrierAccount, PollOutcome, PollState, PollTarget
from wismo.storage.tables import integrations, shipments
from wismo.storage.types import UTCDateTime

_PROVIDER_PREFIX = "carrier:"
_FINAL = sorted(m.value for m in FINAL_MILESTONES)
# Open: the carrier may still say something new. An expired shipment is not waited for.
_CLOSED = sorted({*_FINAL, Milestone.EXPIRED.value})
_CHUNK = 900


def polling_enabled(settings: dict[str, object]) -> bool:
    """An integration polls unless its settings say `"polling": false`."""
    value = settings.get("polling", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return bool(value)


class SqlPolling:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _write(self) -> Connection:
        return self._engine.connect().execution_options(wismo_write=True)

    def accounts(self, carriers: Collection[str]) -> list[CarrierAccount]:
        providers = sorted(_PROVIDER_PREFIX + c for c in carriers)
        if not providers:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(integrations)
                .where(integrations.c.provider.in_(providers))
                .order_by(integrations.c.id)
            ).all()
        found: dict[tuple[int, str], CarrierAccount] = {}
        for r in rows:
            carrier = r.provider.removeprefix(_PROVIDER_PREFIX)
            settings = dict(r.settings or {})
            # A store with two accounts at one carrier polls through the first.
            if polling_enabled(settings) and (r.store_id, carrier) not in found:
                found[(r.store_id, carrier)] = CarrierAccount(
                    id=int(r.id),
                    store_id=int(r.store_id),
                    carrier=carrier,
                    account=r.account,
                    credentials=dict(r.credentials or {}),
                    settings=settings,
                )
        return list(found.values())

    def schedule_new(self, accounts: Sequence[CarrierAccount], now: datetime, limit: int) -> int:
        """Never polled (no poll time, never refreshed, no failure), open, with a tracking
        number and an account: due now. A shipment whose polling stopped keeps its
        `refreshed_at` or failure count, so it is not started again."""
        carriers_by_store: dict[int, set[str]] = defaultdict(set)
        for account in accounts:
            carriers_by_store[account.store_id].add(account.carrier)
        total = 0
        with self._write() as conn, conn.begin():
            for store_id, carriers in sorted(carriers_by_store.items()):
                if total >= limit:
                    break
                ids = (
                    select(shipments.c.id)
                    .where(
                        shipments.c.store_id == store_id,
                        shipments.c.carrier.in_(sorted(carriers)),
                        shipments.c.next_poll_at.is_(None),
                        shipments.c.refreshed_at.is_(None),
                        shipments.c.poll_failures == 0,
                        shipments.c.tracking_number.is_not(None),
                        shipments.c.milestone.not_in(_CLOSED),
                    )
                    .order_by(shipments.c.id)
                    .limit(limit - total)
                    # Concurrent pollers seed disjoint rows instead of waiting on (or
                    # deadlocking over) the same ones. Ignored by SQLite.
                    .with_for_update(skip_locked=True)
                )
                chosen = [int(i) for i in conn.execute(ids).scalars()]
                for chunk in _chunks(chosen):
                    conn.execute(
                        update(shipments).where(shipments.c.id.in_(chunk)).values(next_poll_at=now)
                    )
                total += len(chosen)
        return total

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[PollTarget]:
        query = (
            select(
                shipments.c.id,
                shipments.c.store_id,
                shipments.c.carrier,
                shipments.c.tracking_number,
                shipments.c.poll_failures,
                shipments.c.last_poll_error,
                shipments.c.milestone,
                shipments.c.created_at,
                shipments.c.status_at,
                shipments.c.last_event_at,
                shipments.c.carrier_eta_at,
            )
            .where(shipments.c.next_poll_at.is_not(None), shipments.c.next_poll_at <= now)
            .order_by(shipments.c.next_poll_at, shipments.c.id)
            .limit(limit)
            # Ignored by SQLite, whose write lock is already exclusive.
            .with_for_update(skip_locked=True)
        )
        with self._write() as conn, conn.begin():
            rows = conn.execute(query).all()
            ids = [int(r.id) for r in rows]
            for chunk in _chunks(ids):
                conn.execute(
                    update(shipments)
                    .where(shipments.c.id.in_(chunk))
                    .values(next_poll_at=lease_until)
                )
        return [
            PollTarget(
                shipment_id=int(r.id),
                store_id=int(r.store_id),
                carrier=r.carrier,
                tracking_number=r.tracking_number or "",
                poll_failures=int(r.poll_failures or 0),
                last_poll_error=r.last_poll_error,
                state=_state(r),
            )
            for r in rows
        ]

    def poll_states(self, shipment_ids: Collection[int]) -> dict[int, PollState]:
        found: dict[int, PollState] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(shipment_ids)):
                for r in conn.execute(
                    select(
                        shipments.c.id,
                        shipments.c.milestone,
                        shipments.c.created_at,
                        shipments.c.status_at,
                        shipments.c.last_event_at,
                        shipments.c.carrier_eta_at,
                    ).where(shipments.c.id.in_(chunk))
                ):
                    found[int(r.id)] = _state(r)
        return found

    def record(self, outcomes: Sequence[PollOutcome]) -> None:
        if not outcomes:
            return
        stmt = (
            update(shipments)
            .where(shipments.c.id == bindparam("sid"))
            .values(
                next_poll_at=bindparam("npa", type_=UTCDateTime),
                poll_failures=bindparam("failures"),
                last_poll_error=bindparam("error"),
                refreshed_at=func.coalesce(
                    bindparam("refreshed", type_=UTCDateTime), shipments.c.refreshed_at
                ),
            )
        )
        params = [
            {
                "sid": o.shipment_id,
                "npa": o.next_poll_at,
                "failures": o.poll_failures,
                "error": o.last_poll_error,
                "refreshed": o.refreshed_at,
            }
            for o in sorted(outcomes, key=lambda o: o.shipment_id)  # lock order: by id
        ]
        with self._write() as conn, conn.begin():
            conn.execute(stmt, params)

    def open_shipments(self, store_id: int | None) -> list[tuple[str, datetime, datetime | None]]:
        query = select(shipments.c.carrier, shipments.c.created_at, shipments.c.refreshed_at).where(
            shipments.c.milestone.not_in(_CLOSED)
        )
        if store_id is not None:
            query = query.where(shipments.c.store_id == store_id)
        with self._engine.connect() as conn:
            return [(r.carrier, r.created_at, r.refreshed_at) for r in conn.execute(query)]


def _state(r: Any) -> PollState:
    return PollState(
        milestone=Milestone(r.milestone),
        created_at=r.created_at,
        status_at=r.status_at,
        last_event_at=r.last_event_at,
        carrier_eta_at=r.carrier_eta_at,
    )


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
