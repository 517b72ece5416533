"""The order-status answer: one read model that every channel renders.

It holds what customers ask about: the status in plain terms, each package with its
contents and last scan, the delivery estimate and where it comes from, whether the order is
late against the promise, the current problem and what happens next, and the state of
returns and refunds. Channels choose what to show; they never compute status themselves.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import OrderLine, Refund, RefundMethod, RefundState, Return, ReturnState
from wismo.domain.order_numbers import spellings
from wismo.domain.promise import DEFAULT_PREFERENCE, EstimateSource, choose
from wismo.domain.status import OrderSummary, summarise_order
from wismo.domain.zones import reported_zone
from wismo.domain.zones import zone as zone_named
from wismo.services.ports import Clock, OrderView, ShipmentView, UnitOfWorkFactory
from wismo.services.wording import (
    REFUND_TEXT,
    RETURN_TEXT,
    SHORT_TEXT,
    STATUS_TEXT,
    finding_text,
    next_step,
    problem_text,
)

CARRIER_NAMES = {
    "ups": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "dhl": "DHL",
    "dhl_express": "DHL Express",
    "dhl_parcel_de": "DHL Paket",
    "dhl_ecommerce": "DHL eCommerce",
    "canadapost": "Canada Post",
    "royalmail": "Royal Mail",
    "dpd": "DPD",
    "gls": "GLS",
    "australiapost": "Australia Post",
    "laposte": "La Poste",
    "colissimo": "Colissimo",
}

# Typical time for money to reach the customer after a refund is issued, when the source
# does not say; used only to state an expectation, labelled as such.
REFUND_SETTLE_DAYS: dict[RefundMethod, int] = {
    RefundMethod.ORIGINAL_PAYMENT: 10,
    RefundMethod.BANK_TRANSFER: 5,
    RefundMethod.STORE_CREDIT: 0,
    RefundMethod.GIFT_CARD: 0,
    RefundMethod.OTHER: 10,
}


_NOT_COMING = frozenset(
    {Milestone.RETURNING_TO_SENDER, Milestone.RETURNED_TO_SENDER, Milestone.CANCELLED}
)


def carrier_name(code: str) -> str:
    return CARRIER_NAMES.get(code, code.replace("_", " ").title())


@dataclass(frozen=True, slots=True)
class Item:
    title: str
    quantity: int
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class Scan:
    at: datetime  # in the zone the carrier reported, where known
    location: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Estimate:
    """When the customer can expect delivery, and who says so."""

    from_on: date | None
    to_on: date
    source: str  # carrier | wismo | merchant_promise
    likely_on: date | None = None  # the single most likely day, where there is one
    confidence: float | None = None  # Wismo's windows: the share of parcels that land in it


@dataclass(frozen=True, slots=True)
class Problem:
    code: str  # milestone or reason code
    text: str
    next_step: str | None


@dataclass(frozen=True, slots=True)
class Package:
    shipment_ref: str
    carrier: str
    carrier_name: str
    service_level: str | None
    tracking_number: str | None
    status: Milestone
    status_text: str
    reason: Reason
    contents: tuple[Item, ...]
    last_scan: Scan | None
    delivered_at: datetime | None
    estimate: Estimate | None
    late: bool
    problem: Problem | None
    predicted_late: bool = False  # not late yet, but expected after the promised date
    first_estimate: Estimate | None = None  # the first date this package was shown with
    alerts: tuple[Problem, ...] = ()  # what Wismo's own checks found, still current


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """Something Wismo found out on its own: a problem, or an estimate that moved."""

    shipment_ref: str
    kind: str  # exception | estimate_revised
    code: str  # a finding code, or the estimate's source
    text: str
    detail: dict[str, str]
    at: datetime


@dataclass(frozen=True, slots=True)
class ReturnAnswer:
    return_ref: str
    state: ReturnState
    state_text: str
    items: tuple[Item, ...]
    carrier: str | None
    tracking_number: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    refund_ref: str
    amount: Decimal
    currency: str
    method: RefundMethod
    state: RefundState
    state_text: str
    processed_at: datetime | None
    expected_by_on: date | None
    expected_by_is_estimate: bool


@dataclass(frozen=True, slots=True)
class OrderStatusAnswer:
    order_id: int
    order_number: str
    placed_at: datetime
    status: Milestone
    headline: str
    summary: str | None
    cancelled: bool
    packages: tuple[Package, ...]
    not_yet_shipped: tuple[Item, ...]
    estimate: Estimate | None
    promised: Estimate | None
    late: bool
    problem: Problem | None
    returns: tuple[ReturnAnswer, ...]
    refunds: tuple[RefundAnswer, ...]
    generated_at: datetime
    language: str = "en"
    time_zone: str = "UTC"
    predicted_late: bool = False
    timeline: tuple[TimelineItem, ...] = ()


def _local(moment: datetime, tz_label: str | None) -> datetime:
    """Show a carrier's instant in the zone it reported (an offset like +01:00 or a name)."""
    reported = reported_zone(tz_label)
    return moment.astimezone(reported) if reported else moment


