"""Ingestion through the inbox into the order record, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import func, select

from wismo.bootstrap import Wismo
from wismo.domain.commands import Command
from wismo.domain.milestones import Milestone, Reason
from wismo.ingestion.canonical import CanonicalParser
from wismo.services.ingest import Ingestor, IngestResult
from wismo.services.ports import Inbound, Parsed, Rejected
from wismo.storage.inbox import SqlInbox
from wismo.storage.tables import customers, inbox, returns, tracking_events
from wismo.testing import (
    FakeClock,
    encode,
    envelope,
    order_created,
    shipment_created,
    tracking,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ingest(w: Wismo, store_id: int, *events: dict[str, Any] | bytes) -> list[IngestResult]:
    return w.ingestor.ingest(store_id, [e if isinstance(e, bytes) else encode(e) for e in events])


def basic_order(w: Wismo, store_id: int, number: str = "1001", **kw: Any) -> None:
    results = ingest(
        w,
        store_id,
        order_created(
            number,
            placed_at=T0,
            lines=[("L1", "Blue mug", 2), ("L2", "Teapot", 1), ("L3", "Tea towel", 1)],
            promised=("2026-11-24", "2026-11-26"),
            **kw,
        ),
        shipment_created(
            number,
            f"{number}-A",
            created_at=T0 + timedelta(hours=20),
            lines=[("L1", 2)],
            tracking_number=f"1ZA{number}",
        ),
        shipment_created(
            number,
            f"{number}-B",
            created_at=T0 + timedelta(hours=22),
            carrier="fedex",
            lines=[("L2", 1)],
            tracking_number=f"FX{number}",
        ),
    )
    assert [r.status for r in results] == ["processed"] * 3


def test_order_with_split_shipments_answers_per_package(wismo: Wismo, store_id: int) -> None:
    """Two packages and an unshipped line: per-package status, contents, order summary."""
    basic_order(wismo, store_id)
    ingest(
        wismo,
        store_id,
        tracking("picked_up", T0 + timedelta(days=1), shipment_ref="1001-A", city="Newark"),
        tracking(
            "delivered",
            T0 + timedelta(days=3),
            shipment_ref="1001-A",
            city="Brooklyn",
            description="Left at front door",
        ),
        tracking(
            "in_transit",
            T0 + timedelta(days=2),
            shipment_ref="1001-B",
            city="Memphis",
            estimated_delivery_at=T0 + timedelta(days=8),
        ),
    )
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    assert answer.summary == "1 of 2 packages delivered; 1 item(s) not shipped yet"
    assert answer.headline == "1 of 2 packages delivered"
    a, b = answer.packages
    assert (a.status, a.carrier_name) == (Milestone.DELIVERED, "UPS")
    assert [(i.title, i.quantity) for i in a.contents] == [("Blue mug", 2)]
    assert a.last_scan is not None
    assert a.last_scan.location == "Brooklyn, US"
    assert a.last_scan.description == "Left at front door"
    assert b.status is Milestone.IN_TRANSIT
    assert b.estimate is not None
    assert b.estimate.source == "carrier"
    assert b.estimate.to_on == date(2026, 11, 28)
    assert b.late  # the carrier's date is after the merchant's promise
    assert answer.late
    assert [(i.title, i.quantity) for i in answer.not_yet_shipped] == [("Tea towel", 1)]
    assert answer.estimate is not None
    assert answer.estimate.to_on == date(2026, 11, 28)


def test_event_for_unknown_order_is_parked_then_applied(wismo: Wismo, store_id: int) -> None:
    """A scan before its shipment, and a shipment before its order, wait and then apply."""
    early = ingest(
        wismo,
        store_id,
        tracking("in_transit", T0 + timedelta(days=1), shipment_ref="2002-A"),
        shipment_created("2002", "2002-A", created_at=T0 + timedelta(hours=3)),
    )
    assert [r.status for r in early] == ["parked", "parked"]
    assert early[0].waiting_for == f"shipment:{store_id}:2002-A"
    with wismo.engine.connect() as conn:
        parked = SqlInbox(conn).list(["parked"], store_id)
    assert len(parked) == 2
    ingest(wismo, store_id, order_created("2002", placed_at=T0))
    answer = wismo.status.by_number(store_id, "2002")
    assert answer is not None
    assert [p.status for p in answer.packages] == [Milestone.IN_TRANSIT]
    with wismo.engine.connect() as conn:
        assert SqlInbox(conn).list(["parked", "dead"], store_id) == []


def test_scan_by_tracking_number_without_carrier(wismo: Wismo, store_id: int) -> None:
    """A source that sends only a tracking number still finds the shipment."""
    basic_order(wismo, store_id)
    [r] = ingest(
        wismo,
        store_id,
        tracking("out_for_delivery", T0 + timedelta(days=2), tracking_number="FX1001"),
    )
    assert r.status == "processed"
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    assert answer.packages[1].status is Milestone.OUT_FOR_DELIVERY


def test_duplicates_by_id_and_by_scan(wismo: Wismo, store_id: int) -> None:
    """Same (source, id) is a duplicate; the same scan under another id is stored once."""
    basic_order(wismo, store_id)
    scan = tracking(
        "in_transit", T0 + timedelta(days=1), shipment_ref="1001-A", raw_code="I1", id_="scan-1"
    )
    first, again = ingest(wismo, store_id, scan, scan)
    assert (first.status, again.status) == ("processed", "duplicate")
    [later] = ingest(wismo, store_id, scan)
    assert later.status == "duplicate"
    other_source = dict(scan, id="poll-77", source="poller")
    [via_poll] = ingest(wismo, store_id, other_source)
    assert via_poll.status == "processed"
    with wismo.engine.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(tracking_events)
            .where(tracking_events.c.raw_code == "I1")
        ).scalar_one()
    assert n == 1


def test_out_of_order_events_give_the_same_status(wismo: Wismo, store_id: int) -> None:
    """Delivered arriving before older scans stays delivered; last scan is the latest."""
    basic_order(wismo, store_id)
    ingest(
        wismo,
        store_id,
        tracking("delivered", T0 + timedelta(days=3), shipment_ref="1001-A", city="Bronx"),
    )
    ingest(
        wismo,
        store_id,
        tracking("in_transit", T0 + timedelta(days=2), shipment_ref="1001-A", city="Newark"),
        tracking("out_for_delivery", T0 + timedelta(days=2, hours=20), shipment_ref="1001-A"),
    )
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    pkg = answer.packages[0]
    assert pkg.status is Milestone.DELIVERED
    assert pkg.last_scan is not None
    assert pkg.last_scan.location == "Bronx, US"
    assert pkg.delivered_at == T0 + timedelta(days=3)


def test_exception_gives_problem_and_next_step(wismo: Wismo, store_id: int) -> None:
    """A customs hold is the current problem, with what happens next."""
    basic_order(wismo, store_id)
    ingest(
        wismo,
        store_id,
        tracking(
            "exception",
            T0 + timedelta(days=2),
            shipment_ref="1001-B",
            reason="customs_hold",
            raw_code="CH",
        ),
    )
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    assert answer.status is Milestone.EXCEPTION
    assert answer.problem is not None
    assert answer.problem.code == "customs_hold"
    assert "customs" in answer.problem.text
    assert answer.problem.next_step


def test_local_time_of_scan_is_kept(wismo: Wismo, store_id: int) -> None:
    """A scan at 09:14 in Paris is shown as 09:14+01:00, stored as 08:14 UTC."""
    basic_order(wismo, store_id)
    ingest(
        wismo, store_id, tracking("in_transit", "2026-11-22T09:14:00+01:00", shipment_ref="1001-A")
    )
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    assert answer.packages[0].last_scan is not None
    at = answer.packages[0].last_scan.at
    assert at.isoformat() == "2026-11-22T09:14:00+01:00"
    assert at == datetime(2026, 11, 22, 8, 14, tzinfo=UTC)


def test_rejected_payloads_name_fields_and_are_kept(wismo: Wismo, store_id: int) -> None:
    """Bad input of every kind is rejected with the field named and kept as dead."""
    good = tracking("in_transit", T0, shipment_ref="x")
    naive = tracking("in_transit", "2026-11-22T09:14:00", shipment_ref="x")
    wrong_type = order_created("9", placed_at=T0)
    wrong_type["data"]["lines"][0]["quantity"] = "many"
    missing = envelope("order.created", {"placed_at": T0.isoformat()})
    unknown_type = envelope("parcel.teleported", {})
    cases: list[tuple[bytes, list[Any]]] = [
        (b"{not json", []),
        (b"\xff\xfe\x00garbage", []),
        (encode(naive), ["data", "occurred_at"]),
        (encode(wrong_type), ["data", "lines", 0, "quantity"]),
        (encode(missing), ["data", "order_number"]),
        (encode(unknown_type), ["type"]),
        (b"[1, 2, 3]", []),
    ]
    results = ingest(wismo, store_id, *[body for body, _ in cases], encode(good))
    for (_, loc), result in zip(cases, results, strict=False):
        assert result.status == "rejected", result
        assert result.inbox_id is not None
        assert any(e["loc"] == loc for e in result.errors), (loc, result.errors)
    assert results[-1].status == "parked"
    naive_msg = results[2].errors[0]["msg"]
    assert isinstance(naive_msg, str)
    assert "time zone" in naive_msg
    with wismo.engine.connect() as conn:
        dead = SqlInbox(conn).list(["dead"], store_id)
        bodies = {bytes(r.body) for r in conn.execute(select(inbox.c.body))}
    assert len(dead) == len(cases)
    assert b"\xff\xfe\x00garbage" in bodies  # stored byte for byte


def test_corrected_resend_of_a_rejected_event_is_accepted(wismo: Wismo, store_id: int) -> None:
    """A rejected event's id is not burnt: the fixed payload with the same id goes in."""
    bad = order_created("77", placed_at=T0)
    bad["data"]["currency"] = "dollars"
    bad["id"] = "order-77"
    [r1] = ingest(wismo, store_id, bad)
    assert r1.status == "rejected"
    assert r1.errors[0]["loc"] == ["data", "currency"]
    good = order_created("77", placed_at=T0)
    good["id"] = "order-77"
    [r2] = ingest(wismo, store_id, good)
    assert r2.status == "processed"


