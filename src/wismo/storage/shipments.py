"""Shipment repository: set-based reads and writes for the ingestion hot path."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from wismo.domain.commands import CreateShipment
from wismo.domain.milestones import FINAL_MILESTONES, Milestone, Reason
from wismo.domain.model import Location, TrackingEvent
from wismo.domain.status import ShipmentState
from wismo.services.ports import ShipmentRef
from wismo.storage.dialect import insert_for
from wismo.storage.tables import shipment_lines, shipments, tracking_events

# A finished shipment keeps receiving scans by its tracking number for a while (late
# scans, corrections); after this the number is free for the carrier to reuse.
RECYCLE_AFTER = timedelta(days=60)
LABEL_SLACK = timedelta(days=1)

# IN lists are chunked below SQLite's bound-parameter limit and PostgreSQL's sweet spot.
_CHUNK = 900

_STATE_COLUMNS = (
    shipments.c.id,
    shipments.c.milestone,
    shipments.c.reason,
    shipments.c.status_at,
    shipments.c.delivered_at,
    shipments.c.last_event_at,
    shipments.c.last_event_tz,
    shipments.c.last_location,
    shipments.c.last_description,
    shipments.c.carrier_eta_at,
    shipments.c.carrier_eta_set_at,
    shipments.c.event_count,
)


def _chunks(values: Collection[Any]) -> list[list[Any]]:
    items = list(values)
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def state_from_row(row: Any) -> ShipmentState:
    return ShipmentState(
        milestone=Milestone(row.milestone),
        reason=Reason(row.reason),
        status_at=row.status_at,
        delivered_at=row.delivered_at,
        last_event_at=row.last_event_at,
        last_event_tz=row.last_event_tz,
        last_location=row.last_location,
        last_description=row.last_description,
        carrier_eta_at=row.carrier_eta_at,
        carrier_eta_set_at=row.carrier_eta_set_at,
        event_count=row.event_count,
    )


def state_params(state: ShipmentState) -> dict[str, Any]:
    return {
        "milestone": state.milestone.value,
        "reason": state.reason.value,
        "status_at": state.status_at,
        "delivered_at": state.delivered_at,
        "last_event_at": state.last_event_at,
        "last_event_tz": state.last_event_tz,
        "last_location": state.last_location,
        "last_description": state.last_description,
        "carrier_eta_at": state.carrier_eta_at,
        "carrier_eta_set_at": state.carrier_eta_set_at,
        "event_count": state.event_count,
    }


def event_from_row(row: Any) -> TrackingEvent:
    loc = row.location
    return TrackingEvent(
        milestone=Milestone(row.milestone),
        reason=Reason(row.reason),
        occurred_at=row.occurred_at,
        occurred_tz=row.occurred_tz,
        source=row.source,
        received_at=row.received_at,
        raw_code=row.raw_code,
        mapped_by=row.mapped_by,
        description=row.description,
        location=Location(**loc) if loc else None,
        estimated_delivery_at=row.estimated_delivery_at,
    )


def event_params(shipment_id: int, event: TrackingEvent) -> dict[str, Any]:
    loc = event.location
    return {
        "shipment_id": shipment_id,
        "fingerprint": event.fingerprint,
        "milestone": event.milestone.value,
        "reason": event.reason.value,
        "raw_code": event.raw_code,
        "mapped_by": event.mapped_by,
        "description": event.description,
        "location": (
            {
                k: v
                for k, v in (
                    ("city", loc.city),
                    ("region", loc.region),
                    ("postal_code", loc.postal_code),
                    ("country", loc.country),
                    ("facility", loc.facility),
                )
                if v
            }
            if loc
            else None
        ),
        "occurred_at": event.occurred_at,
        "occurred_tz": event.occurred_tz,
        "estimated_delivery_at": event.estimated_delivery_at,
        "source": event.source,
        "received_at": event.received_at,
    }


class SqlShipmentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find_shipments(
        self,
        store_id: int,
        refs: Collection[str],
        tracking: Collection[tuple[str | None, str, datetime]],
    ) -> tuple[dict[str, ShipmentRef], dict[tuple[str | None, str, datetime], ShipmentRef]]:
        cols = (
            shipments.c.id,
            shipments.c.order_id,
            shipments.c.shipment_ref,
            shipments.c.carrier,
            shipments.c.tracking_number,
            shipments.c.milestone,
            shipments.c.status_at,
            shipments.c.created_at,
        )
        by_ref: dict[str, ShipmentRef] = {}
        for chunk in _chunks(refs):
            for row in self._conn.execute(
                select(*cols).where(
                    shipments.c.store_id == store_id, shipments.c.shipment_ref.in_(chunk)
                )
            ):
                by_ref[row.shipment_ref] = _ref(row)
        by_number: dict[tuple[str | None, str, datetime], ShipmentRef] = {}
        if tracking:
            candidates: dict[str, list[Any]] = defaultdict(list)
            numbers = {number for _, number, _ in tracking}
            for chunk in _chunks(numbers):
                for row in self._conn.execute(
                    select(*cols).where(
                        shipments.c.store_id == store_id,
                        shipments.c.tracking_number.in_(chunk),
                    )
                ):
                    candidates[row.tracking_number].append(row)
            for carrier, number, occurred_at in tracking:
                chosen = _pick_current(candidates.get(number, []), carrier, occurred_at)
                if chosen is not None:
                    by_number[(carrier, number, occurred_at)] = _ref(chosen)
        return by_ref, by_number

    def create_shipment(self, order_id: int, command: CreateShipment) -> int:
        stmt = (
            insert_for(self._conn, shipments)
            .values(
                store_id=command.store_id,
                order_id=order_id,
                shipment_ref=command.shipment_ref,
                carrier=command.carrier.lower(),
                service_level=command.service_level,
                tracking_number=command.tracking_number,
                origin_region=command.origin_region,
                created_at=command.created_at,
                # The state comes from events only; the caller records "label created".
                **state_params(ShipmentState()),
            )
            .on_conflict_do_update(
                index_elements=["store_id", "shipment_ref"],
                set_={
                    "tracking_number": command.tracking_number,
                    "carrier": command.carrier.lower(),
                    "service_level": command.service_level,
                },
            )
            .returning(shipments.c.id)
        )
        shipment_id = int(self._conn.execute(stmt).scalar_one())
        if command.lines:
            ins = insert_for(self._conn, shipment_lines)
            self._conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["shipment_id", "line_ref"],
                    set_={"quantity": ins.excluded.quantity},
                ),
                [
                    {"shipment_id": shipment_id, "line_ref": ln.line_ref, "quantity": ln.quantity}
                    for ln in command.lines
                ],
            )
        return shipment_id

    def load_states(self, shipment_ids: Collection[int]) -> dict[int, ShipmentState]:
        result: dict[int, ShipmentState] = {}
        # Sorted ids and row locks on PostgreSQL: two workers applying scans to the same
        # shipment serialise instead of overwriting each other's state, and lock in the same
        # order so they cannot deadlock. SQLite's writer lock already serialises.
        lock = self._conn.dialect.name == "postgresql"
        for chunk in _chunks(sorted(shipment_ids)):
            query = select(*_STATE_COLUMNS).where(shipments.c.id.in_(chunk))
            if lock:
                query = query.order_by(shipments.c.id).with_for_update()
            for row in self._conn.execute(query):
                result[row.id] = state_from_row(row)
        return result

    def load_events(self, shipment_ids: Collection[int]) -> dict[int, list[TrackingEvent]]:
        result: dict[int, list[TrackingEvent]] = defaultdict(list)
        for chunk in _chunks(shipment_ids):
            for row in self._conn.execute(
                select(tracking_events).where(tracking_events.c.shipment_id.in_(chunk))
            ):
                result[row.shipment_id].append(event_from_row(row))
        return dict(result)

    def add_events(self, events: Sequence[tuple[int, TrackingEvent]]) -> set[tuple[int, str]]:
        if not events:
            return set()
        stmt = (
            insert_for(self._conn, tracking_events)
            .on_conflict_do_nothing(index_elements=["shipment_id", "fingerprint"])
            .returning(tracking_events.c.shipment_id, tracking_events.c.fingerprint)
        )
        rows = self._conn.execute(stmt, [event_params(sid, ev) for sid, ev in events])
        return {(r.shipment_id, r.fingerprint) for r in rows}

    def save_states(self, states: Mapping[int, ShipmentState]) -> None:
        if not states:
            return
        params = [{"b_id": sid, **state_params(state)} for sid, state in states.items()]
        stmt = (
            update(shipments)
            .where(shipments.c.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in state_params(ShipmentState())})
        )
        self._conn.execute(stmt, params)


def _ref(row: Any) -> ShipmentRef:
    return ShipmentRef(
        id=row.id,
        order_id=row.order_id,
        shipment_ref=row.shipment_ref,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
    )


def _pick_current(rows: list[Any], carrier: str | None, occurred_at: datetime) -> Any | None:
    """The shipment a scan for this tracking number belongs to.

    Carriers recycle numbers, so the number alone is not a key: the shipment must be of the
    same carrier (when the source names one), must exist by the time of the scan (with a day
    of slack for clocks and labels printed after the first scan), and must not have finished
    long before it. Of those, the newest.
    """
    wanted = carrier.lower() if carrier else None
    live = [
        r
        for r in rows
        if (wanted is None or r.carrier == wanted)
        and r.created_at - LABEL_SLACK <= occurred_at
        and not (
            r.milestone in FINAL_MILESTONES
            and r.status_at is not None
            and occurred_at - r.status_at > RECYCLE_AFTER
        )
    ]
    return max(live, key=lambda r: (r.created_at, r.id)) if live else None