def build_answer(
    view: OrderView,
    now: datetime,
    preference: Sequence[EstimateSource] = DEFAULT_PREFERENCE,
) -> OrderStatusAnswer:
    order = view.order
    customer_zone = view.customer.time_zone if view.customer else None
    zone = zone_named(customer_zone, view.store_time_zone)
    today = now.astimezone(zone).date()
    lines = {ln.line_ref: ln for ln in order.lines}
    promised = (
        Estimate(order.promised_from_on, order.promised_to_on, "merchant_promise")
        if order.promised_to_on
        else None
    )
    live = [s for s in view.shipments if s.state.milestone is not Milestone.CANCELLED]
    shipped: Counter[str] = Counter()
    for s in live:
        for sl in s.lines:
            shipped[sl.line_ref] += sl.quantity
    packages = tuple(_package(s, lines, promised, today, zone, preference=preference) for s in live)
    ordered_qty = sum(ln.quantity for ln in order.lines)
    shipped_qty = sum(min(shipped[ref], ln.quantity) for ref, ln in lines.items())
    summary = summarise_order(
        order_milestone=view.stage if view.stage in STATUS_TEXT else Milestone.ORDER_PLACED,
        cancelled=order.cancelled_at is not None,
        shipments=[s.state for s in live],
        ordered_quantity=ordered_qty,
        shipped_quantity=shipped_qty,
    )
    not_yet_shipped = tuple(
        Item(ln.title, ln.quantity - shipped[ref], ln.sku)
        for ref, ln in lines.items()
        if ln.quantity > shipped[ref]
    )
    waiting = [
        p for p in packages if p.status is not Milestone.DELIVERED and p.status not in _NOT_COMING
    ]
    estimates = [p.estimate for p in waiting if p.estimate]
    if order.cancelled_at is not None:
        estimate = None
    elif estimates:
        # The order is complete when its last package arrives.
        estimate = max(estimates, key=lambda e: e.to_on)
    elif (waiting or not_yet_shipped) and promised:
        estimate = promised
    else:
        estimate = None
    late = order.cancelled_at is None and (
        any(p.late for p in packages)
        or bool(not_yet_shipped and promised and today > promised.to_on)
    )
    problem = next((p.problem for p in packages if p.problem), None)
    predicted_late = (
        order.cancelled_at is None and not late and any(p.predicted_late for p in packages)
    )
    return OrderStatusAnswer(
        order_id=order.id or 0,
        order_number=order.order_number,
        placed_at=order.placed_at,
        status=summary.milestone,
        headline=_headline(summary, packages, not_yet_shipped, order.cancelled_at is not None),
        summary=_summary(summary),
        cancelled=order.cancelled_at is not None,
        packages=packages,
        not_yet_shipped=not_yet_shipped,
        estimate=estimate,
        promised=promised,
        late=late,
        problem=problem,
        returns=tuple(_return(r, lines) for r in view.returns),
        refunds=tuple(_refund(r) for r in view.refunds),
        generated_at=now,
        language=(view.customer.language if view.customer and view.customer.language else "en"),
        time_zone=zone.key,
        predicted_late=predicted_late,
        timeline=_timeline(view),
    )


