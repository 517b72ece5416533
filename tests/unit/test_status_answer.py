"""The order-status answer built from an order view, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import Order, OrderLine, ShipmentLine
from wismo.domain.promise import Predicted
from wismo.domain.status import ShipmentState
from wismo.services.ports import OrderView, ShipmentRef, ShipmentView
from wismo.services.status import build_answer

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def view(
    *states: ShipmentState, cancelled: bool = False, promised_to: date | None = None
) -> OrderView:
    order = Order(
        id=1,
        store_id=1,
        order_number="1001",
        placed_at=T0,
        currency="USD",
        lines=[OrderLine(f"L{i}", f"Item {i}", 1) for i in range(len(states))],
        promised_to_on=promised_to,
        cancelled_at=T0 if cancelled else None,
    )
    shipments = tuple(
        ShipmentView(
            ref=ShipmentRef(i, 1, f"S{i}", "ups", f"1Z{i}"),
            state=state,
            lines=(ShipmentLine(f"L{i}", 1),),
            service_level=None,
            created_at=T0,
        )
        for i, state in enumerate(states)
    )
    return OrderView(order, Milestone.CONFIRMED, None, shipments, (), (), "America/New_York")


def test_mixed_packages_headline_counts_each_state() -> None:
    """Two packages in different states are both named, not only the slowest."""
    answer = build_answer(
        view(ShipmentState(Milestone.LABEL_CREATED), ShipmentState(Milestone.IN_TRANSIT)), NOW
    )
    assert answer.headline == "2 packages: 1 waiting for collection, 1 on the way"


def test_problem_headline_says_which_share_of_packages() -> None:
    """A problem on one of two packages leads the headline."""
    answer = build_answer(
        view(
            ShipmentState(Milestone.EXCEPTION, Reason.WEATHER),
            ShipmentState(Milestone.IN_TRANSIT),
        ),
        NOW,
    )
    assert answer.headline == "Delayed by a problem in transit (1 of 2 packages)"
    assert answer.problem is not None
    assert answer.problem.code == "weather"


def test_delivered_after_promise_is_late_and_on_time_is_not() -> None:
    """Lateness compares the local delivery date with the promised date."""
    late = ShipmentState(Milestone.DELIVERED, delivered_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    # 03:00 UTC on the 24th is still the 23rd in New York: on time for a promise of the 23rd.
    assert not build_answer(view(late, promised_to=date(2026, 11, 23)), NOW).late
    assert build_answer(view(late, promised_to=date(2026, 11, 22)), NOW).late


def test_waiting_past_promise_is_late_and_carries_promise_estimate() -> None:
    """No carrier date: the merchant's promise is the estimate, and past it is late."""
    answer = build_answer(
        view(ShipmentState(Milestone.IN_TRANSIT), promised_to=date(2026, 11, 24)), NOW
    )
    assert answer.late
    assert answer.estimate is not None
    assert answer.estimate.source == "merchant_promise"


def test_carrier_estimate_is_shown_in_customer_zone() -> None:
    """The carrier's instant becomes a local date in the order's zone."""
    eta = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 26 Nov in New York
    answer = build_answer(view(ShipmentState(Milestone.IN_TRANSIT, carrier_eta_at=eta)), NOW)
    assert answer.estimate is not None
    assert (answer.estimate.to_on, answer.estimate.source) == (date(2026, 11, 26), "carrier")


def test_cancelled_order_has_no_estimate_and_is_not_late() -> None:
    """A cancelled order is neither expected nor late."""
    answer = build_answer(
        view(ShipmentState(Milestone.IN_TRANSIT), cancelled=True, promised_to=date(2026, 11, 1)),
        NOW,
    )
    assert answer.cancelled
    assert answer.estimate is None
    assert not answer.late
    assert answer.headline == "Your order was cancelled"


def test_last_scan_shown_in_the_carriers_offset() -> None:
    """The last scan keeps the offset the carrier reported."""
    state = ShipmentState(
        Milestone.IN_TRANSIT,
        last_event_at=T0 + timedelta(hours=1),
        last_event_tz="+01:00",
        last_location="Paris, FR",
    )
    scan = build_answer(view(state), NOW).packages[0].last_scan
    assert scan is not None
    assert scan.at.isoformat() == "2026-11-20T11:00:00+01:00"


def test_wismo_window_predicted_late_and_current_findings() -> None:
    """Wismo's window is shown with its confidence; a likely day after the promise says
    "predicted late" before it is late; the sweeper's current findings become the problem."""
    base = view(ShipmentState(Milestone.IN_TRANSIT), promised_to=date(2026, 11, 26))
    [shipment] = base.shipments
    predicted = Predicted(date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 30), 0.8, "lane")
    shipped = replace(
        shipment,
        predicted=predicted,
        open_findings=("no_scan_in_transit", "predicted_late"),
        first_estimate_on=date(2026, 11, 25),
        first_estimate_source="wismo",
    )
    answer = build_answer(replace(base, shipments=(shipped,)), NOW)
    assert answer.estimate is not None
    assert (answer.estimate.source, answer.estimate.likely_on) == ("wismo", date(2026, 11, 27))
    assert (answer.estimate.from_on, answer.estimate.to_on) == (
        date(2026, 11, 26),
        date(2026, 11, 30),
    )
    assert answer.estimate.confidence == 0.8
    assert not answer.late
    assert answer.predicted_late
    [package] = answer.packages
    assert package.first_estimate is not None
    assert package.first_estimate.to_on == date(2026, 11, 25)
    assert [a.code for a in package.alerts] == ["no_scan_in_transit", "predicted_late"]
    assert answer.problem is not None
    assert answer.problem.code == "no_scan_in_transit"
    assert "UPS has not scanned the parcel" in answer.problem.text


def test_parcel_going_back_to_the_merchant_has_no_delivery_date() -> None:
    """A parcel returning to sender is not expected: no estimate on it, none for the order
    (even with a promise and a carrier date on record), and it is not called late."""
    eta = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    for milestone in (Milestone.RETURNING_TO_SENDER, Milestone.RETURNED_TO_SENDER):
        answer = build_answer(
            view(ShipmentState(milestone, carrier_eta_at=eta), promised_to=date(2026, 11, 24)),
            NOW,
        )
        assert answer.packages[0].estimate is None
        assert answer.estimate is None
        assert not answer.late
        assert not answer.predicted_late
