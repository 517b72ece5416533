"""Ingestion use case: inbox first, then apply commands to the order record.

The path of every payload, whatever the entry point (HTTP, file import, Python):

1. parse and validate (the `Parser` port); a payload that fails is still stored, as dead;
2. store raw in the inbox and commit, deduplicated on (store, source, event id): from here
   on nothing is lost whatever happens to processing;
3. apply the commands in a second transaction and record each item's outcome; if the batch
   fails, each item is retried alone so one bad item cannot block the rest, and an item
   that still fails is kept as dead with the error;
4. items parked because they referred to an order or shipment not known yet are woken and
   applied in the same run when that order or shipment arrives.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wismo.domain.commands import (
    CancelOrder,
    Command,
    CreateShipment,
    RecordTrackingEvent,
    UpsertCustomer,
    UpsertOrder,
    UpsertRefund,
    UpsertReturn,
    Waiting,
    order_key,
    shipment_key,
    tracking_key,
)
from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import RefundState, ReturnState, TrackingEvent, zone_label
from wismo.domain.notify import Trigger, shipment_trigger
from wismo.domain.status import (
    ShipmentState,
    absorb_late,
    absorbs_late,
    apply,
    can_apply_incrementally,
    fold,
    sort_key,
    with_estimate,
)
from wismo.services.collector import collector_paused
from wismo.services.ports import (
    Clock,
    Inbound,
    Outcome,
    Parsed,
    Parser,
    PlannedFact,
    Rejected,
    UnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

# Parked items woken by one another (an order wakes its shipments, which wake their scans)
# form chains; this bounds a pathological chain rather than looping for ever.
_MAX_WAKE_ROUNDS = 8
# An item that fails alone is tried this many times before it is kept as dead.
_ITEM_ATTEMPTS = 3


@dataclass(slots=True)
class IngestResult:
    """What the caller is told about one payload."""

    status: str  # processed | parked | duplicate | rejected | failed
    inbox_id: int | None = None
    source: str | None = None
    event_id: str | None = None
    waiting_for: str | None = None
    errors: list[dict[str, object]] = field(default_factory=list)


class Ingestor:
    def __init__(self, uow_factory: UnitOfWorkFactory, parser: Parser, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._parse = parser
        self._clock = clock

    def ingest(self, store_id: int, payloads: Sequence[bytes | Inbound]) -> list[IngestResult]:
        """Store, then apply, a batch of raw payloads; one result per payload, in order.

        Plain bytes are canonical events; other formats come wrapped in `Inbound`.
        """
        with collector_paused():
            return self._ingest(store_id, payloads)

    def _ingest(self, store_id: int, payloads: Sequence[bytes | Inbound]) -> list[IngestResult]:
        now = self._clock()
        inbound = [p if isinstance(p, Inbound) else Inbound(p) for p in payloads]
        parsed = [self._parse_safely(store_id, item) for item in inbound]
        rows: list[tuple[str, str | None, str, bytes]] = []
        for item, p in zip(inbound, parsed, strict=True):
            if isinstance(p, Parsed):
                rows.append((p.source, p.event_id, item.format, item.body))
            else:
                # No dedup key for a rejected payload: its corrected resend must not be
                # dropped as a duplicate of the broken one.
                rows.append((p.source or item.source or "unknown", None, item.format, item.body))
        with self._uow_factory() as uow:
            inbox_ids = uow.inbox.add(store_id, rows, now)
            rejected = {
                inbox_id: Outcome("dead", error=p.errors)
                for inbox_id, p in zip(inbox_ids, parsed, strict=True)
                if isinstance(p, Rejected) and inbox_id is not None
            }
            if rejected:
                uow.inbox.record(rejected, now)
            uow.commit()

        results: list[IngestResult] = []
        todo: list[tuple[int, Parsed]] = []
        for inbox_id, p in zip(inbox_ids, parsed, strict=True):
            if isinstance(p, Rejected):
                results.append(
                    IngestResult("rejected", inbox_id, p.source, p.event_id, errors=p.errors)
                )
            elif inbox_id is None:
                results.append(IngestResult("duplicate", None, p.source, p.event_id))
            else:
                results.append(IngestResult("processed", inbox_id, p.source, p.event_id))
                todo.append((inbox_id, p))
        outcomes = self._process_safely(store_id, todo)
        for result in results:
            if result.inbox_id is not None and result.inbox_id in outcomes:
                outcome = outcomes[result.inbox_id]
                result.status = "failed" if outcome.status == "dead" else outcome.status
                result.waiting_for = outcome.waiting_for
                result.errors = outcome.error
        return results

    def _parse_safely(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        """Parse; a parser that raises must not fail the batch or lose the payload."""
        try:
            return self._parse(store_id, inbound)
        except Exception:
            log.exception("parser for %s failed", inbound.format)
            return Rejected(
                [
                    {
                        "loc": [],
                        "msg": "the parser failed on this payload; see server log",
                        "type": "parser_error",
                    }
                ],
                inbound.source,
                inbound.event_id,
            )

    def replay(self, store_id: int, inbox_ids: Sequence[int]) -> dict[int, Outcome]:
        """Parse and apply stored items again (dead or parked ones, after a fix)."""
        with self._uow_factory() as uow:
            items = uow.inbox.load(inbox_ids)
        todo: list[tuple[int, Parsed]] = []
        outcomes: dict[int, Outcome] = {}
        for item in items:
            p = self._parse_safely(store_id, item.inbound())
            if isinstance(p, Rejected):
                outcomes[item.id] = Outcome("dead", error=p.errors)
            else:
                todo.append((item.id, p))
        if outcomes:
            with self._uow_factory() as uow:
                uow.inbox.record(outcomes, self._clock())
                uow.commit()
        outcomes.update(self._process_safely(store_id, todo))
        return outcomes

    def _process_safely(self, store_id: int, todo: list[tuple[int, Parsed]]) -> dict[int, Outcome]:
        if not todo:
            return {}
        try:
            with self._uow_factory() as uow:
                outcomes = self._process(uow, store_id, todo)
                uow.commit()
                return outcomes
        except Exception:
            # Fall through: isolate the item that broke the batch.
            log.warning("batch of %d failed; retrying item by item", len(todo), exc_info=True)
        outcomes = {}
        for item in todo:
            for attempt in range(_ITEM_ATTEMPTS):
                try:
                    with self._uow_factory() as uow:
                        outcomes.update(self._process(uow, store_id, [item]))
                        uow.commit()
                    break
                except Exception:
                    # A deadlock or serialisation failure passes on retry; a bug does not,
                    # and the item is then kept as dead with the error: never lost.
                    if attempt == _ITEM_ATTEMPTS - 1:
                        outcomes.update(self._fail([item]))
        return outcomes

    def _fail(self, todo: list[tuple[int, Parsed]]) -> dict[int, Outcome]:
        log.exception("processing failed for inbox items %s", [i for i, _ in todo])
        outcomes = {
            inbox_id: Outcome(
                "dead", error=[{"loc": [], "msg": "processing failed; see server log"}]
            )
            for inbox_id, _ in todo
        }
        with self._uow_factory() as uow:
            uow.inbox.record(outcomes, self._clock())
            uow.commit()
        return outcomes

    def _process(
        self, uow: UnitOfWork, store_id: int, todo: list[tuple[int, Parsed]]
    ) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        batch = todo
        for _ in range(_MAX_WAKE_ROUNDS):
            woken_keys: set[str] = set()
            round_outcomes = apply_commands(uow, store_id, batch, woken_keys, now=self._clock())
            uow.inbox.record(round_outcomes, self._clock())
            outcomes.update(round_outcomes)
            if not woken_keys:
                break
            parked = uow.inbox.waiting_for(store_id, woken_keys)
            batch = []
            for item in parked:
                p = self._parse_safely(store_id, item.inbound())
                if isinstance(p, Parsed):
                    batch.append((item.id, p))
            if not batch:
                break
        return outcomes


def apply_commands(
    uow: UnitOfWork,
    store_id: int,
    items: Sequence[tuple[int, Parsed]],
    woken_keys: set[str],
    *,
    now: datetime | None = None,
) -> dict[int, Outcome]:
    """Apply the commands of parsed items; return each item's outcome.

    Everything but tracking events is applied in arrival order. Tracking events go last and
    together: they depend on shipments (which may come in the same batch) and their effect
    does not depend on their order, so one set-based pass is both correct and fast.
    """
    outcomes: dict[int, Outcome] = {}
    tracking: list[tuple[int, RecordTrackingEvent]] = []
    for inbox_id, parsed in items:
        waiting: Waiting | None = None
        scans: list[tuple[int, RecordTrackingEvent]] = []
        for command in parsed.commands:
            if isinstance(command, RecordTrackingEvent):
                scans.append((inbox_id, command))
                continue
            waiting = _apply_one(uow, command, woken_keys, now)
            if waiting is not None:
                break
        if waiting is not None:
            # Its scans wait with it: the whole item is applied again when woken.
            outcomes[inbox_id] = Outcome("parked", waiting_for=waiting.key)
            continue
        tracking.extend(scans)
        outcomes[inbox_id] = Outcome("processed")
    if tracking:
        for inbox_id, outcome in _apply_tracking(uow, store_id, tracking).items():
            if outcome.status == "parked":
                outcomes[inbox_id] = outcome
    return outcomes


def _apply_one(
    uow: UnitOfWork, command: Command, woken_keys: set[str], now: datetime | None = None
) -> Waiting | None:
    match command:
        case UpsertCustomer(customer=customer):
            uow.orders.upsert_customer(customer)
            return None
        case UpsertOrder(order=order, stage=stage):
            known = uow.orders.get_orders(order.store_id, [order.order_number])
            ref = known.get(order.order_number)
            if ref is None:
                order_id = uow.orders.insert_order(order, stage)
                woken_keys.add(order_key(order.store_id, order.order_number))
                if stage is Milestone.CONFIRMED and _fresh(order.placed_at, now):
                    # Outbox: planned in this transaction, so the message exists iff the
                    # order does (docs/notifications.md).
                    uow.notifications.plan(
                        [PlannedFact(Trigger.ORDER_CONFIRMED, "once", order_id=order_id)],
                        now or order.placed_at,
                    )
            elif (
                ref.source_updated_at is None
                or order.source_updated_at is None
                or order.source_updated_at >= ref.source_updated_at
            ):
                uow.orders.update_order(ref.id, order, stage)
            # else: a late snapshot older than what we hold; newer data wins.
            return None
        case CancelOrder():
            found = _order_id(uow, command.store_id, command.order_number)
            if isinstance(found, Waiting):
                return found
            uow.orders.cancel_order(found, command)
            return None
        case CreateShipment():
            found = _order_id(uow, command.store_id, command.order_number)
            if isinstance(found, Waiting):
                return found
            shipment_id = uow.shipments.create_shipment(found, command)
            label = TrackingEvent(
                milestone=Milestone.LABEL_CREATED,
                occurred_at=command.created_at,
                occurred_tz=zone_label(command.created_at),
                source="order",
                received_at=command.created_at,
                description="Shipping label created",
                estimated_delivery_at=command.carrier_eta_at,
            )
            record_events(uow, [(shipment_id, label)])
            woken_keys.add(shipment_key(command.store_id, command.shipment_ref))
            if command.tracking_number:
                woken_keys.add(
                    tracking_key(command.store_id, command.carrier, command.tracking_number)
                )
                woken_keys.add(tracking_key(command.store_id, None, command.tracking_number))
            return None
        case UpsertReturn():
            found = _order_id(uow, command.store_id, command.order_number)
            if isinstance(found, Waiting):
                return found
            uow.orders.upsert_return(found, command)
            if command.state is ReturnState.RECEIVED and _fresh(command.updated_at, now):
                # The key (return ref) makes a re-sent "received" update plan nothing.
                uow.notifications.plan(
                    [PlannedFact(Trigger.RETURN_RECEIVED, command.return_ref, order_id=found)],
                    now or command.updated_at,
                )
            return None
        case UpsertRefund():
            found = _order_id(uow, command.store_id, command.order_number)
            if isinstance(found, Waiting):
                return found
            uow.orders.upsert_refund(found, command)
            if command.state is RefundState.PROCESSED and _fresh(command.updated_at, now):
                uow.notifications.plan(
                    [
                        PlannedFact(
                            Trigger.REFUND_ISSUED,
                            command.refund_ref,
                            order_id=found,
                            detail={
                                "amount": str(command.amount.amount),
                                "currency": command.amount.currency,
                            },
                        )
                    ],
                    now or command.updated_at,
                )
            return None
        case _:  # RecordTrackingEvent is batched by the caller
            raise TypeError(f"unexpected command {type(command).__name__}")


# Order-level news older than this is a backfill or a late sync: telling the customer now
# ("thanks for your order" a month later) would confuse more than help.
_STALE_AFTER = timedelta(days=2)


def _fresh(at: datetime, now: datetime | None) -> bool:
    return now is None or now - at <= _STALE_AFTER


def _order_id(uow: UnitOfWork, store_id: int, order_number: str) -> int | Waiting:
    ref = uow.orders.get_orders(store_id, [order_number]).get(order_number)
    if ref is None:
        return Waiting(order_key(store_id, order_number), "order not known yet")
    return ref.id


def _apply_tracking(
    uow: UnitOfWork,
    store_id: int,
    commands: list[tuple[int, RecordTrackingEvent]],
) -> dict[int, Outcome]:
    refs = {c.shipment_ref for _, c in commands if c.shipment_ref}
    numbers = {
        (c.carrier, c.tracking_number, c.event.occurred_at)
        for _, c in commands
        if not c.shipment_ref and c.tracking_number
    }
    by_ref, by_number = uow.shipments.find_shipments(store_id, refs, numbers)
    outcomes: dict[int, Outcome] = {}
    resolved: list[tuple[int, TrackingEvent]] = []
    seen: set[tuple[int, str]] = set()
    processed = Outcome("processed")  # shared: outcomes are only read after this
    for inbox_id, c in commands:
        event = c.event
        if c.shipment_ref:
            shipment = by_ref.get(c.shipment_ref)
        else:
            shipment = by_number.get((c.carrier, c.tracking_number or "", event.occurred_at))
        if shipment is None:
            # One unresolved scan parks the whole item; it is applied again, whole, when
            # the shipment arrives (its other scans are then duplicates and change nothing).
            if inbox_id not in outcomes or outcomes[inbox_id].status != "parked":
                key = (
                    shipment_key(store_id, c.shipment_ref)
                    if c.shipment_ref
                    else tracking_key(store_id, c.carrier, c.tracking_number or "")
                )
                outcomes[inbox_id] = Outcome("parked", waiting_for=key)
            continue
        if inbox_id not in outcomes:
            outcomes[inbox_id] = processed
        ident = (shipment.id, event.fingerprint)
        if ident not in seen:
            seen.add(ident)
            resolved.append((shipment.id, event))
    fresh = record_events(uow, resolved)
    # Carrier codes no table knew are counted, so someone can add them (`wismo carriers
    # unmapped`); the message classifier decided these events meanwhile.
    carriers = {ref.id: ref.carrier for ref in (*by_ref.values(), *by_number.values())}
    unmapped = [
        (carriers[sid], event.raw_code, event.description)
        for sid, event in fresh
        if event.mapped_by in ("message", "unmapped") and event.raw_code and sid in carriers
    ]
    if unmapped:
        uow.shipments.note_unmapped(unmapped, commands[0][1].event.received_at)
    return outcomes


def record_events(
    uow: UnitOfWork, resolved: list[tuple[int, TrackingEvent]]
) -> list[tuple[int, TrackingEvent]]:
    """Store new scans and bring each touched shipment's state up to date.

    A scan already stored (same shipment and fingerprint, from any source) changes nothing.
    A scan newer than everything folded is applied to the stored state; an older one makes
    the shipment's whole history fold again, so late events cannot regress the status.
    Returns the scans that were new.
    """
    if not resolved:
        return []
    # Lock the shipments before inserting their events: inserts touch the same rows (foreign
    # key, unique scan key), and taking the row locks first, in id order, is what keeps two
    # concurrent writers from deadlocking.
    states = uow.shipments.load_states({shipment_id for shipment_id, _ in resolved})
    inserted = uow.shipments.add_events(resolved)
    fresh: dict[int, list[TrackingEvent]] = defaultdict(list)
    changed: dict[int, ShipmentState] = {}
    revised: list[tuple[int, str, datetime]] = []
    for shipment_id, event in resolved:
        if (shipment_id, event.fingerprint) in inserted:
            fresh[shipment_id].append(event)
        elif event.estimated_delivery_at is not None:
            # A carrier revises its estimate without a new scan: the same scan comes back
            # with another date. Keep the new date, or the customer sees a stale one.
            held = states.get(shipment_id)
            if held is not None and _revises_estimate(held, event):
                states[shipment_id] = changed[shipment_id] = with_estimate(held, event)
                revised.append((shipment_id, event.fingerprint, event.estimated_delivery_at))
    if revised:
        # The stored scan carries the new date too, so a later full fold agrees.
        uow.shipments.revise_estimates(revised)
    if not fresh and not changed:
        return []
    refold: list[int] = []
    for shipment_id, events in fresh.items():
        events.sort(key=sort_key)
        state: ShipmentState | None = states.get(shipment_id, ShipmentState())
        for event in events:
            assert state is not None
            if can_apply_incrementally(state, event):
                state = apply(state, event)
            elif absorbs_late(state, event):
                state = absorb_late(state, event)
            else:
                # The history must be folded again; it already holds this batch's scans.
                state = None
                break
        if state is None:
            refold.append(shipment_id)
        else:
            changed[shipment_id] = state
    if refold:
        for shipment_id, history in uow.shipments.load_events(refold).items():
            changed[shipment_id] = fold(history)
    # A changed shipment is due for the sweeper now: its forecast and checks follow the scan.
    due = max(event.received_at for _, event in resolved)
    # Outbox: messages for milestone changes, in this transaction. Comparing the state
    # before and after the whole batch collapses a burst to the latest milestone (never
    # "shipped" after "delivered"), and costs nothing for the scans that change none.
    facts = _milestone_facts(states, changed, due)
    uow.shipments.save_states(changed, due=due)
    if facts:
        uow.notifications.plan(facts, due)
    return [(sid, event) for sid, events in fresh.items() for event in events]


def _milestone_facts(
    before: dict[int, ShipmentState], after: dict[int, ShipmentState], now: datetime
) -> list[PlannedFact]:
    facts = []
    for shipment_id, state in after.items():
        held = before.get(shipment_id)
        trigger = shipment_trigger(
            held.milestone if held else None,
            held.reason if held else Reason.NONE,
            state.milestone,
            state.reason,
        )
        if trigger is not None and (state.status_at is None or _fresh(state.status_at, now)):
            occurred = state.status_at.isoformat() if state.status_at else "none"
            facts.append(
                PlannedFact(trigger, occurred, shipment_id=shipment_id, detail={"at": occurred})
            )
    return facts


def _revises_estimate(state: ShipmentState, event: TrackingEvent) -> bool:
    """The scan is the one the held estimate came from (or a later one) and gives a new date."""
    return event.estimated_delivery_at != state.carrier_eta_at and (
        state.carrier_eta_set_at is None or event.occurred_at >= state.carrier_eta_set_at
    )
