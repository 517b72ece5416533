"""Order repository: customers, orders and their lines, returns, refunds, and the read of a
whole order for the status answer."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import Connection, bindparam, case, delete, select, update

from wismo.domain.commands import CancelOrder, UpsertRefund, UpsertReturn
from wismo.domain.milestones import Milestone
from wismo.domain.model import (
    RETURN_STAGE,
    Address,
    Channel,
    Customer,
    Money,
    Order,
    OrderLine,
    Refund,
    RefundMethod,
    RefundState,
    Return,
    ReturnState,
    ShipmentLine,
)
from wismo.domain.promise import Predicted
from wismo.services.ports import OrderRef, OrderView, ShipmentRef, ShipmentView
from wismo.storage.dialect import insert_for
from wismo.storage.shipments import predicted_from, state_from_row
from wismo.storage.sweep import load_timeline
from wismo.storage.tables import (
    customers,
    order_lines,
    orders,
    refunds,
    returns,
    shipment_lines,
    shipments,
    stores,
)


def to_minor(amount: Decimal, currency: str) -> int:
    return int((amount * (10 ** get_currency_precision(currency))).to_integral_value())


def from_minor(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-get_currency_precision(currency))


def normalise_postal_code(value: str | None) -> str | None:
    return "".join(value.split()).upper() if value else None


class SqlOrderRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_orders(self, store_id: int, numbers: Collection[str]) -> dict[str, OrderRef]:
        rows = self._conn.execute(
            select(
                orders.c.id,
                orders.c.order_number,
                orders.c.source_updated_at,
                orders.c.cancelled_at,
            ).where(orders.c.store_id == store_id, orders.c.order_number.in_(list(numbers)))
        )
        return {
            r.order_number: OrderRef(r.id, r.source_updated_at, r.cancelled_at is not None)
            for r in rows
        }

    def upsert_customer(self, customer: Customer) -> int:
        """Create or merge a customer. Sources know different parts (the CRM the language,
        the shop the phone), so a field a source leaves out keeps its stored value, and
        consent is merged per channel."""
        old = self._conn.execute(
            select(customers).where(
                customers.c.store_id == customer.store_id,
                customers.c.external_id == customer.external_id,
            )
        ).first()
        emails = [e.lower() for e in customer.emails]
        consent = {k.value: v for k, v in customer.consent.items()}
        values = {
            "name": customer.name,
            "emails": emails,
            "phones": list(customer.phones),
            "language": customer.language,
            "time_zone": customer.time_zone,
            "consent": consent,
        }
        if old is not None:
            values = {
                "name": customer.name or old.name,
                "emails": emails or list(old.emails),
                "phones": list(customer.phones) or list(old.phones),
                "language": customer.language or old.language,
                "time_zone": customer.time_zone or old.time_zone,
                "consent": {**dict(old.consent), **consent},
            }
        ins = insert_for(self._conn, customers)
        stmt = (
            ins.values(
                store_id=customer.store_id,
                external_id=customer.external_id,
                updated_at=_now(),
                **values,
            )
            .on_conflict_do_update(
                index_elements=["store_id", "external_id"],
                set_={k: ins.excluded[k] for k in (*values, "updated_at")},
            )
            .returning(customers.c.id)
        )
        customer_id = int(self._conn.execute(stmt).scalar_one())
        # Orders that arrived before their customer get linked now.
        self._conn.execute(
            update(orders)
            .where(
                orders.c.store_id == customer.store_id,
                orders.c.customer_external_id == customer.external_id,
                orders.c.customer_id.is_(None),
            )
            .values(customer_id=customer_id)
        )
        return customer_id

    def _order_values(self, order: Order, stage: Milestone) -> dict[str, Any]:
        customer_id = None
        if order.customer_external_id:
            customer_id = self._conn.execute(
                select(customers.c.id).where(
                    customers.c.store_id == order.store_id,
                    customers.c.external_id == order.customer_external_id,
                )
            ).scalar_one_or_none()
        address = order.shipping_address
        return {
            "customer_id": customer_id,
            "customer_external_id": order.customer_external_id,
            "email": order.email.lower() if order.email else None,
            "phone": order.phone,
            "postal_code": normalise_postal_code(address.postal_code if address else None),
            "shipping_address": asdict(address) if address else None,
            "currency": order.currency,
            "total_minor": to_minor(order.total, order.currency) if order.total else None,
            "stage": stage.value,
            "placed_at": order.placed_at,
            "confirmed_at": order.confirmed_at,
            "promised_from_on": order.promised_from_on,
            "promised_to_on": order.promised_to_on,
            "source_updated_at": order.source_updated_at,
            "updated_at": _now(),
        }

    def insert_order(self, order: Order, stage: Milestone) -> int:
        values = self._order_values(order, stage)
        order_id = int(
            self._conn.execute(
                orders.insert()
                .values(
                    store_id=order.store_id,
                    order_number=order.order_number,
                    cancelled_at=order.cancelled_at,
                    cancel_reason=order.cancel_reason,
                    created_at=values["updated_at"],
                    **values,
                )
                .returning(orders.c.id)
            ).scalar_one()
        )
        self._write_lines(order_id, order)
        return order_id

    def update_order(self, order_id: int, order: Order, stage: Milestone) -> None:
        values = self._order_values(order, stage)
        if order.cancelled_at is not None:
            values["cancelled_at"] = order.cancelled_at
            values["cancel_reason"] = order.cancel_reason
        # A snapshot sent after a cancellation does not revive the order's stage.
        values["stage"] = case(
            (orders.c.cancelled_at.is_not(None), orders.c.stage), else_=values["stage"]
        )
        self._conn.execute(update(orders).where(orders.c.id == order_id).values(**values))
        self._conn.execute(delete(order_lines).where(order_lines.c.order_id == order_id))
        self._write_lines(order_id, order)

    def _write_lines(self, order_id: int, order: Order) -> None:
        if not order.lines:
            return
        self._conn.execute(
            order_lines.insert(),
            [
                {
                    "order_id": order_id,
                    "line_ref": ln.line_ref,
                    "sku": ln.sku,
                    "title": ln.title,
                    "quantity": ln.quantity,
                    "unit_price_minor": (
                        to_minor(ln.unit_price, order.currency)
                        if ln.unit_price is not None
                        else None
                    ),
                    "image_url": ln.image_url,
                }
                for ln in order.lines
            ],
        )

    def cancel_order(self, order_id: int, command: CancelOrder) -> None:
        self._conn.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.cancelled_at.is_(None))
            .values(
                cancelled_at=command.cancelled_at,
                cancel_reason=command.reason,
                stage=Milestone.CANCELLED.value,
                updated_at=_now(),
            )
        )

    def upsert_return(self, order_id: int, command: UpsertReturn) -> None:
        existing = self._conn.execute(
            select(returns.c.id, returns.c.state, returns.c.updated_at).where(
                returns.c.order_id == order_id, returns.c.return_ref == command.return_ref
            )
        ).first()
        values = {
            "state": command.state.value,
            "reason": command.reason,
            "lines": [{"line_ref": ln.line_ref, "quantity": ln.quantity} for ln in command.lines],
            "carrier": command.carrier,
            "tracking_number": command.tracking_number,
            "updated_at": command.updated_at,
        }
        if existing is None:
            self._conn.execute(
                returns.insert().values(
                    order_id=order_id,
                    return_ref=command.return_ref,
                    requested_at=command.updated_at,
                    **values,
                )
            )
            return
        # A late or replayed update must not move a return back (received -> requested).
        old_stage = RETURN_STAGE[ReturnState(existing.state)]
        if RETURN_STAGE[command.state] < old_stage or command.updated_at < existing.updated_at:
            return
        if not command.lines:
            del values["lines"]
        # An update that leaves a field out (a close without the reason) keeps it.
        for key in ("reason", "carrier", "tracking_number"):
            if values[key] is None:
                del values[key]
        self._conn.execute(update(returns).where(returns.c.id == existing.id).values(**values))

    def upsert_refund(self, order_id: int, command: UpsertRefund) -> None:
        existing = self._conn.execute(
            select(refunds.c.id, refunds.c.updated_at).where(
                refunds.c.order_id == order_id, refunds.c.refund_ref == command.refund_ref
            )
        ).first()
        values = {
            "return_ref": command.return_ref,
            "amount_minor": to_minor(command.amount.amount, command.amount.currency),
            "currency": command.amount.currency,
            "method": command.method.value,
            "state": command.state.value,
            "processed_at": command.processed_at,
            "expected_by_on": command.expected_by_on,
            "updated_at": command.updated_at,
        }
        if existing is None:
            self._conn.execute(
                refunds.insert().values(order_id=order_id, refund_ref=command.refund_ref, **values)
            )
        elif command.updated_at >= existing.updated_at:
            self._conn.execute(update(refunds).where(refunds.c.id == existing.id).values(**values))

    def find_for_lookup(
        self, store_id: int, order_number: str | Sequence[str]
    ) -> tuple[int, str | None, str | None, str | None] | None:
        """The order with this number, or with the first of several spellings that exists
        (one indexed query either way, so the time taken does not depend on which)."""
        spellings = [order_number] if isinstance(order_number, str) else list(order_number)
        rows = self._conn.execute(
            select(
                orders.c.id,
                orders.c.order_number,
                orders.c.email,
                orders.c.phone,
                orders.c.postal_code,
            ).where(orders.c.store_id == store_id, orders.c.order_number.in_(spellings))
        ).all()
        by_number = {r.order_number: r for r in rows}
        row = next((by_number[n] for n in spellings if n in by_number), None)
        return (row.id, row.email, row.phone, row.postal_code) if row else None

    def load_view(self, store_id: int, order_id: int) -> OrderView | None:
        conn = self._conn
        ids = {"order_id": order_id, "store_id": store_id}
        row = conn.execute(_VIEW_ORDER, ids).first()
        if row is None:
            return None
        currency = row.currency
        lines = [_line(r, currency) for r in conn.execute(_VIEW_LINES, ids)]
        address = row.shipping_address
        order = Order(
            id=row.id,
            store_id=row.store_id,
            order_number=row.order_number,
            placed_at=row.placed_at,
            currency=currency,
            lines=lines,
            customer_external_id=row.customer_external_id,
            email=row.email,
            phone=row.phone,
            shipping_address=Address(**address) if address else None,
            promised_from_on=row.promised_from_on,
            promised_to_on=row.promised_to_on,
            confirmed_at=row.confirmed_at,
            cancelled_at=row.cancelled_at,
            cancel_reason=row.cancel_reason,
            total=from_minor(row.total_minor, currency) if row.total_minor is not None else None,
            source_updated_at=row.source_updated_at,
        )
        customer = None
        if row.customer_id is not None:
            c = conn.execute(_VIEW_CUSTOMER, {"customer_id": row.customer_id}).one()
            customer = Customer(
                id=c.id,
                store_id=c.store_id,
                external_id=c.external_id,
                name=c.name,
                emails=list(c.emails),
                phones=list(c.phones),
                language=c.language,
                time_zone=c.time_zone,
                consent={Channel(k): bool(v) for k, v in c.consent.items()},
            )
        ship_rows = conn.execute(_VIEW_SHIPMENTS, ids).all()
        lines_by_shipment: dict[int, list[ShipmentLine]] = {r.id: [] for r in ship_rows}
        if ship_rows:
            for sl in conn.execute(_VIEW_SHIPMENT_LINES, {"ids": list(lines_by_shipment)}):
                lines_by_shipment[sl.shipment_id].append(ShipmentLine(sl.line_ref, sl.quantity))
        views = tuple(
            ShipmentView(
                ref=ShipmentRef(s.id, s.order_id, s.shipment_ref, s.carrier, s.tracking_number),
                state=state_from_row(s),
                lines=tuple(lines_by_shipment[s.id]),
                service_level=s.service_level,
                created_at=s.created_at,
                predicted=_predicted(s),
                first_estimate_on=s.first_estimate_on,
                first_estimate_source=s.first_estimate_source,
                open_findings=tuple(s.open_findings or ()),
            )
            for s in ship_rows
        )
        rets = tuple(
            Return(
                id=r.id,
                order_id=r.order_id,
                return_ref=r.return_ref,
                state=ReturnState(r.state),
                requested_at=r.requested_at,
                updated_at=r.updated_at,
                reason=r.reason,
                lines=[ShipmentLine(x["line_ref"], x["quantity"]) for x in r.lines],
                carrier=r.carrier,
                tracking_number=r.tracking_number,
            )
            for r in conn.execute(_VIEW_RETURNS, ids)
        )
        refs = tuple(
            Refund(
                id=r.id,
                order_id=r.order_id,
                refund_ref=r.refund_ref,
                amount=Money(from_minor(r.amount_minor, r.currency), r.currency),
                method=RefundMethod(r.method),
                state=RefundState(r.state),
                updated_at=r.updated_at,
                processed_at=r.processed_at,
                expected_by_on=r.expected_by_on,
                return_ref=r.return_ref,
            )
            for r in conn.execute(_VIEW_REFUNDS, ids)
        )
        return OrderView(
            order=order,
            stage=Milestone(row.stage),
            customer=customer,
            shipments=views,
            returns=rets,
            refunds=refs,
            store_time_zone=row.store_time_zone,
            # Only the sweeper writes the timeline, and it stamps `predicted_at` on every
            # shipment it checks: an order none of whose shipments it saw has none to read.
            timeline=(
                tuple(load_timeline(conn, store_id, order_id))
                if any(r.predicted_at is not None for r in ship_rows)
                else ()
            ),
        )


def _line(r: Any, currency: str) -> OrderLine:
    return OrderLine(
        line_ref=r.line_ref,
        title=r.title,
        quantity=r.quantity,
        sku=r.sku,
        unit_price=(
            from_minor(r.unit_price_minor, currency) if r.unit_price_minor is not None else None
        ),
        image_url=r.image_url,
    )


def _now() -> datetime:
    return datetime.now(UTC)


# The order view's statements, built once: building a Core statement costs more than
# SQLite takes to run it, and the status answer runs these on every lookup.
_VIEW_ORDER = (
    select(orders, stores.c.time_zone.label("store_time_zone"))
    .join(stores, stores.c.id == orders.c.store_id)
    .where(orders.c.id == bindparam("order_id"), orders.c.store_id == bindparam("store_id"))
)
_VIEW_LINES = (
    select(order_lines)
    .where(order_lines.c.order_id == bindparam("order_id"))
    .order_by(order_lines.c.id)
)
_VIEW_CUSTOMER = select(customers).where(customers.c.id == bindparam("customer_id"))
_VIEW_SHIPMENTS = (
    select(shipments)
    .where(shipments.c.order_id == bindparam("order_id"))
    .order_by(shipments.c.created_at, shipments.c.id)
)
_VIEW_SHIPMENT_LINES = select(shipment_lines).where(
    shipment_lines.c.shipment_id.in_(bindparam("ids", expanding=True))
)
_VIEW_RETURNS = (
    select(returns).where(returns.c.order_id == bindparam("order_id")).order_by(returns.c.id)
)
_VIEW_REFUNDS = (
    select(refunds).where(refunds.c.order_id == bindparam("order_id")).order_by(refunds.c.id)
)


def _predicted(row: Any) -> Predicted | None:
    return predicted_from(
        row.predicted_from_on,
        row.predicted_on,
        row.predicted_to_on,
        row.predicted_confidence,
        row.predicted_basis,
    )
