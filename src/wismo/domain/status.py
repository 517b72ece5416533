"""The shipment state machine and the order-level status derived from shipments.

A shipment's status is a function of the *set* of its events, never of the order in which
they arrived: events are folded in the order they happened (`sort_key`), and the fold's
transition rules (`next_milestone`) make an informational scan after delivery, or an older
event, unable to move the status back. `docs/status-model.md` states the rules in prose.

Because the fold is chronological, a new event that happened after every event already
folded can be applied to the stored state directly (`apply`); an event that happened earlier
(late, out of order) needs a fold over all events again (`fold`). Both give the same answer;
a property test holds them to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wismo.domain.milestones import (
    FINAL_MILESTONES,
    PHASE,
    PROBLEM_MILESTONES,
    RANK,
    Milestone,
    Phase,
    Reason,
)
from wismo.domain.model import TrackingEvent


@dataclass(slots=True)
class ShipmentState:
    """What the fold knows about a shipment after its events so far. Treat as immutable
    (`apply` returns a new state); not frozen because frozen construction costs several
    times more and one is built per event."""

    milestone: Milestone = Milestone.UNKNOWN
    reason: Reason = Reason.NONE
    status_at: datetime | None = None  # when the event that set `milestone` happened
    delivered_at: datetime | None = None
    last_event_at: datetime | None = None  # the latest event folded, whatever it said
    last_event_tz: str | None = None
    last_location: str | None = None
    last_description: str | None = None
    carrier_eta_at: datetime | None = None
    carrier_eta_set_at: datetime | None = None  # when the carrier said so
    event_count: int = 0

    @property
    def is_final(self) -> bool:
        return self.milestone in FINAL_MILESTONES

    @property
    def has_problem(self) -> bool:
        return self.milestone in PROBLEM_MILESTONES or (
            self.milestone is Milestone.IN_TRANSIT and self.reason is not Reason.NONE
        )


def sort_key(event: TrackingEvent) -> tuple[datetime, int, str]:
    """Total order of events: when they happened, then how advanced (ties), then identity."""
    return (event.occurred_at, RANK[event.milestone], event.fingerprint)


def next_milestone(current: Milestone, incoming: Milestone) -> Milestone:
    """The status after `incoming` happened later than everything that led to `current`.

    Rules, in order:
    1. Returned to sender is final.
    2. Delivered stays delivered, except for the genuine reversals: returning to sender or
       returned to sender (the customer refused it afterwards, or it was delivered to the
       wrong place and recalled). Any other scan after delivery is informational.
    3. While returning to sender, only returned-to-sender moves it; a "delivered" scan means
       the parcel reached the sender, so it is returned to sender too.
    4. Otherwise a later phase replaces an earlier one, the latest event wins within a
       phase, and an event of an earlier phase (e.g. "label created" after a pickup scan) is
       informational.
    """
    if current is Milestone.RETURNED_TO_SENDER:
        return current
    if current is Milestone.DELIVERED:
        if incoming in (Milestone.RETURNING_TO_SENDER, Milestone.RETURNED_TO_SENDER):
            return incoming
        return current
    if current is Milestone.RETURNING_TO_SENDER:
        if incoming in (Milestone.RETURNED_TO_SENDER, Milestone.DELIVERED):
            return Milestone.RETURNED_TO_SENDER
        return current
    current_phase, incoming_phase = PHASE[current], PHASE[incoming]
    if incoming_phase == Phase.NONE:
        return current if current_phase > Phase.NONE else incoming
    if incoming_phase >= current_phase:
        return incoming
    return current


def apply(state: ShipmentState, event: TrackingEvent) -> ShipmentState:
    """Fold one event that happened at or after `state.last_event_at`."""
    milestone = next_milestone(state.milestone, event.milestone)
    changed = milestone is not state.milestone or milestone is event.milestone
    reason = state.reason
    status_at = state.status_at
    delivered_at = state.delivered_at
    if changed:
        reason = event.reason if milestone is event.milestone else Reason.NONE
        status_at = event.occurred_at
        if milestone is Milestone.DELIVERED and state.milestone is not Milestone.DELIVERED:
            delivered_at = event.occurred_at
        elif milestone in (Milestone.RETURNING_TO_SENDER, Milestone.RETURNED_TO_SENDER):
            # A reversal: the customer does not have the parcel, whatever was scanned before.
            delivered_at = None
    eta_at, eta_set_at = state.carrier_eta_at, state.carrier_eta_set_at
    if event.estimated_delivery_at is not None:
        eta_at, eta_set_at = event.estimated_delivery_at, event.occurred_at
    location = event.location.describe() if event.location else None
    # A direct constructor call: `dataclasses.replace` costs several times more, and this
    # runs once per event on the ingestion hot path.
    return ShipmentState(
        milestone=milestone,
        reason=reason,
        status_at=status_at,
        delivered_at=delivered_at,
        last_event_at=event.occurred_at,
        last_event_tz=event.occurred_tz,
        last_location=location if location is not None else state.last_location,
        last_description=event.description,
        carrier_eta_at=eta_at,
        carrier_eta_set_at=eta_set_at,
        event_count=state.event_count + 1,
    )


def fold(events: Iterable[TrackingEvent]) -> ShipmentState:
    """The state after all `events`, in whatever order and multiplicity they arrived."""
    unique = {e.fingerprint: e for e in events}
    state = ShipmentState()
    for event in sorted(unique.values(), key=sort_key):
        state = apply(state, event)
    return state


def can_apply_incrementally(state: ShipmentState, event: TrackingEvent) -> bool:
    """True when `event` sorts after every folded event, so `apply` equals a full `fold`."""
    return state.last_event_at is None or event.occurred_at > state.last_event_at


# Milestones whose late arrival can rewrite history through the reversal rules.
_REWRITING = frozenset(
    {Milestone.DELIVERED, Milestone.RETURNING_TO_SENDER, Milestone.RETURNED_TO_SENDER}
)


def absorbs_late(state: ShipmentState, event: TrackingEvent) -> bool:
    """True when a late `event` cannot change the fold beyond counting it.

    Holds when the event is older than the one that set the current status, of no later
    phase than it, not one of the milestones the reversal rules treat specially, and older
    than the carrier estimate already held (or carries none). Then the status event still
    wins when the history is folded again, the last scan is still the latest one, and the
    estimate is unchanged: the fold equals `state` with one more event. Saves reading and
    folding the whole history for most late scans. A property test holds it to `fold`.
    """
    if state.status_at is None or not event.occurred_at < state.status_at:
        return False
    if event.milestone in _REWRITING or state.milestone in _REWRITING:
        return False
    if state.milestone is Milestone.CANCELLED or event.milestone is Milestone.CANCELLED:
        return False
    if PHASE[event.milestone] > PHASE[state.milestone]:
        return False
    # An estimate it carries is harmless only if a newer one is already held.
    return event.estimated_delivery_at is None or (
        state.carrier_eta_set_at is not None and event.occurred_at < state.carrier_eta_set_at
    )


def absorb_late(state: ShipmentState, event: TrackingEvent) -> ShipmentState:
    """`state` after a late event for which `absorbs_late` holds."""
    return ShipmentState(
        milestone=state.milestone,
        reason=state.reason,
        status_at=state.status_at,
        delivered_at=state.delivered_at,
        last_event_at=state.last_event_at,
        last_event_tz=state.last_event_tz,
        last_location=state.last_location,
        last_description=state.last_description,
        carrier_eta_at=state.carrier_eta_at,
        carrier_eta_set_at=state.carrier_eta_set_at,
        event_count=state.event_count + 1,
    )


def with_estimate(state: ShipmentState, event: TrackingEvent) -> ShipmentState:
    """`state` after a scan it already holds came back with another carrier estimate.

    The fold takes the estimate of the latest scan that carries one, so when `event` is that
    scan (or a later one), the fold over the history with the revised scan is this state."""
    return ShipmentState(
        milestone=state.milestone,
        reason=state.reason,
        status_at=state.status_at,
        delivered_at=state.delivered_at,
        last_event_at=state.last_event_at,
        last_event_tz=state.last_event_tz,
        last_location=state.last_location,
        last_description=state.last_description,
        carrier_eta_at=event.estimated_delivery_at,
        carrier_eta_set_at=event.occurred_at,
        event_count=state.event_count,
    )


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """The order-level status derived from its shipments ("2 of 3 packages delivered")."""

    milestone: Milestone
    shipment_count: int
    delivered_count: int
    problem_count: int
    unshipped_quantity: int

    @property
    def partially_delivered(self) -> bool:
        return 0 < self.delivered_count < self.shipment_count or (
            self.delivered_count > 0 and self.unshipped_quantity > 0
        )


# How far along a parcel is, for picking the order's headline: the least advanced parcel
# that is still on its way is what the customer is waiting for.
_PROGRESS: dict[Milestone, int] = {
    Milestone.UNKNOWN: 0,
    Milestone.LABEL_CREATED: 1,
    Milestone.PICKED_UP: 2,
    Milestone.IN_TRANSIT: 3,
    Milestone.OUT_FOR_DELIVERY: 4,
    Milestone.AVAILABLE_FOR_PICKUP: 5,
}


def summarise_order(
    *,
    order_milestone: Milestone,
    cancelled: bool,
    shipments: Sequence[ShipmentState],
    ordered_quantity: int,
    shipped_quantity: int,
) -> OrderSummary:
    """Derive the order's status from its own stage and its live shipments.

    `order_milestone` is what the order system said (placed, confirmed, awaiting
    fulfilment); `shipments` excludes cancelled labels.
    """
    live = [s for s in shipments if s.milestone is not Milestone.CANCELLED]
    delivered = sum(1 for s in live if s.milestone is Milestone.DELIVERED)
    problems = [s for s in live if s.has_problem]
    unshipped = max(ordered_quantity - shipped_quantity, 0)
    if cancelled:
        milestone = Milestone.CANCELLED
    elif not live:
        milestone = order_milestone
    elif problems:
        # The most serious problem leads: a return to sender outranks a failed attempt.
        milestone = max(problems, key=lambda s: RANK[s.milestone]).milestone
    elif delivered == len(live):
        milestone = Milestone.DELIVERED if unshipped == 0 else Milestone.AWAITING_FULFILMENT
    else:
        waiting = [s for s in live if s.milestone is not Milestone.DELIVERED]
        milestone = min(waiting, key=lambda s: _PROGRESS.get(s.milestone, 0)).milestone
    return OrderSummary(
        milestone=milestone,
        shipment_count=len(live),
        delivered_count=delivered,
        problem_count=len(problems),
        unshipped_quantity=unshipped,
    )
