"""The normalised status vocabulary every source is mapped onto.

`docs/status-model.md` is the human-readable table of the same facts; a unit test keeps the
two in step, so change both together.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Milestone(StrEnum):
    """Where an order or a parcel is. Order-level milestones come first."""

    ORDER_PLACED = "order_placed"
    CONFIRMED = "confirmed"
    AWAITING_FULFILMENT = "awaiting_fulfilment"
    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERY_ATTEMPT_FAILED = "delivery_attempt_failed"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    RETURNING_TO_SENDER = "returning_to_sender"
    RETURNED_TO_SENDER = "returned_to_sender"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"
    EXPIRED = "expired"


class Reason(StrEnum):
    """Why a parcel is where it is: the sub-status carried next to a milestone."""

    NONE = "none"
    CUSTOMS_HOLD = "customs_hold"
    WEATHER = "weather"
    ADDRESS_PROBLEM = "address_problem"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    DAMAGED = "damaged"
    LOST = "lost"
    REFUSED = "refused"
    HELD_FOR_PAYMENT = "held_for_payment"
    CARRIER_DELAY = "carrier_delay"
    MISSORTED = "missorted"
    ACCESS_PROBLEM = "access_problem"
    HELD_AT_CARRIER_REQUEST = "held_at_carrier_request"
    LABEL_NOT_SCANNED = "label_not_scanned"
    PEAK_VOLUME = "peak_volume"
    OTHER = "other"


class Phase(IntEnum):
    """Coarse stages of a parcel's life, ordered.

    The state machine in `wismo.domain.status` lets the latest event win inside a phase and
    only lets a later phase replace an earlier one, except for the reversals it lists.
    """

    NONE = 0
    PRE_TRANSIT = 1
    TRANSIT = 2
    DELIVERED = 3
    RETURNING = 4
    RETURNED = 5


PHASE: dict[Milestone, Phase] = {
    Milestone.ORDER_PLACED: Phase.NONE,
    Milestone.CONFIRMED: Phase.NONE,
    Milestone.AWAITING_FULFILMENT: Phase.NONE,
    Milestone.UNKNOWN: Phase.NONE,
    Milestone.LABEL_CREATED: Phase.PRE_TRANSIT,
    Milestone.CANCELLED: Phase.PRE_TRANSIT,
    Milestone.PICKED_UP: Phase.TRANSIT,
    Milestone.IN_TRANSIT: Phase.TRANSIT,
    Milestone.OUT_FOR_DELIVERY: Phase.TRANSIT,
    Milestone.AVAILABLE_FOR_PICKUP: Phase.TRANSIT,
    Milestone.DELIVERY_ATTEMPT_FAILED: Phase.TRANSIT,
    Milestone.EXCEPTION: Phase.TRANSIT,
    Milestone.EXPIRED: Phase.TRANSIT,
    Milestone.DELIVERED: Phase.DELIVERED,
    Milestone.RETURNING_TO_SENDER: Phase.RETURNING,
    Milestone.RETURNED_TO_SENDER: Phase.RETURNED,
}

# Value -> member, for the hot path: `Milestone(value)` goes through Enum's slow __call__.
MILESTONE_OF: dict[str, Milestone] = {m.value: m for m in Milestone}
REASON_OF: dict[str, Reason] = {r.value: r for r in Reason}

# Breaks ties between events stamped with the same instant: the more advanced one is the
# later one (a carrier often stamps "out for delivery" and "delivered" with one minute).
RANK: dict[Milestone, int] = {m: i for i, m in enumerate(Milestone)}

# Milestones the customer would call "a problem": they carry a reason and a next step.
PROBLEM_MILESTONES = frozenset(
    {
        Milestone.DELIVERY_ATTEMPT_FAILED,
        Milestone.EXCEPTION,
        Milestone.RETURNING_TO_SENDER,
        Milestone.RETURNED_TO_SENDER,
        Milestone.EXPIRED,
    }
)

# Shipment milestones that end tracking: nothing more is expected from the carrier.
FINAL_MILESTONES = frozenset(
    {Milestone.DELIVERED, Milestone.RETURNED_TO_SENDER, Milestone.CANCELLED}
)


def canonical_code(code: str) -> str:
    """A carrier status code in the one form tables are keyed by.

    Trimmed and upper-cased, and leading zeros dropped from numeric codes, so that `0174`
    and `174` are one code (a table keyed `174` must not miss a response saying `0174`).
    """
    code = code.strip().upper()
    if code.isdigit():
        return code.lstrip("0") or "0"
    return code
