"""The sweeper over a real database: findings, estimates and their revisions, the schedule,
and concurrent sweepers (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update

from wismo.bootstrap import Wismo, make_sweeper
from wismo.services.sweep import Sweeper, SweepReport
from wismo.storage.sweep import SqlSweepRepository
from wismo.storage.tables import shipment_timeline, shipments
from wismo.testing import FakeClock, encode, order_created, shipment_created, tracking

MON = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)  # Monday, 09:00 in New York


def ingest(w: Wismo, store_id: int, *events: dict[str, Any]) -> None:
    results = w.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results


def order_with_label(
    w: Wismo, store_id: int, number: str, *, promised: tuple[str | None, str] | None = None
) -> None:
    ingest(
        w,
        store_id,
        order_created(number, placed_at=MON, promised=promised),
        shipment_created(number, f"{number}-A", created_at=MON + timedelta(hours=1)),
        tracking("label_created", MON + timedelta(hours=1), shipment_ref=f"{number}-A"),
    )


def timeline(w: Wismo, kind: str | None = None) -> list[Any]:
    query = select(shipment_timeline).order_by(shipment_timeline.c.id)
    if kind:
        query = query.where(shipment_timeline.c.kind == kind)
    with w.engine.connect() as conn:
        return list(conn.execute(query).all())


def shipment_row(w: Wismo, ref: str) -> Any:
    with w.engine.connect() as conn:
        return conn.execute(select(shipments).where(shipments.c.shipment_ref == ref)).one()


def make_due(w: Wismo, now: datetime) -> None:
    with w.engine.begin() as conn:
        conn.execute(update(shipments).values(next_check_at=now))


def test_label_without_a_scan_is_found_on_the_second_business_day_once(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    order_with_label(wismo, store_id, "1001")
    sweeper = make_sweeper(wismo)

    clock.now = MON + timedelta(days=1)  # Tuesday: one business day, not yet stuck
    assert sweeper.sweep().checked == 1
    assert timeline(wismo) == []
    row = shipment_row(wismo, "1001-A")
    # Looked at again when Wednesday begins in the zone of the scan (reported in UTC).
    assert row.next_check_at == datetime(2026, 11, 18, 0, 0, tzinfo=UTC)

    clock.now = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
    report = sweeper.sweep()
    assert (report.checked, report.findings) == (1, 1)
    [found] = timeline(wismo)
    assert (found.kind, found.code) == ("exception", "stuck_label_created")

    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    [package] = answer.packages
    assert [a.code for a in package.alerts] == ["stuck_label_created"]
    assert package.problem is not None
    assert "UPS has not scanned" in package.problem.text
    [item] = answer.timeline
    assert (item.shipment_ref, item.kind, item.code) == (
        "1001-A",
        "exception",
        "stuck_label_created",
    )
    assert item.at == clock.now

    # Not due again; and forced due, the same occurrence is not recorded twice.
    assert sweeper.sweep().checked == 0
    make_due(wismo, clock.now)
    assert sweeper.sweep().findings == 0
    assert len(timeline(wismo)) == 1

    # The carrier's first scan: due at once, the finding is no longer current.
    clock.now = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    ingest(wismo, store_id, tracking("picked_up", clock.now, shipment_ref="1001-A"))
    assert shipment_row(wismo, "1001-A").next_check_at == clock.now
    assert sweeper.sweep().checked == 1
    row = shipment_row(wismo, "1001-A")
    assert row.open_findings == []
    assert row.handed_over_at == clock.now
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    assert answer.packages[0].alerts == ()


def test_carrier_estimate_revised_without_a_new_scan(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    order_with_label(wismo, store_id, "2001", promised=(None, "2026-11-24"))
    scan_at = MON + timedelta(days=1)
    first_eta = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    ingest(
        wismo,
        store_id,
        tracking(
            "in_transit",
            scan_at,
            shipment_ref="2001-A",
            city="Memphis",
            estimated_delivery_at=first_eta,
            id_="scan-1",
        ),
    )
    sweeper = make_sweeper(wismo)
    clock.now = scan_at + timedelta(hours=2)
    sweeper.sweep()
    assert timeline(wismo, "estimate_revised") == []
    row = shipment_row(wismo, "2001-A")
    assert (row.first_estimate_on, row.first_estimate_source) == (date(2026, 11, 23), "carrier")

    # The same scan (same fingerprint) comes back with a later date under another id.
    later_eta = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    ingest(
        wismo,
        store_id,
        tracking(
            "in_transit",
            scan_at,
            shipment_ref="2001-A",
            city="Memphis",
            estimated_delivery_at=later_eta,
            id_="scan-1-again",
        ),
    )
    answer = wismo.status.by_number(store_id, "2001")
    assert answer is not None
    estimate = answer.packages[0].estimate
    assert estimate is not None
    assert (estimate.to_on, estimate.source) == (date(2026, 11, 27), "carrier")
    assert answer.late  # the carrier now expects it after the promised day

    clock.now += timedelta(minutes=5)
    report = sweeper.sweep()
    assert report.checked == 1
    [revised] = timeline(wismo, "estimate_revised")
    assert revised.code == "carrier"
    answer = wismo.status.by_number(store_id, "2001")
    assert answer is not None
    texts = [i.text for i in answer.timeline if i.kind == "estimate_revised"]
    assert texts == ["UPS: expected delivery moved later from 2026-11-23 to 2026-11-27."]
    assert revised.detail == {"from": "2026-11-23", "to": "2026-11-27", "direction": "later"}
    codes = {r.code for r in timeline(wismo, "exception")}
    assert {"carrier_estimate_slipped", "predicted_late"} <= codes
    row = shipment_row(wismo, "2001-A")
    # First and latest estimate are both kept.
    assert row.first_estimate_on == date(2026, 11, 23)
    assert row.estimate_on == date(2026, 11, 27)


def test_late_against_the_promise(wismo: Wismo, store_id: int, clock: FakeClock) -> None:
    order_with_label(wismo, store_id, "3001", promised=("2026-11-20", "2026-11-24"))
    ingest(
        wismo,
        store_id,
        tracking("picked_up", MON + timedelta(hours=5), shipment_ref="3001-A"),
        tracking("in_transit", datetime(2026, 11, 24, 9, tzinfo=UTC), shipment_ref="3001-A"),
    )
    sweeper = make_sweeper(wismo)
    clock.now = datetime(2026, 11, 24, 18, tzinfo=UTC)
    sweeper.sweep()
    assert "late" not in {r.code for r in timeline(wismo)}
    # The day after the promise begins in New York.
    assert shipment_row(wismo, "3001-A").next_check_at <= datetime(2026, 11, 25, 5, tzinfo=UTC)
    clock.now = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)
    sweeper.sweep()
    assert "late" in {r.code for r in timeline(wismo, "exception")}
    answer = wismo.status.by_number(store_id, "3001")
    assert answer is not None
    assert answer.late


def test_wismo_window_learned_from_the_stores_deliveries(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    # 40 past orders, each delivered three business days after it was placed.
    start = datetime(2026, 10, 5, 14, tzinfo=UTC)  # a Monday
    events: list[dict[str, Any]] = []
    for i in range(40):
        placed = start + timedelta(days=7 * (i // 5) + i % 5)
        number = f"H{i}"
        events += [
            order_created(number, placed_at=placed),
            shipment_created(number, f"{number}-A", created_at=placed + timedelta(hours=2)),
            tracking("picked_up", placed + timedelta(hours=6), shipment_ref=f"{number}-A"),
            tracking("delivered", placed + timedelta(days=3), shipment_ref=f"{number}-A")
            if i % 5 < 2
            else tracking("delivered", placed + timedelta(days=5), shipment_ref=f"{number}-A"),
        ]
    ingest(wismo, store_id, *events)
    order_with_label(wismo, store_id, "4001")  # placed Monday 16 Nov
    clock.now = MON + timedelta(hours=3)
    sweeper = make_sweeper(wismo)
    sweeper.sweep(limit=100)

    answer = wismo.status.by_number(store_id, "4001")
    assert answer is not None
    estimate = answer.packages[0].estimate
    assert estimate is not None
    assert estimate.source == "wismo"
    assert estimate.likely_on == date(2026, 11, 19)  # Monday + 3 business days
    assert estimate.confidence == 0.8
    assert estimate.from_on is not None
    assert estimate.from_on <= estimate.likely_on <= estimate.to_on
    row = shipment_row(wismo, "4001-A")
    assert row.predicted_basis in ("carrier", "service", "all", "lane")


def test_concurrent_sweepers_never_record_a_finding_twice(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    for i in range(40):
        order_with_label(wismo, store_id, f"C{i}")
    clock.now = datetime(2026, 11, 19, 12, tzinfo=UTC)  # every label is stuck by now
    reports: list[SweepReport] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            sweeper = make_sweeper(wismo, batch_size=5)
            barrier.wait()
            reports.append(sweeper.sweep())
        except BaseException as exc:  # reported below; a thread cannot raise into pytest
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(r.checked for r in reports) == 40
    assert sum(r.findings for r in reports) == 40
    with wismo.engine.connect() as conn:
        rows = conn.execute(
            select(shipment_timeline.c.shipment_id, func.count())
            .group_by(shipment_timeline.c.shipment_id)
            .having(func.count() > 1)
        ).all()
        total = conn.execute(text("SELECT count(*) FROM shipment_timeline")).scalar_one()
    assert rows == []
    assert total == 40


def test_carrier_estimate_jumping_back_and_forth(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """Each move is a revision; only moves later are slips; nothing breaks."""
    order_with_label(wismo, store_id, "5001", promised=(None, "2026-11-30"))
    sweeper = make_sweeper(wismo)
    scan_at = MON + timedelta(days=1)
    etas = ["2026-11-20", "2026-11-24", "2026-11-20", "2026-11-24"]
    for i, eta in enumerate(etas):
        ingest(
            wismo,
            store_id,
            tracking(
                "in_transit",
                scan_at,
                shipment_ref="5001-A",
                estimated_delivery_at=datetime.fromisoformat(eta + "T20:00:00+00:00"),
                id_=f"poll-{i}",
            ),
        )
        clock.now = scan_at + timedelta(hours=1 + i)
        sweeper.sweep()
    revisions = [(r.detail["from"], r.detail["to"]) for r in timeline(wismo, "estimate_revised")]
    assert revisions == [
        ("2026-11-20", "2026-11-24"),
        ("2026-11-24", "2026-11-20"),
        ("2026-11-20", "2026-11-24"),
    ]
    slips = [r.key for r in timeline(wismo, "exception") if r.code == "carrier_estimate_slipped"]
    # The same slip (20th -> 24th) seen twice is one occurrence.
    assert len(slips) == 1


def test_country_without_holiday_data_and_no_history(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    ingest(
        wismo,
        store_id,
        order_created(
            "6001",
            placed_at=MON,
            shipping_address={"country": "AQ", "postal_code": "BIQQ 1ZZ"},
        ),
        shipment_created("6001", "6001-A", created_at=MON),
        tracking("label_created", MON, shipment_ref="6001-A"),
    )
    clock.now = MON + timedelta(days=7)
    report = make_sweeper(wismo).sweep()
    assert report.checked == 1
    assert {r.code for r in timeline(wismo, "exception")} == {"stuck_label_created"}
    row = shipment_row(wismo, "6001-A")
    assert row.predicted_on is None  # no delivery history: no made-up window
    answer = wismo.status.by_number(store_id, "6001")
    assert answer is not None
    assert answer.packages[0].estimate is None


def test_bad_thresholds_stop_the_sweeper_with_the_key_named(
    wismo: Wismo, monkeypatch: Any, tmp_path: Any
) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415 - only this test drives the CLI

    from wismo.cli.main import app  # noqa: PLC0415

    monkeypatch.setenv("WISMO_DATABASE_URL", wismo.settings.database_url)
    monkeypatch.setenv(
        "WISMO_EXCEPTION_THRESHOLDS", '{"carriers": {"ups": {"label_no_scan_days": 2}}}'
    )
    result = CliRunner().invoke(app, ["sweep", "--once"])
    assert result.exit_code == 1
    assert "label_no_scan_days" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("WISMO_EXCEPTION_THRESHOLDS", "{}")
    result = CliRunner().invoke(app, ["sweep", "--once"])
    assert result.exit_code == 0, result.output
    assert "checked=0" in result.output


def test_split_order_with_one_package_stalled(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    ingest(
        wismo,
        store_id,
        order_created("7001", placed_at=MON, lines=[("L1", "Mug", 1), ("L2", "Teapot", 1)]),
        shipment_created("7001", "7001-A", created_at=MON, lines=[("L1", 1)]),
        shipment_created("7001", "7001-B", created_at=MON, lines=[("L2", 1)]),
        tracking("picked_up", MON + timedelta(hours=3), shipment_ref="7001-A"),
        tracking("picked_up", MON + timedelta(hours=3), shipment_ref="7001-B"),
        tracking("delivered", MON + timedelta(days=1), shipment_ref="7001-A"),
    )
    sweeper = make_sweeper(wismo)
    clock.now = MON + timedelta(days=2)  # Wednesday: one business day after A arrived
    sweeper.sweep()
    assert "split_stalled" not in {r.code for r in timeline(wismo)}
    clock.now = datetime(2026, 11, 19, 12, tzinfo=UTC)  # Thursday: two business days
    sweeper.sweep()
    found = [r for r in timeline(wismo, "exception") if r.code == "split_stalled"]
    assert [shipment_row(wismo, "7001-B").id] == [r.shipment_id for r in found]
    answer = wismo.status.by_number(store_id, "7001")
    assert answer is not None
    assert answer.headline == "1 of 2 packages delivered"
    # Three business days without a scan: stalled in transit as well.
    assert [a.code for a in answer.packages[1].alerts] == ["no_scan_in_transit", "split_stalled"]
    assert answer.packages[0].alerts == ()


def test_learning_picks_up_new_deliveries_once(wismo: Wismo, store_id: int) -> None:
    """Later reads start at the last learned instant: a delivery recorded afterwards with
    that same instant is learned, and none is learned twice."""
    at = datetime(2026, 11, 2, 15, tzinfo=UTC)

    def delivered(number: str, when: datetime) -> None:
        ingest(
            wismo,
            store_id,
            order_created(number, placed_at=when - timedelta(days=3)),
            shipment_created(number, f"{number}-A", created_at=when - timedelta(days=3)),
            tracking("delivered", when, shipment_ref=f"{number}-A"),
        )

    delivered("L1", at)
    delivered("L2", at + timedelta(hours=1))
    repository = SqlSweepRepository(wismo.engine)
    sweeper = Sweeper(repository, wismo.clock, relearn_seconds=0)
    sweeper.learn([store_id])
    assert sweeper.learned(store_id) == 2
    delivered("L3", at + timedelta(hours=1))  # the same instant as the last one learned
    delivered("L4", at + timedelta(hours=2))
    sweeper.learn([store_id])
    sweeper.learn([store_id])
    assert sweeper.learned(store_id) == 4
