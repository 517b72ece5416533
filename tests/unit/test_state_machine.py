"""The shipment state machine: order-independent, no regressions, explicit reversals."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wismo.domain.milestones import PHASE, Milestone, Phase, Reason
from wismo.domain.model import Location, TrackingEvent
from wismo.domain.status import (
    ShipmentState,
    absorb_late,
    absorbs_late,
    apply,
    can_apply_incrementally,
    fold,
    next_milestone,
    sort_key,
    summarise_order,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SHIPMENT_MILESTONES = [m for m in Milestone if PHASE[m] is not Phase.NONE]


def ev(
    milestone: Milestone, hours: float, reason: Reason = Reason.NONE, code: str | None = None
) -> TrackingEvent:
    return TrackingEvent(
        milestone=milestone,
        occurred_at=T0 + timedelta(hours=hours),
        source="test",
        received_at=T0,
        reason=reason,
        raw_code=code,
        location=Location(city=f"City{int(hours)}"),
    )


def test_happy_path_reaches_delivered() -> None:
    """A normal journey ends delivered with the delivery time recorded."""
    events = [
        ev(Milestone.LABEL_CREATED, 0),
        ev(Milestone.PICKED_UP, 5),
        ev(Milestone.IN_TRANSIT, 20),
        ev(Milestone.OUT_FOR_DELIVERY, 40),
        ev(Milestone.DELIVERED, 45),
    ]
    state = fold(events)
    assert state.milestone is Milestone.DELIVERED
    assert state.delivered_at == T0 + timedelta(hours=45)
    assert state.event_count == 5


def test_informational_scan_after_delivery_keeps_delivered() -> None:
    """A later 'in transit' scan (e.g. a depot clean-up scan) does not hide delivery."""
    state = fold([ev(Milestone.DELIVERED, 10), ev(Milestone.IN_TRANSIT, 30)])
    assert state.milestone is Milestone.DELIVERED
    assert state.last_event_at == T0 + timedelta(hours=30)
    assert state.last_location == "City30"


def test_older_event_arriving_late_never_regresses() -> None:
    """An old 'label created' arriving after a pickup scan changes nothing."""
    state = fold([ev(Milestone.PICKED_UP, 5), ev(Milestone.LABEL_CREATED, 0)])
    assert state.milestone is Milestone.PICKED_UP
    late_label_after = fold([ev(Milestone.PICKED_UP, 5), ev(Milestone.LABEL_CREATED, 9)])
    assert late_label_after.milestone is Milestone.PICKED_UP


def test_failed_attempt_then_back_in_transit_then_delivered() -> None:
    """Within transit the latest event wins: a failed attempt is followed by redelivery."""
    state = fold(
        [
            ev(Milestone.OUT_FOR_DELIVERY, 1),
            ev(Milestone.DELIVERY_ATTEMPT_FAILED, 2, Reason.RECIPIENT_UNAVAILABLE),
        ]
    )
    assert (state.milestone, state.reason) == (
        Milestone.DELIVERY_ATTEMPT_FAILED,
        Reason.RECIPIENT_UNAVAILABLE,
    )
    assert state.has_problem
    state = apply(state, ev(Milestone.IN_TRANSIT, 10))
    assert state.milestone is Milestone.IN_TRANSIT
    assert state.reason is Reason.NONE
    assert not state.has_problem


def test_delivered_then_returned_to_sender_is_a_genuine_reversal() -> None:
    """Delivered, then returning/returned to sender: the reversal is applied."""
    state = fold([ev(Milestone.DELIVERED, 1), ev(Milestone.RETURNING_TO_SENDER, 30)])
    assert state.milestone is Milestone.RETURNING_TO_SENDER
    assert state.delivered_at is None
    state = apply(state, ev(Milestone.RETURNED_TO_SENDER, 60))
    assert state.milestone is Milestone.RETURNED_TO_SENDER


def test_delivered_scan_while_returning_means_returned_to_sender() -> None:
    """A 'delivered' scan on the way back is delivery to the sender."""
    state = fold([ev(Milestone.RETURNING_TO_SENDER, 1), ev(Milestone.DELIVERED, 40)])
    assert state.milestone is Milestone.RETURNED_TO_SENDER
    assert state.delivered_at is None


def test_returned_to_sender_is_final() -> None:
    """Nothing moves a shipment out of returned-to-sender."""
    for m in Milestone:
        assert next_milestone(Milestone.RETURNED_TO_SENDER, m) is Milestone.RETURNED_TO_SENDER


def test_exception_after_delivery_is_informational() -> None:
    """An exception after delivery (e.g. a late damage scan) keeps delivered."""
    state = fold([ev(Milestone.DELIVERED, 1), ev(Milestone.EXCEPTION, 3, Reason.DAMAGED)])
    assert state.milestone is Milestone.DELIVERED


def test_same_instant_more_advanced_wins() -> None:
    """Out for delivery and delivered stamped the same minute: delivered, either order."""
    a = ev(Milestone.DELIVERED, 5)
    b = ev(Milestone.OUT_FOR_DELIVERY, 5)
    assert fold([a, b]).milestone is Milestone.DELIVERED
    assert fold([b, a]).milestone is Milestone.DELIVERED


def test_duplicates_are_counted_once() -> None:
    """The same scan reported twice is one event."""
    state = fold([ev(Milestone.IN_TRANSIT, 1, code="I"), ev(Milestone.IN_TRANSIT, 1, code="I")])
    assert state.event_count == 1


def test_cancelled_label_then_carrier_scan() -> None:
    """A voided label that the carrier scans anyway is in transit: the scan is the truth."""
    state = fold([ev(Milestone.LABEL_CREATED, 0), ev(Milestone.CANCELLED, 1)])
    assert state.milestone is Milestone.CANCELLED
    state = apply(state, ev(Milestone.PICKED_UP, 3))
    assert state.milestone is Milestone.PICKED_UP


def test_carrier_eta_follows_latest_event_that_gives_one() -> None:
    """The carrier's estimate is the one given by the latest event that carries one."""
    e1 = TrackingEvent(
        Milestone.IN_TRANSIT, T0, "c", T0, estimated_delivery_at=T0 + timedelta(days=3)
    )
    e2 = TrackingEvent(
        Milestone.IN_TRANSIT,
        T0 + timedelta(hours=5),
        "c",
        T0,
        raw_code="X",
        estimated_delivery_at=T0 + timedelta(days=5),
    )
    assert fold([e2, e1]).carrier_eta_at == T0 + timedelta(days=5)