def _timeline(view: OrderView) -> tuple[TimelineItem, ...]:
    shipments = {s.ref.id: s.ref for s in view.shipments}
    items = []
    for e in view.timeline:
        ref = shipments.get(e.shipment_id)
        if ref is None:
            continue
        carrier = carrier_name(ref.carrier)
        if e.kind == "estimate_revised":
            who = carrier if e.code == "carrier" else "Our estimate"
            text = (
                f"{who}: expected delivery moved {e.detail.get('direction', '')} from "
                f"{e.detail.get('from')} to {e.detail.get('to')}."
            ).replace("  ", " ")
        else:
            worded = finding_text(e.code, carrier)
            text = worded[0] if worded else (problem_text_for(e.code) or e.code)
        items.append(
            TimelineItem(ref.shipment_ref, e.kind, e.code, text, dict(e.detail), e.occurred_at)
        )
    return tuple(items)


def problem_text_for(code: str) -> str | None:
    """Findings that repeat the carrier's own status read like that status."""
    texts = {
        "failed_attempt": problem_text(Milestone.DELIVERY_ATTEMPT_FAILED, Reason.NONE),
        "customs_hold": problem_text(Milestone.EXCEPTION, Reason.CUSTOMS_HOLD),
        "returning_to_sender": problem_text(Milestone.RETURNING_TO_SENDER, Reason.NONE),
    }
    return texts.get(code)


def _item(lines: dict[str, OrderLine], line_ref: str, quantity: int) -> Item:
    line = lines.get(line_ref)
    return Item(line.title, quantity, line.sku) if line else Item(line_ref, quantity)


def _package(
    s: ShipmentView,
    lines: dict[str, OrderLine],
    promised: Estimate | None,
    today: date,
    zone: ZoneInfo,
    *,
    preference: Sequence[EstimateSource],
) -> Package:
    st = s.state
    name = carrier_name(s.ref.carrier)
    contents = tuple(_item(lines, sl.line_ref, sl.quantity) for sl in s.lines)
    scan = (
        Scan(_local(st.last_event_at, st.last_event_tz), st.last_location, st.last_description)
        if st.last_event_at
        else None
    )
    delivered = st.milestone is Milestone.DELIVERED
    # A parcel going back to the merchant will not arrive: no delivery date is true of it.
    coming = st.milestone not in _NOT_COMING
    estimate = None
    if not delivered and coming:
        shown = choose(
            preference,
            today=today,
            carrier_on=st.carrier_eta_at.astimezone(zone).date() if st.carrier_eta_at else None,
            predicted=s.predicted,
            promised_from_on=promised.from_on if promised else None,
            promised_to_on=promised.to_on if promised else None,
        )
        if shown is not None:
            estimate = Estimate(
                shown.from_on, shown.to_on, shown.source.value, shown.likely_on, shown.confidence
            )
    late = False
    if promised is not None:
        if delivered and st.delivered_at is not None:
            late = st.delivered_at.astimezone(zone).date() > promised.to_on
        elif not delivered and coming:
            late = today > promised.to_on or (
                estimate is not None
                and estimate.source == "carrier"
                and estimate.to_on > promised.to_on
            )
    predicted_late = (
        not late
        and not delivered
        and coming
        and promised is not None
        and s.predicted is not None
        and s.predicted.likely_on > promised.to_on
    )
    problem = None
    if st.has_problem:
        text = problem_text(st.milestone, st.reason)
        if text:
            problem = Problem(
                code=st.reason.value if st.reason is not Reason.NONE else st.milestone.value,
                text=text,
                next_step=next_step(st.milestone, st.reason, name),
            )
    alerts = []
    for code in s.open_findings:
        worded = finding_text(code, name)
        if worded is not None:
            alerts.append(Problem(code=code, text=worded[0], next_step=worded[1]))
    if problem is None and alerts:
        problem = alerts[0]
    first = (
        Estimate(None, s.first_estimate_on, s.first_estimate_source or "", s.first_estimate_on)
        if s.first_estimate_on
        else None
    )
    return Package(
        shipment_ref=s.ref.shipment_ref,
        carrier=s.ref.carrier,
        carrier_name=name,
        service_level=s.service_level,
        tracking_number=s.ref.tracking_number,
        status=st.milestone,
        status_text=STATUS_TEXT[st.milestone],
        reason=st.reason,
        contents=contents,
        last_scan=scan,
        delivered_at=st.delivered_at,
        estimate=estimate,
        late=late,
        problem=problem,
        predicted_late=predicted_late,
        first_estimate=first,
        alerts=tuple(alerts),
    )


