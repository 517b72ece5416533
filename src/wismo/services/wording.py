"""Plain-language wording of statuses, problems and next steps (English).

Keyed by codes so channels and later languages can replace the text while the logic that
picks a code stays in one place. The `{carrier}` placeholder is filled by the caller.
"""

from __future__ import annotations

from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import RefundState, ReturnState

STATUS_TEXT: dict[Milestone, str] = {
    Milestone.ORDER_PLACED: "Order received",
    Milestone.CONFIRMED: "Order confirmed",
    Milestone.AWAITING_FULFILMENT: "Being prepared for shipping",
    Milestone.LABEL_CREATED: "Packed, waiting for the carrier to collect it",
    Milestone.PICKED_UP: "Collected by the carrier",
    Milestone.IN_TRANSIT: "On its way",
    Milestone.OUT_FOR_DELIVERY: "Out for delivery",
    Milestone.AVAILABLE_FOR_PICKUP: "Ready to collect",
    Milestone.DELIVERY_ATTEMPT_FAILED: "Delivery attempted, not delivered",
    Milestone.EXCEPTION: "Delayed by a problem in transit",
    Milestone.DELIVERED: "Delivered",
    Milestone.RETURNING_TO_SENDER: "Being returned to us",
    Milestone.RETURNED_TO_SENDER: "Returned to us",
    Milestone.CANCELLED: "Cancelled",
    Milestone.UNKNOWN: "Waiting for the first update",
    Milestone.EXPIRED: "No recent tracking updates",
}

# For counting packages in one line: "3 packages: 2 on the way, 1 waiting for collection".
SHORT_TEXT: dict[Milestone, str] = {
    Milestone.ORDER_PLACED: "received",
    Milestone.CONFIRMED: "confirmed",
    Milestone.AWAITING_FULFILMENT: "being prepared",
    Milestone.LABEL_CREATED: "waiting for collection",
    Milestone.PICKED_UP: "collected",
    Milestone.IN_TRANSIT: "on the way",
    Milestone.OUT_FOR_DELIVERY: "out for delivery",
    Milestone.AVAILABLE_FOR_PICKUP: "ready to collect",
    Milestone.DELIVERY_ATTEMPT_FAILED: "not delivered at the first attempt",
    Milestone.EXCEPTION: "delayed",
    Milestone.DELIVERED: "delivered",
    Milestone.RETURNING_TO_SENDER: "coming back to us",
    Milestone.RETURNED_TO_SENDER: "returned to us",
    Milestone.CANCELLED: "cancelled",
    Milestone.UNKNOWN: "waiting for an update",
    Milestone.EXPIRED: "without recent updates",
}

PROBLEM_TEXT: dict[Reason, str] = {
    Reason.CUSTOMS_HOLD: "The parcel is held at customs.",
    Reason.WEATHER: "Bad weather has delayed the parcel.",
    Reason.ADDRESS_PROBLEM: "The carrier could not deliver to the address given.",
    Reason.RECIPIENT_UNAVAILABLE: "Nobody was available to receive the parcel.",
    Reason.DAMAGED: "The carrier reported the parcel as damaged.",
    Reason.LOST: "The carrier cannot locate the parcel.",
    Reason.REFUSED: "Delivery of the parcel was refused.",
    Reason.HELD_FOR_PAYMENT: "The parcel is held until duties or charges are paid.",
    Reason.CARRIER_DELAY: "The carrier has delayed the parcel.",
    Reason.MISSORTED: "The parcel was sent to the wrong depot and is being redirected.",
    Reason.ACCESS_PROBLEM: "The carrier could not get access to deliver the parcel.",
    Reason.HELD_AT_CARRIER_REQUEST: "The carrier is holding the parcel.",
    Reason.LABEL_NOT_SCANNED: "The carrier has not scanned the parcel yet.",
    Reason.PEAK_VOLUME: "High volumes at the carrier have delayed the parcel.",
    Reason.OTHER: "The carrier reported a problem with the parcel.",
}

MILESTONE_PROBLEM_TEXT: dict[Milestone, str] = {
    Milestone.DELIVERY_ATTEMPT_FAILED: "The carrier tried to deliver but could not.",
    Milestone.EXCEPTION: "The carrier reported a problem with the parcel.",
    Milestone.RETURNING_TO_SENDER: "The parcel is on its way back to us.",
    Milestone.RETURNED_TO_SENDER: "The parcel came back to us.",
    Milestone.EXPIRED: "The carrier has stopped reporting on this parcel.",
}