def test_late_order_snapshot_does_not_overwrite_newer(wismo: Wismo, store_id: int) -> None:
    """Order updates are ordered by the source's updated_at, not by arrival."""
    ingest(
        wismo,
        store_id,
        order_created(
            "3003", placed_at=T0, email="new@example.com", updated_at=T0 + timedelta(hours=5)
        ),
    )
    stale = order_created(
        "3003", placed_at=T0, email="old@example.com", updated_at=T0 + timedelta(hours=1)
    )
    stale["type"] = "order.updated"
    [r] = ingest(wismo, store_id, stale)
    assert r.status == "processed"
    assert wismo.status.lookup(store_id, "3003", email="new@example.com") is not None
    assert wismo.status.lookup(store_id, "3003", email="old@example.com") is None


def test_cancellation_before_the_order_arrives(wismo: Wismo, store_id: int) -> None:
    """A cancellation that overtakes its order waits, then cancels it."""
    cancel = envelope(
        "order.cancelled",
        {"order_number": "4004", "cancelled_at": T0.isoformat(), "reason": "customer changed mind"},
    )
    [r] = ingest(wismo, store_id, cancel)
    assert r.status == "parked"
    ingest(wismo, store_id, order_created("4004", placed_at=T0 - timedelta(hours=1)))
    answer = wismo.status.by_number(store_id, "4004")
    assert answer is not None
    assert answer.cancelled
    assert answer.status is Milestone.CANCELLED
    assert answer.estimate is None