def test_incremental_only_for_strictly_newer_events() -> None:
    """`apply` is only used when the event is newer than everything folded."""
    state = fold([ev(Milestone.IN_TRANSIT, 5)])
    assert can_apply_incrementally(state, ev(Milestone.DELIVERED, 6))
    assert not can_apply_incrementally(state, ev(Milestone.DELIVERED, 5))
    assert not can_apply_incrementally(state, ev(Milestone.DELIVERED, 4))
    assert can_apply_incrementally(ShipmentState(), ev(Milestone.DELIVERED, 4))


events_strategy = st.lists(
    st.tuples(
        st.sampled_from(SHIPMENT_MILESTONES),
        st.integers(min_value=0, max_value=40),
        st.sampled_from([Reason.NONE, Reason.WEATHER, Reason.CUSTOMS_HOLD]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False))
def test_fold_is_independent_of_arrival_order_and_duplicates(
    spec: list[tuple[Milestone, int, Reason]], rnd: random.Random
) -> None:
    """Any permutation, with duplicates, folds to the same state."""
    events = [ev(m, h, r, code=f"{m.value}{r.value}") for m, h, r in spec]
    shuffled = events + events[: len(events) // 2]
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(events)


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False))
def test_incremental_path_equals_full_fold(
    spec: list[tuple[Milestone, int, Reason]], rnd: random.Random
) -> None:
    """Arrival-order processing (apply when newer, absorb a harmless late scan, refold
    otherwise) equals a full fold."""
    events = [ev(m, h, r, code=f"{m.value}{r.value}") for m, h, r in spec]
    rnd.shuffle(events)
    seen: dict[str, TrackingEvent] = {}
    state = ShipmentState()
    for event in events:
        if event.fingerprint in seen:
            continue
        seen[event.fingerprint] = event
        if can_apply_incrementally(state, event):
            state = apply(state, event)
        elif absorbs_late(state, event):
            state = absorb_late(state, event)
        else:
            state = fold(seen.values())
    assert state == fold(events)


