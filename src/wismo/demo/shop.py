"""The shop side: customers, orders, fulfilment, cancellations, returns and refunds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from wismo.demo import catalog as cat
from wismo.demo.carriers import Carriers, Parcel
from wismo.demo.stream import SimOrder, Stream
from wismo.demo.tracking import add_business_days, at_local, local_date, workday, zone

_STORE = zone(cat.STORE_ZONE)
_CENT = Decimal("0.01")


@dataclass(slots=True)
class _Customer:
    external_id: str
    name: str
    email: str
    phone: str
    language: str
    dest: cat.Destination
    line1: str
    consent: dict[str, bool]
    fresh: bool = True  # not yet sent to Wismo


@dataclass(frozen=True, slots=True)
class _Line:
    ref: str
    sku: str
    title: str
    quantity: int
    price: Decimal
    image: str


class Shop:
    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._rng = stream.rng
        self._carriers = Carriers(stream)
        self._customers: list[_Customer] = []

    def order(self, number: str, placed_at: datetime) -> SimOrder:
        """Everything that happens to one order, from checkout to the last refund."""
        rng, stream = self._rng, self._stream
        customer = self._customer()
        dest = customer.dest
        sim = SimOrder(number, placed_at, dest.place.country)
        currency = cat.CURRENCY[sim.country]
        lines = self._lines(number, currency)
        services = cat.SERVICES[sim.country]
        method, carrier, service, transit = rng.choice(services)
        snapshot = _snapshot(sim, customer, lines, currency, method)
        if customer.fresh:
            self._emit_customer(customer, placed_at, number)
            customer.fresh = False
        if rng.random() < 0.25:
            # Payments that settle later (bank transfer, PayPal review) confirm afterwards.
            placed = {**snapshot, "status": "placed"}
            stream.shop(placed_at, "order.created", placed, number, "placed")
            confirmed_at = placed_at + timedelta(minutes=rng.uniform(1, 40))
            confirmed = {**snapshot, "status": "confirmed", "confirmed_at": confirmed_at}
            confirmed["updated_at"] = confirmed_at
            stream.shop(confirmed_at, "order.updated", confirmed, number, "")
        else:
            confirmed_at = placed_at
            confirmed = {**snapshot, "status": "confirmed", "confirmed_at": placed_at}
            stream.shop(placed_at, "order.created", confirmed, number, "placed")
        origin = cat.DAVENTRY if sim.country in ("GB", "DE", "FR") else cat.EDISON
        if rng.random() < 0.04:
            at = confirmed_at + timedelta(hours=rng.uniform(0.3, 10))
            reason = rng.choice(cat.CANCEL_REASONS)
            data = {"order_number": number, "cancelled_at": at, "reason": reason}
            stream.shop(at, "order.cancelled", data, number, "cancelled")
            self._refund(sim, currency, Decimal(snapshot["total"]), at + timedelta(minutes=20))
            sim.tags.append("cancelled")
            return sim
        released = _working(rng, confirmed_at + timedelta(minutes=rng.uniform(10, 90)), origin.tz)
        awaiting = {**confirmed, "status": "awaiting_fulfilment", "updated_at": released}
        stream.shop(released, "order.updated", awaiting, number, "")
        if rng.random() < 0.03:
            # A retried webhook delivers the older snapshot after the newer one.
            late = released + timedelta(hours=rng.uniform(1, 6))
            stream.emit(late, "shop", "order.updated", confirmed, order=number)
            sim.tags.append("stale_snapshot")
        choice = (carrier, service, transit)
        self._fulfil(sim, lines, dest=dest, origin=origin, released=released, choice=choice)
        return sim

    def _fulfil(
        self,
        sim: SimOrder,
        lines: list[_Line],
        *,
        dest: cat.Destination,
        origin: cat.Place,
        released: datetime,
        choice: tuple[str, str, int],
    ) -> None:
        """Pack and ship the order, then refund what never arrived and take returns."""
        rng, number = self._rng, sim.number
        carrier, service, transit = choice
        currency = cat.CURRENCY[sim.country]
        ship_at = _working(rng, released + timedelta(hours=rng.uniform(2, 26)), origin.tz)
        packages = _partition(rng, lines)
        sim.packages = len(packages)
        if len(packages) > 1:
            sim.tags.append("split")
        delivered: list[tuple[datetime, dict[str, int]]] = []
        for k, contents in enumerate(packages, 1):
            if k > 1 and rng.random() < 0.45:
                # Not everything is in stock at once: the rest follows days later.
                ship_at = _working(rng, ship_at + timedelta(days=rng.uniform(1, 3)), origin.tz)
            if k == len(packages) and rng.random() < 0.04:
                ship_at = _working(rng, ship_at + timedelta(days=rng.uniform(6, 12)), origin.tz)
                sim.tags.append("backorder")
            if k > 1 and rng.random() < 0.3:
                _, carrier, service, transit = rng.choice(cat.SERVICES[sim.country])
            parcel = Parcel(f"{number}-P{k}", carrier, service, transit, ship_at, contents)
            journey = self._carriers.ship(sim, parcel, dest)
            sim.tags.append(journey.scenario)
            if journey.ended_at is None:
                continue
            if journey.outcome == "delivered":
                delivered.append((journey.ended_at, contents))
            elif journey.outcome in ("lost", "returned"):
                amount = sum((ln.price * contents.get(ln.ref, 0) for ln in lines), Decimal(0))
                at = journey.ended_at + timedelta(hours=rng.uniform(4, 30))
                self._refund(sim, currency, amount, at, suffix=f"RF{k}")
        if delivered and rng.random() < 0.12:
            self._return(sim, lines, currency, max(delivered, key=lambda d: d[0]))

    def _customer(self) -> _Customer:
        rng = self._rng
        if self._customers and rng.random() < 0.25:
            return rng.choice(self._customers)  # a returning customer
        dest = rng.choices(cat.DESTINATIONS, [d.weight for d in cat.DESTINATIONS])[0]
        country = dest.place.country
        names = {"DE": "de", "FR": "fr"}.get(country, "en")
        first, last = rng.choice(cat.FIRST[names]), rng.choice(cat.LAST[names])
        local = f"{first}.{last}".lower()
        for accented, plain in (("ü", "ue"), ("é", "e"), ("è", "e"), ("ë", "e")):
            local = local.replace(accented, plain)
        house, street = rng.randint(2, 480), rng.choice(cat.STREETS[country])
        customer = _Customer(
            external_id=f"cus_{len(self._customers) + 10001}",
            name=f"{first} {last}",
            email=f"{local}{rng.randint(1, 99)}@{rng.choice(cat.EMAIL_DOMAINS)}",
            phone=dest.phone_prefix
            + f"{rng.randrange(10**dest.phone_digits):0{dest.phone_digits}d}",
            language=rng.choice(dest.languages),
            dest=dest,
            line1=f"{street} {house}" if country == "DE" else f"{house} {street}",
            consent={"email": True, "sms": rng.random() < 0.55, "push": rng.random() < 0.3},
        )
        self._customers.append(customer)
        return customer

    def _emit_customer(self, customer: _Customer, placed_at: datetime, number: str) -> None:
        data = {
            "external_id": customer.external_id,
            "name": customer.name,
            "emails": [customer.email],
            "phones": [customer.phone],
            "language": customer.language,
            "time_zone": customer.dest.place.tz,
            "consent": customer.consent,
        }
        # The CRM syncs the customer just before checkout completes.
        at = placed_at - timedelta(seconds=self._rng.randint(2, 20))
        self._stream.emit(at, "crm", "customer.upserted", data, order=number)

    def _lines(self, number: str, currency: str) -> list[_Line]:
        rng = self._rng
        count = rng.choices((1, 2, 3, 4), (45, 30, 17, 8))[0]
        # Cheaper things sell more often.
        weights = [1 / float(p.price) ** 0.5 for p in cat.PRODUCTS]
        chosen: list[cat.Product] = []
        while len(chosen) < count:
            product = rng.choices(cat.PRODUCTS, weights)[0]
            if product not in chosen:
                chosen.append(product)
        rate = Decimal(cat.RATE[currency])
        lines = []
        for i, p in enumerate(chosen, 1):
            variant = rng.choice(p.variants) if p.variants else None
            lines.append(
                _Line(
                    ref=f"{number}-L{i}",
                    sku=f"{p.sku}-{variant.replace('/', '').replace(' ', '')}"
                    if variant
                    else p.sku,
                    title=f"{p.title} ({variant})" if variant else p.title,
                    quantity=rng.choices((1, 2, 3), (85, 12, 3))[0],
                    price=(p.price * rate).quantize(Decimal(1)).quantize(_CENT),
                    image=f"{cat.IMAGE_BASE}/{p.sku.lower()}.jpg",
                )
            )
        return lines

    def _return(
        self,
        sim: SimOrder,
        lines: list[_Line],
        currency: str,
        delivery: tuple[datetime, dict[str, int]],
    ) -> None:
        rng, stream = self._rng, self._stream
        delivered_at, contents = delivery
        line = rng.choice([ln for ln in lines if ln.ref in contents])
        quantity = contents[line.ref]
        ref = f"RMA-{sim.number}-1"
        base: dict[str, Any] = {
            "order_number": sim.number,
            "return_ref": ref,
            "reason": rng.choice(cat.RETURN_REASONS),
            "lines": [{"line_ref": line.ref, "quantity": quantity}],
        }
        sim.tags.append("return")
        at = delivered_at + timedelta(days=rng.uniform(2, 10))
        data = {**base, "state": "requested", "updated_at": at}
        stream.shop(at, "return.created", data, sim.number, "return requested")
        if rng.random() < 0.06:
            at += timedelta(hours=rng.uniform(4, 20))
            data = {**base, "state": "declined", "updated_at": at}
            stream.shop(at, "return.updated", data, sim.number, "return declined")
            return
        carrier = cat.RETURN_CARRIER[sim.country]
        label = {"carrier": carrier, "tracking_number": self._carriers.tracking_number(carrier)}
        steps: tuple[tuple[str, float, dict[str, str]], ...] = (
            ("approved", rng.uniform(3, 20), {}),
            ("in_transit", rng.uniform(24, 96), label),
            ("received", rng.uniform(72, 150), label),
        )
        for state, hours, extra in steps:
            at += timedelta(hours=hours)
            data = {**base, **extra, "state": state, "updated_at": at}
            note = f"return {state.replace('_', ' ')}"
            stream.shop(at, "return.updated", data, sim.number, note)
        issued = at + timedelta(hours=rng.uniform(2, 20))
        done = self._refund(
            sim, currency, line.price * quantity, issued, suffix="RF-R1", return_ref=ref
        )
        closed_at = done + timedelta(hours=2)
        data = {**base, **label, "state": "closed", "updated_at": closed_at}
        stream.shop(closed_at, "return.updated", data, sim.number, "return closed")

    def _refund(
        self,
        sim: SimOrder,
        currency: str,
        amount: Decimal,
        at: datetime,
        *,
        suffix: str = "RF1",
        return_ref: str | None = None,
    ) -> datetime:
        """A refund: pending when issued, processed a day or two later (returned)."""
        rng, stream = self._rng, self._stream
        method = "store_credit" if return_ref and rng.random() < 0.2 else "original_payment"
        data: dict[str, Any] = {
            "order_number": sim.number,
            "refund_ref": f"{sim.number}-{suffix}",
            "amount": str(amount.quantize(_CENT)),
            "currency": currency,
            "method": method,
            "state": "pending",
            "updated_at": at,
        }
        if return_ref:
            data["return_ref"] = return_ref
        sim.tags.append("refund")
        stream.shop(at, "refund.created", data, sim.number, "refund pending")
        done = at + timedelta(hours=rng.uniform(6, 48))
        processed = {**data, "state": "processed", "updated_at": done, "processed_at": done}
        if method == "original_payment" and rng.random() < 0.5:
            processed["expected_by_on"] = done.date() + timedelta(days=rng.randint(5, 10))
        stream.shop(done, "refund.updated", processed, sim.number, "refund processed")
        return done


def _snapshot(
    sim: SimOrder, customer: _Customer, lines: list[_Line], currency: str, method: str
) -> dict[str, Any]:
    """The order as the shop sends it on every change (a full snapshot)."""
    subtotal = sum((ln.price * ln.quantity for ln in lines), Decimal(0))
    fee = Decimal(cat.SHIPPING_FEE[method]) * Decimal(cat.RATE[currency])
    if method == "standard" and subtotal >= cat.FREE_SHIPPING_OVER:
        fee = Decimal(0)
    place = customer.dest.place
    placed_on = local_date(sim.placed_at, place.tz)
    low, high = cat.PROMISE[method]
    address = {
        "name": customer.name,
        "line1": customer.line1,
        "city": place.city,
        "region": place.region,
        "postal_code": place.postal_code,
        "country": place.country,
    }
    return {
        "order_number": sim.number,
        "placed_at": sim.placed_at.astimezone(_STORE),
        "currency": currency,
        "lines": [
            {
                "line_ref": ln.ref,
                "title": ln.title,
                "quantity": ln.quantity,
                "sku": ln.sku,
                "unit_price": str(ln.price),
                "image_url": ln.image,
            }
            for ln in lines
        ],
        "customer_external_id": customer.external_id,
        "email": customer.email,
        "phone": customer.phone,
        "shipping_address": {k: v for k, v in address.items() if v is not None},
        "promised_delivery": {
            "from_on": add_business_days(placed_on, low),
            "to_on": add_business_days(placed_on, high),
        },
        "total": str((subtotal + fee).quantize(_CENT)),
    }


def _working(rng: Any, moment: datetime, tz: str) -> datetime:
    """`moment`, or the next warehouse working time after it (weekdays 08:00 to 17:00)."""
    local = moment.astimezone(zone(tz))
    if local.weekday() < 5 and 8 <= local.hour < 17:
        return moment
    day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
    return at_local(workday(day), tz, rng.uniform(8.0, 11.0))


def _partition(rng: Any, lines: list[_Line]) -> list[dict[str, int]]:
    """Which lines go in which package: one package usually, two or three for ~20%."""
    units = sum(ln.quantity for ln in lines)
    if units < 2 or rng.random() > 0.38:
        return [{ln.ref: ln.quantity for ln in lines}]
    count = min(rng.choice((2, 2, 2, 3)), units)
    packages: list[dict[str, int]] = [{} for _ in range(count)]
    if len(lines) >= count:
        shuffled = list(lines)
        rng.shuffle(shuffled)
        for i, ln in enumerate(shuffled):
            packages[i % count][ln.ref] = ln.quantity
    else:
        # Fewer lines than packages: a line's units travel in different packages.
        slot = 0
        for ln in lines:
            for _ in range(ln.quantity):
                box = packages[slot % count]
                box[ln.ref] = box.get(ln.ref, 0) + 1
                slot += 1
    return [p for p in packages if p]