def test_returns_and_refunds_do_not_regress(wismo: Wismo, store_id: int) -> None:
    """A late 'requested' after 'received' is ignored; refunds carry amount and timing."""
    basic_order(wismo, store_id)

    def ret(state: str, hours: int) -> dict[str, Any]:
        return envelope(
            "return.updated",
            {
                "order_number": "1001",
                "return_ref": "RMA1",
                "state": state,
                "updated_at": (T0 + timedelta(hours=hours)).isoformat(),
                "lines": [{"line_ref": "L1", "quantity": 1}],
                "reason": "too small",
            },
        )

    ingest(wismo, store_id, ret("received", 50))
    ingest(wismo, store_id, ret("requested", 10))
    ingest(
        wismo,
        store_id,
        envelope(
            "refund.created",
            {
                "order_number": "1001",
                "refund_ref": "RF1",
                "amount": "19.99",
                "currency": "USD",
                "state": "processed",
                "processed_at": (T0 + timedelta(hours=60)).isoformat(),
                "updated_at": (T0 + timedelta(hours=60)).isoformat(),
                "return_ref": "RMA1",
            },
        ),
    )
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    [r] = answer.returns
    assert r.state.value == "received"
    assert [(i.title, i.quantity) for i in r.items] == [("Blue mug", 1)]
    [f] = answer.refunds
    assert (f.amount, f.currency, f.state.value) == (Decimal("19.99"), "USD", "processed")
    assert f.expected_by_on == date(2026, 12, 2)
    assert f.expected_by_is_estimate


