"""Shipment repository: set-based reads and writes for the ingestion hot path."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from wismo.domain.commands import CreateShipment
from wismo.domain.milestones import (
    FINAL_MILESTONES,
    MILESTONE_OF,
    REASON_OF,
    Milestone,
    Reason,
    canonical_code,
)
from wismo.domain.model import Location, TrackingEvent
from wismo.domain.promise import Predicted
from wismo.domain.status import ShipmentState
from wismo.services.ports import ShipmentRef
from wismo.storage import bulk
from wismo.storage.dialect import insert_for
from wismo.storage.tables import shipment_lines, shipments, unmapped_codes

# A finished shipment keeps receiving scans by its tracking number for a while (late
# scans, corrections); after this the number is free for the carrier to reuse.
RECYCLE_AFTER = timedelta(days=60)
LABEL_SLACK = timedelta(days=1)
# How long before its shipment was recorded a carrier's first scans may be: a shop
# records a fulfilment within hours of the label; anything older is an earlier parcel.
PREDATES = timedelta(days=3)


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


def predicted_from(
    from_on: date | None,
    likely_on: date | None,
    to_on: date | None,
    confidence: float | None,
    basis: str | None,
) -> Predicted | None:
    """Wismo's stored forecast (the `predicted_*` columns), None if there is none."""
    if likely_on is None:
        return None
    return Predicted(
        from_on=from_on or likely_on,
        likely_on=likely_on,
        to_on=to_on or likely_on,
        confidence=float(confidence or 0.0),
        basis=basis or "none",
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


class SqlShipmentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find_shipments(
        self,
        store_id: int,
        refs: Collection[str],
        tracking: Collection[tuple[str | None, str, datetime]],
    ) -> tuple[dict[str, ShipmentRef], dict[tuple[str | None, str, datetime], ShipmentRef]]:
        select_cols = (
            "SELECT id, order_id, shipment_ref, carrier, tracking_number, milestone, status_at,"
            " created_at FROM shipments WHERE store_id = ? AND "
        )
        by_ref: dict[str, ShipmentRef] = {}
        if refs:
            for row in bulk.in_list(
                self._conn, select_cols + "shipment_ref {ids}", list(refs), store_id
            ):
                by_ref[row[2]] = _ref(row)
        by_number: dict[tuple[str | None, str, datetime], ShipmentRef] = {}
        if tracking:
            candidates: dict[str, list[Any]] = defaultdict(list)
            numbers = sorted({number for _, number, _ in tracking})
            for row in bulk.in_list(
                self._conn, select_cols + "tracking_number {ids}", numbers, store_id
            ):
                candidates[row[4]].append(row)
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
                # Due at once: the sweeper starts the forecast and the pre-transit checks.
                next_check_at=command.created_at,
                # The state comes from events only; the caller records "label created".
                **state_params(ShipmentState()),
            )
            .on_conflict_do_update(
                index_elements=["store_id", "shipment_ref"],
                # A later snapshot that lacks a field (a fulfillment before its tracking
                # number was known) must not erase what an earlier one gave.
                set_={
                    "tracking_number": func.coalesce(
                        command.tracking_number, shipments.c.tracking_number
                    ),
                    "carrier": command.carrier.lower(),
                    "service_level": func.coalesce(
                        command.service_level, shipments.c.service_level
                    ),
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
        # Sorted ids and row locks on PostgreSQL: two workers applying scans to the same
        # shipment serialise instead of overwriting each other's state, and lock in the same
        # order so they cannot deadlock. SQLite's writer lock already serialises.
        query = (
            _LOAD_STATES + " ORDER BY id FOR UPDATE"
            if bulk.is_postgres(self._conn)
            else _LOAD_STATES
        )
        rows = bulk.in_list(self._conn, query, sorted(shipment_ids))
        if not bulk.is_postgres(self._conn):
            return _states_from_sqlite(rows)
        return {int(r[0]): _state_of(r) for r in rows}

    def load_events(self, shipment_ids: Collection[int]) -> dict[int, list[TrackingEvent]]:
        result: dict[int, list[TrackingEvent]] = defaultdict(list)
        for r in bulk.in_list(
            self._conn,
            "SELECT shipment_id, milestone, reason, occurred_at, occurred_tz, source,"
            " received_at, raw_code, mapped_by, description, location, estimated_delivery_at"
            " FROM tracking_events WHERE shipment_id {ids}",
            sorted(shipment_ids),
        ):
            loc = r[10]
            if isinstance(loc, str):
                loc = orjson.loads(loc)
            result[int(r[0])].append(
                TrackingEvent(
                    milestone=MILESTONE_OF[r[1]],
                    reason=REASON_OF[r[2]],
                    occurred_at=bulk.read_instant(r[3]),  # type: ignore[arg-type]
                    occurred_tz=r[4],
                    source=r[5],
                    received_at=bulk.read_instant(r[6]),  # type: ignore[arg-type]
                    raw_code=r[7],
                    mapped_by=r[8],
                    description=r[9],
                    location=Location(**loc) if loc else None,
                    estimated_delivery_at=bulk.read_instant(r[11]),
                )
            )
        return dict(result)

    def add_events(self, events: Sequence[tuple[int, TrackingEvent]]) -> set[tuple[int, str]]:
        if not events:
            return set()
        conn = self._conn
        pg = bulk.is_postgres(conn)
        rows = [_event_row(sid, ev) for sid, ev in events] if pg else _sqlite_event_rows(events)
        if pg:
            returned = bulk.pg_execute(
                conn,
                "INSERT INTO tracking_events ("
                "shipment_id, fingerprint, milestone, reason, raw_code, mapped_by, description,"
                " location, occurred_at, occurred_tz, estimated_delivery_at, source, received_at)"
                " SELECT a, b, c, d, e, f, g, h::json, i, j, k, l, m FROM unnest("
                "%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],"
                " %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::timestamptz[],"
                " %b::text[], %b::timestamptz[]) AS t(a, b, c, d, e, f, g, h, i, j, k, l, m)"
                " ON CONFLICT (shipment_id, fingerprint) DO NOTHING"
                " RETURNING shipment_id, fingerprint",
                tuple(list(column) for column in zip(*rows, strict=True)),
            )
        else:
            before = bulk.max_id(conn, "tracking_events")
            bulk.sqlite_many(
                conn,
                "INSERT INTO tracking_events ("
                "shipment_id, fingerprint, milestone, reason, raw_code, mapped_by, description,"
                " location, occurred_at, occurred_tz, estimated_delivery_at, source, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (shipment_id, fingerprint) DO NOTHING",
                rows,
            )
            # sqlite3 gives plain tuples of (int, str): already the set's members.
            return set(
                bulk.sqlite_rows(
                    conn,
                    "SELECT shipment_id, fingerprint FROM tracking_events WHERE id > ?",
                    (before,),
                )
            )
        return {(int(r[0]), r[1]) for r in returned}

    def save_states(self, states: Mapping[int, ShipmentState], due: datetime | None) -> None:
        """Store the states; `due` makes each shipment due for the sweeper (the earlier of
        `due` and the check it already had), None leaves the schedule alone."""
        if not states:
            return
        conn = self._conn
        if bulk.is_postgres(conn):
            columns = list(zip(*(_state_row(s, sid) for sid, s in states.items()), strict=True))
            bulk.pg_execute(
                conn,
                "UPDATE shipments AS s SET milestone = u.a, reason = u.b, status_at = u.c,"
                " delivered_at = u.d, last_event_at = u.e, last_event_tz = u.f,"
                " last_location = u.g, last_description = u.h, carrier_eta_at = u.i,"
                " carrier_eta_set_at = u.j, event_count = u.k,"
                " next_check_at = LEAST(s.next_check_at, %b::timestamptz) FROM unnest("
                "%b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[],"
                " %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],"
                " %b::timestamptz[], %b::int[], %b::bigint[])"
                " AS u(a, b, c, d, e, f, g, h, i, j, k, id) WHERE s.id = u.id",
                (due, *(list(c) for c in columns)),
            )
            return
        due_text = bulk.sqlite_instant(due)
        text, plain = bulk.sqlite_instant, _PLAIN
        # One comprehension, inline: this runs once per changed shipment per batch.
        rows = [
            (
                plain[s.milestone],
                plain[s.reason],
                None if s.status_at is None else text(s.status_at),
                None if s.delivered_at is None else text(s.delivered_at),
                None if s.last_event_at is None else text(s.last_event_at),
                s.last_event_tz,
                s.last_location,
                s.last_description,
                None if s.carrier_eta_at is None else text(s.carrier_eta_at),
                None if s.carrier_eta_set_at is None else text(s.carrier_eta_set_at),
                s.event_count,
                due_text,
                due_text,
                due_text,
                sid,
            )
            for sid, s in states.items()
        ]
        bulk.sqlite_many(conn, _SAVE_STATES_SQLITE, rows)
        _remember_states(states.values(), rows)

    def revise_estimates(self, revised: Sequence[tuple[int, str, datetime]]) -> None:
        """Give stored scans (shipment id, fingerprint) the carrier's new estimate."""
        pg = bulk.is_postgres(self._conn)
        self._conn.exec_driver_sql(
            "UPDATE tracking_events SET estimated_delivery_at = %(eta)s"
            " WHERE shipment_id = %(sid)s AND fingerprint = %(fp)s"
            if pg
            else "UPDATE tracking_events SET estimated_delivery_at = :eta"
            " WHERE shipment_id = :sid AND fingerprint = :fp",
            [
                {"sid": sid, "fp": fp, "eta": eta if pg else bulk.sqlite_instant(eta)}
                for sid, fp, eta in revised
            ],
        )

    def note_unmapped(self, codes: Sequence[tuple[str, str, str | None]], now: datetime) -> None:
        counts: dict[tuple[str, str], tuple[int, str | None]] = {}
        for carrier, code, message in codes:
            key = (carrier, canonical_code(code))
            counts[key] = (counts.get(key, (0, None))[0] + 1, message)
        ins = insert_for(self._conn, unmapped_codes)
        self._conn.execute(
            ins.on_conflict_do_update(
                index_elements=["carrier", "code"],
                set_={
                    "count": unmapped_codes.c.count + ins.excluded.count,
                    "message": func.coalesce(ins.excluded.message, unmapped_codes.c.message),
                    "last_seen_at": ins.excluded.last_seen_at,
                },
            ),
            [
                {
                    "carrier": carrier,
                    "code": code,
                    "message": message,
                    "count": count,
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
                for (carrier, code), (count, message) in sorted(counts.items())
            ],
        )


def list_unmapped(conn: Connection, carrier: str | None = None) -> list[Any]:
    """Unmapped carrier codes, most frequent first."""
    query = select(unmapped_codes)
    if carrier:
        query = query.where(unmapped_codes.c.carrier == carrier)
    return list(conn.execute(query.order_by(unmapped_codes.c.count.desc(), unmapped_codes.c.code)))


_LOAD_STATES = (
    "SELECT id, milestone, reason, status_at, delivered_at, last_event_at, last_event_tz,"
    " last_location, last_description, carrier_eta_at, carrier_eta_set_at, event_count"
    " FROM shipments WHERE id {ids}"
)


# Milestones and reasons as plain text for sqlite3: it binds exact str at once, but sends
# a str subclass (the StrEnum members) through its adapter lookup, several times slower.
_PLAIN: dict[str, str] = {m: m.value for m in (*Milestone, *Reason)}

# Shipment id -> (its row as this process last wrote it, the state it was written from).
# Reading a state back is then a tuple comparison instead of eleven conversions: the row is
# compared whole, so a row another process changed since is converted afresh.
_WRITTEN: dict[int, tuple[tuple[Any, ...], ShipmentState]] = {}
_WRITTEN_MAX = 200_000


def _remember_states(states: Iterable[ShipmentState], rows: Sequence[tuple[Any, ...]]) -> None:
    if len(_WRITTEN) > _WRITTEN_MAX:
        _WRITTEN.clear()
    for state, row in zip(states, rows, strict=True):
        if not _all_utc(state):
            # A fresh read would give UTC instants; a state holding another zone would
            # render differently (notification keys embed `status_at.isoformat()`).
            _WRITTEN.pop(row[-1], None)
            continue
        # The row up to the schedule columns: what `_LOAD_STATES` reads back after the id.
        _WRITTEN[row[-1]] = (row[:11], state)


def _all_utc(state: ShipmentState) -> bool:
    return all(
        moment is None or moment.tzinfo is UTC
        for moment in (
            state.status_at,
            state.delivered_at,
            state.last_event_at,
            state.carrier_eta_at,
            state.carrier_eta_set_at,
        )
    )


def _states_from_sqlite(rows: Iterable[Any]) -> dict[int, ShipmentState]:
    states: dict[int, ShipmentState] = {}
    written = _WRITTEN.get
    for r in rows:
        shipment_id = r[0]
        known = written(shipment_id)
        if known is not None and known[0] == r[1:]:
            states[shipment_id] = known[1]
            continue
        states[shipment_id] = _state_of(r)
    return states


def _state_of(r: Any) -> ShipmentState:
    """From a row of `_LOAD_STATES` (text instants on SQLite, datetimes from psycopg)."""
    return ShipmentState(
        milestone=MILESTONE_OF[r[1]],
        reason=REASON_OF[r[2]],
        status_at=bulk.read_instant(r[3]),
        delivered_at=bulk.read_instant(r[4]),
        last_event_at=bulk.read_instant(r[5]),
        last_event_tz=r[6],
        last_location=r[7],
        last_description=r[8],
        carrier_eta_at=bulk.read_instant(r[9]),
        carrier_eta_set_at=bulk.read_instant(r[10]),
        event_count=int(r[11]),
    )


def _event_row(shipment_id: int, event: TrackingEvent) -> tuple[Any, ...]:
    """A scan as PostgreSQL's columns (psycopg would dump an Enum by its name)."""
    return (
        shipment_id,
        event.fingerprint,
        event.milestone.value,
        event.reason.value,
        event.raw_code,
        event.mapped_by,
        event.description,
        _location_json(event.location),
        event.occurred_at,
        event.occurred_tz,
        event.estimated_delivery_at,
        event.source,
        event.received_at,
    )


def _sqlite_event_rows(events: Sequence[tuple[int, TrackingEvent]]) -> list[tuple[Any, ...]]:
    """Scans as SQLite's columns, one comprehension: this runs once per ingested scan."""
    text, plain = bulk.sqlite_instant, _PLAIN
    return [
        (
            sid,
            ev.fingerprint,
            plain[ev.milestone],
            plain[ev.reason],
            ev.raw_code,
            ev.mapped_by,
            ev.description,
            None if ev.location is None else _location_json(ev.location),
            text(ev.occurred_at),
            ev.occurred_tz,
            None if ev.estimated_delivery_at is None else text(ev.estimated_delivery_at),
            ev.source,
            text(ev.received_at),
        )
        for sid, ev in events
    ]


# next_check_at becomes the earlier of the given instant and the stored one (SQLite's MIN
# of two is NULL if either is); no instant given leaves it, none stored takes the given one.
_SAVE_STATES_SQLITE = (
    "UPDATE shipments SET milestone = ?, reason = ?, status_at = ?, delivered_at = ?,"
    " last_event_at = ?, last_event_tz = ?, last_location = ?, last_description = ?,"
    " carrier_eta_at = ?, carrier_eta_set_at = ?, event_count = ?, next_check_at = CASE"
    " WHEN ? IS NULL THEN next_check_at WHEN next_check_at IS NULL OR next_check_at > ?"
    " THEN ? ELSE next_check_at END WHERE id = ?"
)


def _state_row(state: ShipmentState, shipment_id: int) -> tuple[Any, ...]:
    """A state as PostgreSQL's columns (psycopg would dump an Enum by its name)."""
    return (
        state.milestone.value,
        state.reason.value,
        state.status_at,
        state.delivered_at,
        state.last_event_at,
        state.last_event_tz,
        state.last_location,
        state.last_description,
        state.carrier_eta_at,
        state.carrier_eta_set_at,
        state.event_count,
        shipment_id,
    )


def _location_json(loc: Location | None) -> str | None:
    """A scan's place as JSON text, without the fields the carrier left empty."""
    if loc is None:
        return None
    fields = {
        "city": loc.city,
        "region": loc.region,
        "postal_code": loc.postal_code,
        "country": loc.country,
        "facility": loc.facility,
    }
    return bulk.json_text({k: v for k, v in fields.items() if v})


def _ref(row: Any) -> ShipmentRef:
    """From a row of (id, order_id, shipment_ref, carrier, tracking_number, ...)."""
    return ShipmentRef(
        id=int(row[0]),
        order_id=int(row[1]),
        shipment_ref=row[2],
        carrier=row[3],
        tracking_number=row[4],
    )


def _pick_current(rows: list[Any], carrier: str | None, occurred_at: datetime) -> Any | None:
    """The shipment a scan for this tracking number belongs to.

    Carriers recycle numbers, so the number alone is not a key. Candidates must be of the
    same carrier (when the source names one) and must not have finished long before the
    scan. Of those, the newest one that existed at the scan's time (a day of slack for
    clocks); if the scan predates them all (the carrier's history starts before the shop
    recorded the shipment), the oldest one created within `PREDATES` after the scan.
    """
    wanted = carrier.lower() if carrier else None
    existing, later = [], []
    for r in rows:  # (id, order_id, ref, carrier, number, milestone, status_at, created_at)
        created_at = bulk.read_instant(r[7])
        status_at = bulk.read_instant(r[6])
        if created_at is None or (wanted is not None and r[3] != wanted):
            continue
        if r[5] in FINAL_MILESTONES and status_at and occurred_at - status_at > RECYCLE_AFTER:
            continue
        if created_at - LABEL_SLACK <= occurred_at:
            existing.append((created_at, int(r[0]), r))
        elif created_at - occurred_at <= PREDATES:
            later.append((created_at, int(r[0]), r))
    if existing:
        return max(existing, key=lambda c: (c[0], c[1]))[2]
    return min(later, key=lambda c: (c[0], c[1]))[2] if later else None