def _headline(
    summary: OrderSummary,
    packages: tuple[Package, ...],
    unshipped: tuple[Item, ...],
    cancelled: bool,
) -> str:
    if cancelled:
        return "Your order was cancelled"
    m = summary.milestone
    n = summary.shipment_count
    if m is Milestone.DELIVERED:
        return "Delivered" if n == 1 else "All packages delivered"
    if summary.problem_count and n > 1:
        return f"{STATUS_TEXT[m]} ({summary.problem_count} of {n} packages)"
    if summary.partially_delivered and summary.delivered_count == n:
        return "Part of your order is delivered; more items to follow"
    if summary.partially_delivered:
        return f"{summary.delivered_count} of {n} packages delivered"
    if n > 1:
        counts = Counter(p.status for p in packages)
        if len(counts) == 1:
            return f"{STATUS_TEXT[m]} ({n} packages)"
        parts = [f"{count} {SHORT_TEXT[status]}" for status, count in counts.most_common()]
        return f"{n} packages: " + ", ".join(parts)
    if unshipped and n:
        return f"{STATUS_TEXT[m]}; more items to follow"
    return STATUS_TEXT[m]


def _summary(summary: OrderSummary) -> str | None:
    if summary.shipment_count == 0:
        return None
    parts = [f"{summary.delivered_count} of {summary.shipment_count} packages delivered"]
    if summary.unshipped_quantity:
        parts.append(f"{summary.unshipped_quantity} item(s) not shipped yet")
    return "; ".join(parts)


def _return(r: Return, lines: dict[str, OrderLine]) -> ReturnAnswer:
    return ReturnAnswer(
        return_ref=r.return_ref,
        state=r.state,
        state_text=RETURN_TEXT[r.state],
        items=tuple(_item(lines, ln.line_ref, ln.quantity) for ln in r.lines),
        carrier=r.carrier,
        tracking_number=r.tracking_number,
        updated_at=r.updated_at,
    )


def _refund(r: Refund) -> RefundAnswer:
    expected, estimated = r.expected_by_on, False
    if expected is None and r.state is RefundState.PROCESSED and r.processed_at is not None:
        expected = (r.processed_at + timedelta(days=REFUND_SETTLE_DAYS[r.method])).date()
        estimated = True
    return RefundAnswer(
        refund_ref=r.refund_ref,
        amount=r.amount.amount,
        currency=r.amount.currency,
        method=r.method,
        state=r.state,
        state_text=REFUND_TEXT[r.state],
        processed_at=r.processed_at,
        expected_by_on=expected,
        expected_by_is_estimate=estimated,
    )


class StatusService:
    """Reads the order-status answer by id, or by order number plus a matching contact."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        preference: Sequence[EstimateSource] = DEFAULT_PREFERENCE,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._preference = tuple(preference)

    def by_id(self, store_id: int, order_id: int) -> OrderStatusAnswer | None:
        with self._uow_factory(write=False) as uow:
            view = uow.orders.load_view(store_id, order_id)
        return build_answer(view, self._now(), self._preference) if view else None

    def by_number(self, store_id: int, order_number: str) -> OrderStatusAnswer | None:
        with self._uow_factory(write=False) as uow:
            found = uow.orders.find_for_lookup(store_id, order_number)
            view = uow.orders.load_view(store_id, found[0]) if found else None
        return build_answer(view, self._now(), self._preference) if view else None

    def lookup(
        self,
        store_id: int,
        order_number: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        postal_code: str | None = None,
    ) -> OrderStatusAnswer | None:
        """The answer only if the contact matches; None alike for no order and no match."""
        with self._uow_factory(write=False) as uow:
            found = uow.orders.find_for_lookup(store_id, spellings(order_number))
            order_id, o_email, o_phone, o_postal = found or (0, None, None, None)
            ok = False
            # Compare every given contact whether or not the order exists, so that timing
            # does not tell an unknown order from a wrong contact.
            if email is not None:
                ok |= _same(email.strip().lower(), o_email)
            if phone is not None:
                ok |= _same(phone, o_phone)
            if postal_code is not None:
                ok |= _same("".join(postal_code.split()).upper(), o_postal)
            if not (ok and found):
                return None
            view = uow.orders.load_view(store_id, order_id)
        return build_answer(view, self._now(), self._preference) if view else None

    def _now(self) -> datetime:
        return self._clock()


def _same(given: str, stored: str | None) -> bool:
    return hmac.compare_digest(given.encode(), (stored or "\x00").encode())