def test_lookup_needs_a_matching_contact(wismo: Wismo, store_id: int) -> None:
    """Order number plus email, phone or postal code; unknown and mismatch look alike."""
    basic_order(wismo, store_id, phone="(212) 555-0134")
    assert wismo.status.lookup(store_id, "#1001", email="ADA@example.com ") is not None
    assert wismo.status.lookup(store_id, "1001", postal_code=" 10001") is not None
    assert wismo.status.lookup(store_id, "1001", phone="+12125550134") is not None
    assert wismo.status.lookup(store_id, "1001", email="eve@example.com") is None
    assert wismo.status.lookup(store_id, "9999", email="ada@example.com") is None


def test_customer_phone_normalised_with_store_country(wismo: Wismo, store_id: int) -> None:
    """Phones are stored in E.164, read with the store's country when no prefix is given."""
    [r] = ingest(
        wismo,
        store_id,
        envelope(
            "customer.upserted",
            {
                "external_id": "c-1",
                "emails": ["Ada@Example.COM"],
                "phones": ["(212) 555-0134"],
                "consent": {"sms": True},
            },
        ),
    )
    assert r.status == "processed"
    [bad] = ingest(
        wismo,
        store_id,
        envelope(
            "customer.upserted",
            {
                "external_id": "c-2",
                "phones": ["12"],
            },
        ),
    )
    assert bad.status == "rejected"
    assert bad.errors[0]["loc"] == ["data", "phones"]
    with wismo.engine.connect() as conn:
        row = conn.execute(select(customers)).one()
    assert row.phones == ["+12125550134"]
    assert row.emails == ["ada@example.com"]