@settings(max_examples=300, deadline=None)
@given(events_strategy)
def test_no_regression_from_later_phase_to_earlier(
    spec: list[tuple[Milestone, int, Reason]],
) -> None:
    """Once in transit, a shipment never goes back to 'label created' or 'unknown'."""
    events = sorted((ev(m, h, r) for m, h, r in spec), key=sort_key)
    state = ShipmentState()
    for event in events:
        before = state.milestone
        state = apply(state, event)
        if PHASE[before] >= Phase.TRANSIT:
            assert PHASE[state.milestone] >= Phase.TRANSIT


@pytest.mark.parametrize(
    ("milestones", "unshipped", "expected", "delivered"),
    [
        (
            [Milestone.DELIVERED, Milestone.DELIVERED, Milestone.IN_TRANSIT],
            0,
            Milestone.IN_TRANSIT,
            2,
        ),
        ([Milestone.DELIVERED, Milestone.EXCEPTION], 0, Milestone.EXCEPTION, 1),
        ([Milestone.DELIVERED, Milestone.DELIVERED], 0, Milestone.DELIVERED, 2),
        ([Milestone.DELIVERED], 2, Milestone.AWAITING_FULFILMENT, 1),
        ([Milestone.LABEL_CREATED, Milestone.OUT_FOR_DELIVERY], 0, Milestone.LABEL_CREATED, 0),
        ([], 3, Milestone.CONFIRMED, 0),
    ],
)
def test_order_summary_derived_from_shipments(
    milestones: list[Milestone], unshipped: int, expected: Milestone, delivered: int
) -> None:
    """The order's status follows its packages: '2 of 3 delivered', problems lead."""
    summary = summarise_order(
        order_milestone=Milestone.CONFIRMED,
        cancelled=False,
        shipments=[ShipmentState(milestone=m) for m in milestones],
        ordered_quantity=len(milestones) + unshipped,
        shipped_quantity=len(milestones),
    )
    assert summary.milestone is expected
    assert summary.delivered_count == delivered
    assert summary.shipment_count == len(milestones)


def test_cancelled_order_summary() -> None:
    """A cancelled order says cancelled whatever its packages say."""
    summary = summarise_order(
        order_milestone=Milestone.CONFIRMED,
        cancelled=True,
        shipments=[ShipmentState(milestone=Milestone.IN_TRANSIT)],
        ordered_quantity=1,
        shipped_quantity=1,
    )
    assert summary.milestone is Milestone.CANCELLED


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SHIPMENT_MILESTONES),
            st.integers(min_value=0, max_value=40),
            st.none() | st.integers(min_value=1, max_value=9),
        ),
        min_size=1,
        max_size=10,
    ),
    st.randoms(use_true_random=False),
)
def test_absorbing_late_scans_with_estimates_equals_full_fold(
    spec: list[tuple[Milestone, int, int | None]], rnd: random.Random
) -> None:
    """Late scans carrying carrier estimates are absorbed only when the fold agrees."""
    events = [
        TrackingEvent(
            m,
            T0 + timedelta(hours=h),
            "test",
            T0,
            raw_code=f"{m.value}{h}{i}",
            location=Location(city=f"City{h}"),
            estimated_delivery_at=T0 + timedelta(days=eta) if eta else None,
        )
        for i, (m, h, eta) in enumerate(spec)
    ]
    rnd.shuffle(events)
    seen: dict[str, TrackingEvent] = {}
    state = ShipmentState()
    for event in events:
        seen[event.fingerprint] = event
        if can_apply_incrementally(state, event):
            state = apply(state, event)
        elif absorbs_late(state, event):
            state = absorb_late(state, event)
        else:
            state = fold(seen.values())
    assert state == fold(events)