NEXT_STEP: dict[tuple[Milestone, Reason], str] = {
    (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.NONE): (
        "{carrier} will usually try again on the next working day."
    ),
    (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.RECIPIENT_UNAVAILABLE): (
        "{carrier} will try again on the next working day or leave it at a pickup point."
    ),
    (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.ADDRESS_PROBLEM): (
        "Please check the delivery address with us so {carrier} can try again."
    ),
    (Milestone.EXCEPTION, Reason.CUSTOMS_HOLD): (
        "Customs checks usually take 1 to 3 working days; the carrier will move it on after."
    ),
    (Milestone.EXCEPTION, Reason.HELD_FOR_PAYMENT): (
        "{carrier} will contact you about the charges; it is delivered once they are paid."
    ),
    (Milestone.EXCEPTION, Reason.DAMAGED): "Our support team will contact you about a replacement.",
    (Milestone.EXCEPTION, Reason.LOST): "Our support team will arrange a replacement or refund.",
    (Milestone.EXCEPTION, Reason.ADDRESS_PROBLEM): (
        "Please check the delivery address with us so {carrier} can deliver it."
    ),
    (Milestone.EXCEPTION, Reason.NONE): "{carrier} is working on it; we will update you.",
    (Milestone.RETURNING_TO_SENDER, Reason.NONE): (
        "Once it is back with us we will refund or reship it; we will let you know."
    ),
    (Milestone.RETURNED_TO_SENDER, Reason.NONE): (
        "We will refund or reship it; our support team will be in touch."
    ),
    (Milestone.EXPIRED, Reason.NONE): "Our support team will look into it with the carrier.",
    (Milestone.AVAILABLE_FOR_PICKUP, Reason.NONE): (
        "Collect it with your ID before the pickup point returns it."
    ),
}
DEFAULT_DELAY_STEP = "{carrier} expects to move it on shortly; we will update you."

RETURN_TEXT: dict[ReturnState, str] = {
    ReturnState.REQUESTED: "Return requested, waiting for approval",
    ReturnState.APPROVED: "Return approved; send the items back with the label",
    ReturnState.DECLINED: "Return declined",
    ReturnState.IN_TRANSIT: "Return on its way to us",
    ReturnState.RECEIVED: "Return received, being checked",
    ReturnState.INSPECTED: "Return checked; refund on its way",
    ReturnState.CLOSED: "Return complete",
    ReturnState.CANCELLED: "Return cancelled",
}

REFUND_TEXT: dict[RefundState, str] = {
    RefundState.PENDING: "Refund being processed",
    RefundState.PROCESSED: "Refund issued",
    RefundState.FAILED: "Refund failed; our support team will contact you",
    RefundState.CANCELLED: "Refund cancelled",
}


def next_step(milestone: Milestone, reason: Reason, carrier: str) -> str | None:
    text = NEXT_STEP.get((milestone, reason)) or NEXT_STEP.get((milestone, Reason.NONE))
    if text is None and reason is not Reason.NONE:
        text = DEFAULT_DELAY_STEP
    return text.format(carrier=carrier) if text else None


def problem_text(milestone: Milestone, reason: Reason) -> str | None:
    if reason is not Reason.NONE:
        return PROBLEM_TEXT[reason]
    return MILESTONE_PROBLEM_TEXT.get(milestone)


# What the sweeper found (`wismo.domain.exceptions.FindingCode` values), in plain words,
# and what happens next. Findings that repeat the carrier's own status (failed attempt,
# customs hold, returning) are worded by the status texts above instead.
FINDING_TEXT: dict[str, tuple[str, str]] = {
    "stuck_label_created": (
        "The shipping label was created, but {carrier} has not scanned the parcel yet.",
        "We have asked the warehouse to check that it was handed over; we will update you.",
    ),
    "no_scan_in_transit": (
        "{carrier} has not scanned the parcel for a few working days.",
        "Parcels often move without a scan; we are watching it and will tell you if it "
        "needs attention.",
    ),
    "late": (
        "The parcel has missed the delivery date we promised.",
        "We are following it up with {carrier}; you do not need to do anything.",
    ),
    "predicted_late": (
        "The parcel is likely to arrive after the date we promised.",
        "We will keep you updated with the latest expected date.",
    ),
    "out_for_delivery_not_delivered": (
        "The parcel was out for delivery today but has not been delivered.",
        "{carrier} usually tries again on the next working day.",
    ),
    "split_stalled": (
        "Another package of this order has arrived, but this one has not moved since.",
        "We are checking with {carrier}; the rest of your order is still on its way.",
    ),
    "carrier_estimate_slipped": (
        "{carrier} has moved the expected delivery date later.",
        "The new expected date is shown above.",
    ),
}


def finding_text(code: str, carrier: str) -> tuple[str, str] | None:
    found = FINDING_TEXT.get(code)
    return (found[0].format(carrier=carrier), found[1].format(carrier=carrier)) if found else None
