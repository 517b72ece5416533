"""The sweeper's reads and writes (`wismo.services.ports.SweepRepository`).

Its cost must grow with the number of shipments due, not the number open: `due` reads
through the `next_check_at` index only, and every other read is keyed by the ids it
returned. One batch is one transaction. On PostgreSQL the due rows are locked `FOR UPDATE
SKIP LOCKED`, so sweepers in several processes take disjoint shipments and never record the
same finding twice (the timeline's unique key would refuse it anyway); on SQLite the write
transaction (BEGIN IMMEDIATE) serialises them. Statements go to the driver, as on the
ingestion path (`bulk`): 10,000 rows through Core's type processing would cost a second.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from wismo.domain.arrival import Place, place_from
from wismo.domain.milestones import MILESTONE_OF, PHASE, REASON_OF, Milestone
from wismo.domain.status import ShipmentState
from wismo.services.ports import (
    CheckResult,
    Delivery,
    DueShipment,
    PlannedFact,
    TimelineEntry,
)
from wismo.storage import bulk
from wismo.storage.notifications import SqlNotificationPlanner
from wismo.storage.shipments import predicted_from

# Milestones that only a carrier's own scan can give: the parcel is in its hands.
_CARRIER_SCANS = tuple(
    sorted(
        m.value
        for m in Milestone
        if PHASE[m] > PHASE[Milestone.LABEL_CREATED] and m is not Milestone.EXPIRED
    )
)

_HANDOVERS = (
    "SELECT shipment_id, MIN(occurred_at) FROM tracking_events"  # noqa: S608 - fixed names
    f" WHERE milestone IN ({','.join(repr(m) for m in _CARRIER_SCANS)})"
    " AND shipment_id {ids} GROUP BY shipment_id"
)

# In-transit scans only: what comes before (label, pickup) cannot be at the destination,
# and later milestones (out for delivery, delivered) are stages of their own.
_TRANSIT_SCANS = (
    "SELECT shipment_id, occurred_at, description, location FROM tracking_events"
    " WHERE milestone = 'in_transit' AND shipment_id {ids}"
)

_DUE = (
    "SELECT s.id, s.store_id, s.order_id, s.carrier, s.service_level, s.origin_region,"
    " s.milestone, s.reason, s.status_at, s.delivered_at, s.last_event_at, s.last_event_tz,"
    " s.carrier_eta_at, s.event_count, s.created_at, s.handed_over_at, s.carrier_eta_seen_on,"
    " s.predicted_from_on, s.predicted_on, s.predicted_to_on, s.predicted_confidence,"
    " s.predicted_basis, s.estimate_on, s.estimate_source, s.first_estimate_on,"
    " s.open_findings, o.placed_at, o.promised_from_on, o.promised_to_on, o.cancelled_at,"
    " o.shipping_address, c.time_zone, st.time_zone,"
    " (SELECT count(*) FROM shipments s2 WHERE s2.order_id = s.order_id), s.arrived_at"
    " FROM shipments s JOIN orders o ON o.id = s.order_id JOIN stores st ON st.id = s.store_id"
    " LEFT JOIN customers c ON c.id = o.customer_id"
    " WHERE s.next_check_at <= {now} ORDER BY s.next_check_at, s.id LIMIT {limit}"
)

_RECORD_SQLITE = (
    "UPDATE shipments SET next_check_at = ?, handed_over_at = COALESCE(handed_over_at, ?),"
    " arrived_at = COALESCE(arrived_at, ?),"
    " predicted_from_on = ?, predicted_on = ?, predicted_to_on = ?, predicted_confidence = ?,"
    " predicted_basis = ?, predicted_at = ?, carrier_eta_seen_on = ?, estimate_on = ?,"
    " estimate_source = ?, first_estimate_on = COALESCE(first_estimate_on, ?),"
    " first_estimate_source = COALESCE(first_estimate_source, ?), open_findings = ?"
    " WHERE id = ?"
)

_RECORD_PG = (
    "UPDATE shipments AS s SET next_check_at = u.a, handed_over_at = COALESCE(s.handed_over_at,"
    " u.b), arrived_at = COALESCE(s.arrived_at, u.arrived), predicted_from_on = u.c,"
    " predicted_on = u.d, predicted_to_on = u.e,"
    " predicted_confidence = u.f, predicted_basis = u.g, predicted_at = u.h,"
    " carrier_eta_seen_on = u.i, estimate_on = u.j, estimate_source = u.k,"
    " first_estimate_on = COALESCE(s.first_estimate_on, u.l),"
    " first_estimate_source = COALESCE(s.first_estimate_source, u.m), open_findings = u.n::json"
    " FROM unnest(%b::timestamptz[], %b::timestamptz[], %b::date[], %b::date[], %b::date[],"
    " %b::float8[], %b::text[], %b::timestamptz[], %b::date[], %b::date[], %b::text[],"
    " %b::date[], %b::text[], %b::text[], %b::bigint[], %b::timestamptz[])"
    " AS u(a, b, c, d, e, f, g, h, i, j, k, l, m, n, id, arrived) WHERE s.id = u.id"
)

_TIMELINE_COLUMNS = "store_id, order_id, shipment_id, kind, code, reason, detail, key, occurred_at"


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _due(r: Any) -> DueShipment:
    instant = bulk.read_instant
    predicted_on = _day(r[18])
    predicted = (
        None
        if predicted_on is None
        else predicted_from(_day(r[17]), predicted_on, _day(r[19]), r[20], r[21])
    )
    address = _json(r[30]) or {}
    findings = r[25]
    return DueShipment(
        id=int(r[0]),
        store_id=int(r[1]),
        order_id=int(r[2]),
        carrier=r[3],
        service_level=r[4],
        origin_region=r[5],
        state=ShipmentState(
            milestone=MILESTONE_OF[r[6]],
            reason=REASON_OF[r[7]],
            status_at=instant(r[8]),
            delivered_at=instant(r[9]),
            last_event_at=instant(r[10]),
            last_event_tz=r[11],
            # Not read by the checks: left out (not even selected), a sweep parses 10,000
            # rows.
            last_location=None,
            last_description=None,
            carrier_eta_at=instant(r[12]),
            carrier_eta_set_at=None,
            event_count=int(r[13]),
        ),
        created_at=instant(r[14]),  # type: ignore[arg-type]
        handed_over_at=instant(r[15]),
        carrier_eta_seen_on=_day(r[16]),
        predicted=predicted,
        estimate_on=_day(r[22]),
        estimate_source=r[23],
        first_estimate_on=_day(r[24]),
        open_findings=_findings(findings) if findings is not None else (),
        placed_at=instant(r[26]),  # type: ignore[arg-type]
        promised_from_on=_day(r[27]),
        promised_to_on=_day(r[28]),
        cancelled=r[29] is not None,
        country=address.get("country"),
        region=address.get("region"),
        zone=r[31] or r[32] or "UTC",
        split=int(r[33]) > 1,
        arrived_at=instant(r[34]),
        destination=place_from(address),
    )


# Stored findings as read (JSON text on SQLite, a list from psycopg) and as written, by the
# codes: a handful of combinations recur all sweep long.
_FINDINGS_READ: dict[str, tuple[str, ...]] = {}
_FINDINGS_TEXT: dict[tuple[str, ...], str] = {}


def _findings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, str):
        return tuple(_json(value) or ())
    found = _FINDINGS_READ.get(value)
    if found is None:
        if len(_FINDINGS_READ) > 10_000:
            _FINDINGS_READ.clear()
        found = _FINDINGS_READ[value] = tuple(orjson.loads(value) or ())
    return found


def _findings_text(codes: tuple[str, ...]) -> str:
    text = _FINDINGS_TEXT.get(codes)
    if text is None:
        if len(_FINDINGS_TEXT) > 10_000:
            _FINDINGS_TEXT.clear()
        text = _FINDINGS_TEXT[codes] = orjson.dumps(list(codes)).decode()
    return text


class _Batch:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = bulk.is_postgres(conn)

    def due(self, now: datetime, limit: int) -> list[DueShipment]:
        if self._pg:
            sql = _DUE.format(now="%s", limit="%s") + " FOR UPDATE OF s SKIP LOCKED"
            params: tuple[Any, ...] = (now, limit)
        else:
            sql = _DUE.format(now="?", limit="?")
            params = (bulk.sqlite_instant(now), limit)
        # On the driver's cursor, in this batch's transaction: plain tuples, not Core rows.
        cursor = self._conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [_due(r) for r in rows]

    def siblings(self, order_ids: Collection[int]) -> dict[int, list[tuple[int, datetime | None]]]:
        found: dict[int, list[tuple[int, datetime | None]]] = {}
        for r in bulk.in_list(
            self._conn,
            "SELECT order_id, id, delivered_at FROM shipments"
            " WHERE milestone != 'cancelled' AND order_id {ids}",
            sorted(order_ids),
        ):
            found.setdefault(int(r[0]), []).append((int(r[1]), bulk.read_instant(r[2])))
        return found

    def handovers(self, shipment_ids: Collection[int]) -> dict[int, datetime]:
        rows = bulk.in_list(self._conn, _HANDOVERS, sorted(shipment_ids))
        return {int(r[0]): when for r in rows if (when := bulk.read_instant(r[1])) is not None}

    def transit_scans(
        self, shipment_ids: Collection[int]
    ) -> dict[int, list[tuple[datetime, str | None, Place | None]]]:
        found: dict[int, list[tuple[datetime, str | None, Place | None]]] = {}
        for r in bulk.in_list(self._conn, _TRANSIT_SCANS, sorted(shipment_ids)):
            when = bulk.read_instant(r[1])
            if when is not None:
                found.setdefault(int(r[0]), []).append((when, r[2], place_from(_json(r[3]))))
        for scans in found.values():
            scans.sort(key=lambda scan: scan[0])
        return found

    def record(self, results: Sequence[CheckResult]) -> dict[str, int]:
        if not results:
            return {}
        rows = [_result_row(r, self._pg) for r in results]
        if self._pg:
            bulk.pg_execute(self._conn, _RECORD_PG, tuple(list(c) for c in zip(*rows, strict=True)))
        else:
            self._conn.exec_driver_sql(_RECORD_SQLITE, rows)
        by_kind: dict[str, list[TimelineEntry]] = {}
        for r in results:
            for e in r.timeline:
                by_kind.setdefault(e.kind, []).append(e)
        return {kind: self._insert_timeline(entries) for kind, entries in by_kind.items()}

    def _insert_timeline(self, entries: list[TimelineEntry]) -> int:
        conn = self._conn
        if self._pg:
            placeholders = ", ".join(["%s"] * 9)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                inserted = 0
                for e in entries:
                    cursor.execute(
                        f"INSERT INTO shipment_timeline ({_TIMELINE_COLUMNS})"  # noqa: S608
                        f" VALUES ({placeholders}) ON CONFLICT (shipment_id, key) DO NOTHING",
                        _timeline_row(e, pg=True),
                    )
                    inserted += cursor.rowcount
                return inserted
            finally:
                cursor.close()
        before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
        conn.exec_driver_sql(
            f"INSERT INTO shipment_timeline ({_TIMELINE_COLUMNS})"  # noqa: S608 - fixed names
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shipment_id, key) DO NOTHING",
            [_timeline_row(e, pg=False) for e in entries],
        )
        after = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
        return int(after) - int(before)

    def notify(self, facts: Sequence[PlannedFact], now: datetime) -> int:
        return SqlNotificationPlanner(self._conn).plan(facts, now) if facts else 0

    def commit(self) -> None:
        # Ends the batch: beginning again would take SQLite's writer lock only for the
        # repository's exit to roll an empty transaction back.
        self._conn.commit()


def _result_row(r: CheckResult, pg: bool) -> tuple[Any, ...]:
    p, shown = r.predicted, r.shown
    shown_on = shown.likely_on if shown else None
    source = shown.source.value if shown else None
    findings = _findings_text(tuple(r.open_findings))
    if pg:
        return (
            r.next_check_at,
            r.handed_over_at,
            p.from_on if p else None,
            p.likely_on if p else None,
            p.to_on if p else None,
            p.confidence if p else None,
            p.basis if p else None,
            r.predicted_at,
            r.carrier_eta_seen_on,
            shown_on,
            source,
            shown_on,
            source,
            findings,
            r.shipment_id,
            r.arrived_at,
        )
    instant, day = bulk.sqlite_instant, _day_text
    shown_text = day(shown_on)
    return (
        instant(r.next_check_at),
        instant(r.handed_over_at),
        instant(r.arrived_at),
        day(p.from_on) if p else None,
        day(p.likely_on) if p else None,
        day(p.to_on) if p else None,
        p.confidence if p else None,
        p.basis if p else None,
        instant(r.predicted_at),
        day(r.carrier_eta_seen_on),
        shown_text,
        source,
        shown_text,
        source,
        findings,
        r.shipment_id,
    )


_DAY_TEXTS: dict[date, str] = {}


def _day_text(day: date | None) -> str | None:
    """ISO text of a date, as SQLite stores it; the same few dates recur all sweep long."""
    if day is None:
        return None
    text = _DAY_TEXTS.get(day)
    if text is None:
        if len(_DAY_TEXTS) > 10_000:
            _DAY_TEXTS.clear()
        text = _DAY_TEXTS[day] = day.isoformat()
    return text


def _timeline_row(e: TimelineEntry, pg: bool) -> tuple[Any, ...]:
    return (
        e.store_id,
        e.order_id,
        e.shipment_id,
        e.kind,
        e.code,
        e.reason,
        orjson.dumps(dict(e.detail)).decode(),
        e.key,
        e.occurred_at if pg else bulk.sqlite_instant(e.occurred_at),
    )


class SqlSweepRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def batch(self) -> Iterator[_Batch]:
        conn = self._engine.connect().execution_options(wismo_write=True)
        try:
            conn.begin()
            yield _Batch(conn)
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.close()

    def deliveries(self, store_id: int, after: datetime | None, limit: int) -> list[Delivery]:
        select_ = (
            "SELECT s.id, s.carrier, s.service_level, s.origin_region, o.shipping_address,"
            " o.placed_at, s.handed_over_at, s.delivered_at, c.time_zone, st.time_zone,"
            " o.promised_to_on, s.arrived_at"
            " FROM shipments s JOIN orders o ON o.id = s.order_id"
            " JOIN stores st ON st.id = s.store_id LEFT JOIN customers c ON c.id = o.customer_id"
            " WHERE s.store_id = ? AND s.delivered_at IS NOT NULL"
        )
        with self._engine.connect() as conn:
            pg = bulk.is_postgres(conn)
            if after is None:
                sql = select_ + " ORDER BY s.delivered_at DESC LIMIT ?"
                params: tuple[Any, ...] = (store_id, limit)
            else:
                sql = select_ + " AND s.delivered_at >= ? ORDER BY s.delivered_at LIMIT ?"
                params = (store_id, after if pg else bulk.sqlite_instant(after), limit)
            if pg:
                sql = sql.replace("?", "%s")
            rows = list(conn.exec_driver_sql(sql, params).fetchall())
        if after is None:
            rows.reverse()
        found = []
        for r in rows:
            address = _json(r[4]) or {}
            found.append(
                Delivery(
                    shipment_id=int(r[0]),
                    carrier=r[1],
                    service_level=r[2],
                    origin_region=r[3],
                    country=address.get("country"),
                    region=address.get("region"),
                    placed_at=bulk.read_instant(r[5]),  # type: ignore[arg-type]
                    handed_over_at=bulk.read_instant(r[6]),
                    delivered_at=bulk.read_instant(r[7]),  # type: ignore[arg-type]
                    zone=r[8] or r[9] or "UTC",
                    promised_to_on=_day(r[10]),
                    arrived_at=bulk.read_instant(r[11]),
                )
            )
        return found

    def timeline(self, store_id: int, order_id: int) -> list[TimelineEntry]:
        with self._engine.connect() as conn:
            return load_timeline(conn, store_id, order_id)


def load_timeline(conn: Connection, store_id: int, order_id: int) -> list[TimelineEntry]:
    sql = (
        f"SELECT {_TIMELINE_COLUMNS} FROM shipment_timeline"  # noqa: S608 - fixed names
        " WHERE order_id = ? AND store_id = ? ORDER BY occurred_at, id"
    )
    if bulk.is_postgres(conn):
        sql = sql.replace("?", "%s")
    return [
        TimelineEntry(
            store_id=int(r[0]),
            order_id=int(r[1]),
            shipment_id=int(r[2]),
            kind=r[3],
            code=r[4],
            reason=r[5],
            detail=_json(r[6]) or {},
            key=r[7],
            occurred_at=bulk.read_instant(r[8]),  # type: ignore[arg-type]
        )
        for r in conn.exec_driver_sql(sql, (order_id, store_id)).fetchall()
    ]
