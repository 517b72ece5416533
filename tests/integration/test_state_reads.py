"""Reading and writing shipment states on the ingestion hot path, on SQLite and PostgreSQL.

On SQLite a state this process wrote is read back from memory when the stored row is
unchanged; these tests hold that shortcut to what a fresh read gives, and check that the
driver-level statements stay inside the unit of work's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select, update

from wismo.bootstrap import Wismo
from wismo.domain.milestones import Milestone, Reason
from wismo.domain.status import ShipmentState
from wismo.storage import shipments as shipment_store
from wismo.storage.tables import inbox, shipments
from wismo.testing import encode, order_created, shipment_created

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BERLIN_WINTER = timezone(timedelta(hours=1))


def _shipment(wismo: Wismo, store_id: int) -> int:
    wismo.ingestor.ingest(
        store_id,
        [
            encode(order_created("5001", placed_at=T0)),
            encode(shipment_created("5001", "5001-A", created_at=T0, tracking_number="1Z5001")),
        ],
    )
    with wismo.engine.connect() as conn:
        return int(conn.execute(select(shipments.c.id)).scalar_one())


def _state(**changes: object) -> ShipmentState:
    fields: dict[str, object] = {
        "milestone": Milestone.IN_TRANSIT,
        "reason": Reason.NONE,
        "status_at": T0 + timedelta(hours=5),
        "last_event_at": T0 + timedelta(hours=5),
        "last_event_tz": "+01:00",
        "last_location": "Leeds, GB",
        "last_description": "Arrived at sort facility",
        "carrier_eta_at": T0 + timedelta(days=2),
        "carrier_eta_set_at": T0 + timedelta(hours=5),
        "event_count": 3,
    }
    fields.update(changes)
    return ShipmentState(**fields)  # type: ignore[arg-type]


def _save(wismo: Wismo, shipment_id: int, state: ShipmentState) -> None:
    with wismo.uow_factory() as uow:
        uow.shipments.save_states({shipment_id: state}, due=T0)
        uow.commit()


def _load(wismo: Wismo, shipment_id: int) -> ShipmentState:
    with wismo.uow_factory() as uow:
        return uow.shipments.load_states([shipment_id])[shipment_id]


def test_a_saved_state_reads_back_equal(wismo: Wismo, store_id: int) -> None:
    shipment_id = _shipment(wismo, store_id)
    state = _state()
    _save(wismo, shipment_id, state)
    assert _load(wismo, shipment_id) == state


def test_a_row_changed_by_another_writer_is_read_afresh(wismo: Wismo, store_id: int) -> None:
    shipment_id = _shipment(wismo, store_id)
    _save(wismo, shipment_id, _state())
    # Another process (a second server, `wismo import`) moves the shipment on.
    with wismo.engine.begin() as conn:
        conn.execute(
            update(shipments)
            .where(shipments.c.id == shipment_id)
            .values(milestone="delivered", event_count=4, delivered_at=T0 + timedelta(days=1))
        )
    loaded = _load(wismo, shipment_id)
    assert loaded.milestone is Milestone.DELIVERED
    assert loaded.event_count == 4
    assert loaded.delivered_at == T0 + timedelta(days=1)


def test_instants_in_another_zone_read_back_in_utc(wismo: Wismo, store_id: int) -> None:
    shipment_id = _shipment(wismo, store_id)
    local = datetime(2026, 11, 20, 14, 0, tzinfo=BERLIN_WINTER)
    _save(wismo, shipment_id, _state(status_at=local, last_event_at=local))
    loaded = _load(wismo, shipment_id)
    # The same instant, and in UTC as any fresh read gives it: notification keys embed
    # `status_at.isoformat()`, so the zone must not depend on who wrote the row.
    assert loaded.status_at == local
    assert loaded.status_at is not None
    assert loaded.status_at.tzinfo is UTC
    assert loaded.status_at.isoformat() == "2026-11-20T13:00:00+00:00"
    if wismo.engine.dialect.name == "sqlite":
        assert shipment_id not in shipment_store._WRITTEN


def test_remembered_states_are_bounded(wismo: Wismo, store_id: int, monkeypatch: object) -> None:
    shipment_id = _shipment(wismo, store_id)
    setattr_ = monkeypatch.setattr  # type: ignore[attr-defined]
    setattr_(shipment_store, "_WRITTEN_MAX", 0)
    _save(wismo, shipment_id, _state())
    _save(wismo, shipment_id, _state(event_count=4))
    assert _load(wismo, shipment_id).event_count == 4
    assert len(shipment_store._WRITTEN) <= 1


def test_driver_statements_after_a_commit_stay_in_a_transaction(
    wismo: Wismo, store_id: int
) -> None:
    """After `commit()` the next transaction begins at the next statement, also when that
    statement goes straight to the driver; an unfinished unit of work still rolls back."""
    with wismo.uow_factory() as uow:
        uow.inbox.add(store_id, [("test", "first", "canonical", b"{}")], T0)
        uow.commit()
        uow.inbox.add(store_id, [("test", "second", "canonical", b"{}")], T0)
        # No commit: leaving the unit of work must undo the second insert.
    with wismo.engine.connect() as conn:
        kept = conn.execute(select(inbox.c.event_id)).scalars().all()
        assert kept == ["first"]
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 1