def test_recycled_tracking_number_goes_to_the_new_shipment(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """A tracking number reused months later is matched to the current shipment."""
    ingest(
        wismo,
        store_id,
        order_created("old", placed_at=T0 - timedelta(days=200)),
        shipment_created(
            "old", "old-A", created_at=T0 - timedelta(days=199), tracking_number="REUSED1"
        ),
        tracking("delivered", T0 - timedelta(days=196), tracking_number="REUSED1"),
        order_created("new", placed_at=T0),
        shipment_created(
            "new", "new-A", created_at=T0 + timedelta(hours=1), tracking_number="REUSED1"
        ),
    )
    ingest(
        wismo, store_id, tracking("in_transit", T0 + timedelta(days=1), tracking_number="REUSED1")
    )
    old = wismo.status.by_number(store_id, "old")
    new = wismo.status.by_number(store_id, "new")
    assert old is not None
    assert new is not None
    assert old.packages[0].status is Milestone.DELIVERED
    assert new.packages[0].status is Milestone.IN_TRANSIT


class _ExplodingParser:
    """Parses like the real one, but turns order 'BOOM' into a command that cannot apply."""

    def __init__(self, real: CanonicalParser) -> None:
        self.real = real

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        parsed = self.real(store_id, inbound)
        if isinstance(parsed, Parsed) and b'"BOOM"' in inbound.body:
            bogus: Command = object()  # type: ignore[assignment]
            return Parsed(parsed.source, parsed.event_id, (bogus,))
        return parsed


def test_processing_failure_isolated_kept_and_replayable(
    wismo: Wismo, store_id: int, clock: FakeClock
) -> None:
    """One failing item does not block its batch; it is dead, listed, and replayable."""
    real = CanonicalParser(lambda _: "US", clock)
    exploding = Ingestor(wismo.uow_factory, _ExplodingParser(real), clock)
    results = exploding.ingest(
        store_id,
        [
            encode(order_created("A1", placed_at=T0)),
            encode(order_created("BOOM", placed_at=T0)),
            encode(order_created("A2", placed_at=T0)),
        ],
    )
    assert [r.status for r in results] == ["processed", "failed", "processed"]
    with wismo.engine.connect() as conn:
        [dead] = SqlInbox(conn).list(["dead"], store_id)
    assert dead["id"] == results[1].inbox_id
    outcome = wismo.ingestor.replay(store_id, [dead["id"]])[dead["id"]]
    assert outcome.status == "processed"
    assert wismo.status.by_number(store_id, "BOOM") is not None


def test_scan_reason_and_milestone_stored(wismo: Wismo, store_id: int) -> None:
    """The normalised milestone, reason and raw carrier code are kept on the event."""
    basic_order(wismo, store_id)
    ingest(
        wismo,
        store_id,
        tracking(
            "delivery_attempt_failed",
            T0 + timedelta(days=2),
            shipment_ref="1001-A",
            reason="recipient_unavailable",
            raw_code="NA",
            description="No one home",
        ),
    )
    with wismo.engine.connect() as conn:
        row = conn.execute(select(tracking_events).where(tracking_events.c.raw_code == "NA")).one()
    assert (row.milestone, row.reason, row.description) == (
        "delivery_attempt_failed",
        Reason.RECIPIENT_UNAVAILABLE.value,
        "No one home",
    )
    assert row.occurred_at == T0 + timedelta(days=2)


def test_batch_of_many_events_for_many_shipments(wismo: Wismo, store_id: int) -> None:
    """A large mixed batch lands: every shipment ends in the right state."""
    events: list[dict[str, Any]] = []
    for i in range(50):
        events.append(order_created(f"B{i}", placed_at=T0))
        events.append(shipment_created(f"B{i}", f"B{i}-S", created_at=T0))
    ingest(wismo, store_id, *events)
    scans: list[bytes] = []
    for i in range(50):
        for h, m in ((30, "delivered"), (5, "picked_up"), (10, "in_transit")):
            scans.append(encode(tracking(m, T0 + timedelta(hours=h + i), shipment_ref=f"B{i}-S")))
    results = wismo.ingestor.ingest(store_id, scans)
    assert {r.status for r in results} == {"processed"}
    for i in (0, 17, 49):
        answer = wismo.status.by_number(store_id, f"B{i}")
        assert answer is not None
        assert answer.status is Milestone.DELIVERED
    body = orjson.loads(scans[0])
    assert body["type"] == "tracking.event"


def test_unknown_format_is_rejected_and_kept(wismo: Wismo, store_id: int) -> None:
    """A payload of a format no parser reads is kept as dead with the format named."""
    [r] = wismo.ingestor.ingest(store_id, [Inbound(b"<x/>", format="nosuch:thing", source="s")])
    assert r.status == "rejected"
    assert r.errors[0]["loc"] == ["format"]
    with wismo.engine.connect() as conn:
        [row] = SqlInbox(conn).list(["dead"], store_id)
    assert (row["format"], row["source"]) == ("nosuch:thing", "s")


def test_item_with_one_unknown_shipment_waits_whole(wismo: Wismo, store_id: int) -> None:
    """A payload with scans for a known and an unknown shipment is parked, then completed."""
    basic_order(wismo, store_id)
    first = tracking("in_transit", T0 + timedelta(days=1), shipment_ref="1001-A")
    second = tracking("in_transit", T0 + timedelta(days=1), shipment_ref="1001-C")
    commands = (*_commands(wismo, store_id, first), *_commands(wismo, store_id, second))
    two_scans = Parsed("multi", "two-scans", commands)
    ingestor = Ingestor(wismo.uow_factory, _Fixed(two_scans), wismo.clock)
    [r] = ingestor.ingest(store_id, [b"two scans"])
    assert (r.status, r.waiting_for) == ("parked", f"shipment:{store_id}:1001-C")
    [s] = ingestor.ingest(
        store_id, [encode(shipment_created("1001", "1001-C", created_at=T0 + timedelta(hours=1)))]
    )
    assert s.status == "processed"
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    by_ref = {p.shipment_ref: p.status for p in answer.packages}
    assert by_ref == {
        "1001-A": Milestone.IN_TRANSIT,
        "1001-B": Milestone.LABEL_CREATED,
        "1001-C": Milestone.IN_TRANSIT,
    }


def _commands(wismo: Wismo, store_id: int, event: dict[str, Any]) -> tuple[Command, ...]:
    parsed = CanonicalParser(lambda _: "US", wismo.clock)(store_id, Inbound(encode(event)))
    assert isinstance(parsed, Parsed)
    return parsed.commands


class _Fixed:
    """Parses a payload of b"two scans" into fixed commands, anything else canonically."""

    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        if inbound.body == b"two scans":
            return self.parsed
        return CanonicalParser(lambda _: "US", FakeClock())(store_id, inbound)


def test_a_parser_that_raises_loses_nothing(wismo: Wismo, store_id: int) -> None:
    """A parser bug gives a dead, replayable item; the rest of the batch goes through."""

    def broken(store_id: int, inbound: Inbound) -> Parsed | Rejected:
        if inbound.body == b"boom":
            raise RuntimeError("parser bug")
        return CanonicalParser(lambda _: "US", FakeClock())(store_id, inbound)

    ingestor = Ingestor(wismo.uow_factory, broken, wismo.clock)
    results = ingestor.ingest(store_id, [b"boom", encode(order_created("P1", placed_at=T0))])
    assert [r.status for r in results] == ["rejected", "processed"]
    assert results[0].errors[0]["type"] == "parser_error"


def test_partial_updates_keep_what_earlier_ones_gave(wismo: Wismo, store_id: int) -> None:
    """A snapshot without tracking number, language or return reason keeps stored ones."""
    basic_order(wismo, store_id)
    later = shipment_created("1001", "1001-A", created_at=T0 + timedelta(hours=20))
    del later["data"]["tracking_number"]
    ingest(wismo, store_id, later)
    ingest(
        wismo,
        store_id,
        envelope(
            "customer.upserted", {"external_id": "c9", "language": "fr", "consent": {"sms": True}}
        ),
        envelope(
            "customer.upserted",
            {"external_id": "c9", "emails": ["x@example.com"], "consent": {"email": True}},
        ),
        envelope(
            "return.created",
            {
                "order_number": "1001",
                "return_ref": "R9",
                "state": "requested",
                "reason": "too small",
                "updated_at": (T0 + timedelta(days=1)).isoformat(),
            },
        ),
        envelope(
            "return.updated",
            {
                "order_number": "1001",
                "return_ref": "R9",
                "state": "closed",
                "updated_at": (T0 + timedelta(days=5)).isoformat(),
            },
        ),
    )
    answer = wismo.status.by_number(store_id, "1001")
    assert answer is not None
    assert answer.packages[0].tracking_number == "1ZA1001"
    with wismo.engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.external_id == "c9")).one()
        reason = conn.execute(select(returns.c.reason, returns.c.state)).one()
    assert (row.language, row.emails, row.consent) == (
        "fr",
        ["x@example.com"],
        {"sms": True, "email": True},
    )
    assert tuple(reason) == ("too small", "closed")


def test_carrier_history_older_than_the_shipment_record(wismo: Wismo, store_id: int) -> None:
    """Scans from a couple of days before the shop recorded the shipment still reach it."""
    ingest(
        wismo,
        store_id,
        order_created("E1", placed_at=T0),
        shipment_created("E1", "E1-A", created_at=T0 + timedelta(days=5), tracking_number="EARLY1"),
    )
    [r] = ingest(
        wismo, store_id, tracking("picked_up", T0 + timedelta(days=3), tracking_number="EARLY1")
    )
    assert r.status == "processed"
    far = ingest(
        wismo, store_id, tracking("picked_up", T0 - timedelta(days=90), tracking_number="EARLY1")
    )
    assert far[0].status == "parked"  # months before: another parcel that had the number
