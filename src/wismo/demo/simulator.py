"""A simulated online retailer, Northwind Outfitters, as a stream of canonical events.

`Simulation(seed, now, orders)` invents the store's last three weeks, and the week after
`now`, from one seeded `random.Random`: the same seed and `now` give byte-identical events.
Each event has the moment it reaches Wismo (`arrive_at`): `history()` is everything that
arrived up to `now`, in arrival order; the rest waits in a schedule that `due(until)`
releases as simulated time passes.

The stream is deliberately imperfect, as real feeds are: webhook retries repeat an event id,
carrier polls report a scan again under a new id, some scans arrive a day late, a few
warehouse messages lag behind the carrier's first scans (so those scans must wait for their
shipment), and an old order snapshot is sometimes redelivered after a newer one.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from wismo.demo import catalog as cat
from wismo.demo.tracking import (
    Journey,
    add_business_days,
    at_local,
    local_date,
    pick_scenario,
    plan_journey,
    workday,
    zone,
)

CARRIER_NAMES = {
    "ups": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "dhl_express": "DHL Express",
    "royalmail": "Royal Mail",
    "dpd": "DPD",
}
# What the feeder says about a scan, and how much a watcher cares (higher shows first).
SCAN_NOTES: dict[str, tuple[str, int]] = {
    "pickup": ("picked up", 2),
    "arrive": ("in transit", 1),
    "depart": ("in transit", 1),
    "dest": ("at the local depot", 2),
    "ofd": ("out for delivery", 4),
    "delivered": ("delivered", 5),
    "collected": ("collected", 5),
    "attempt": ("delivery attempt failed", 6),
    "address": ("address problem", 6),
    "refused": ("delivery refused", 6),
    "pickup_point": ("ready to collect", 5),
    "weather": ("delayed by weather", 6),
    "delay": ("running late", 5),
    "customs": ("held at customs", 6),
    "released": ("cleared customs", 4),
    "slip": ("delivery date moved", 5),
    "damaged": ("damaged", 6),
    "lost": ("lost", 6),
    "rts": ("returning to sender", 6),
    "rtsd": ("returned to sender", 5),
    "corrected": ("address corrected", 4),
}
_HOUR_WEIGHT = (1, 0.6, 0.3, 0.2, 0.2, 0.3, 0.6, 1, 1.4, 1.6, 1.7, 1.8) + (
    2,
    1.9,
    1.8,
    1.8,
    1.9,
    2.1,
    2.4,
    2.6,
    2.6,
    2.3,
    1.8,
    1.3,
)
_JSON = orjson.OPT_OMIT_MICROSECONDS
_STORE = zone(cat.STORE_ZONE)


@dataclass(frozen=True, slots=True)
class SimEvent:
    arrive_at: datetime
    seq: int
    source: str
    body: bytes
    order_number: str | None = None
    note: str = ""  # for the feeder's log line
    weight: int = 0


@dataclass(slots=True)
class SimOrder:
    """What the simulation decided about an order, for picking demo examples."""

    number: str
    placed_at: datetime
    country: str
    packages: int = 0
    tags: list[str] = field(default_factory=list)


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


@dataclass(slots=True)
class _Line:
    ref: str
    sku: str
    title: str
    quantity: int
    price: Decimal
    image: str


class Simulation:
    def __init__(
        self,
        seed: int,
        now: datetime,
        orders: int = 400,
        *,
        days: float = 21,
        horizon_days: float = 7,
    ) -> None:
        if now.utcoffset() is None:
            raise ValueError("now must carry a time zone")
        self.now = now.astimezone(UTC)
        self.orders: list[SimOrder] = []
        self._rng = random.Random(seed)
        self._events: list[SimEvent] = []
        self._counter = 0
        self._customers: list[_Customer] = []
        self._tracking_numbers: set[str] = set()
        span = timedelta(days=days)
        past = [self._placed(self.now - span, span - timedelta(minutes=15)) for _ in range(orders)]
        ahead = timedelta(days=horizon_days)
        future = [
            self._placed(self.now + timedelta(minutes=5), ahead)
            for _ in range(round(orders * horizon_days / days))
        ]
        for i, placed_at in enumerate(sorted(past) + sorted(future)):
            self._order(f"NW{1001 + i}", placed_at, in_history=i < orders)
        self._events.sort(key=lambda e: (e.arrive_at, e.seq))
        self._arrivals = [e.arrive_at for e in self._events]
        self._released = bisect.bisect_right(self._arrivals, self.now)

    # -- the public face -------------------------------------------------------------------

    def history_events(self) -> list[SimEvent]:
        return self._events[: bisect.bisect_right(self._arrivals, self.now)]

    def history(self) -> list[bytes]:
        """Every event that reached Wismo up to `now`, in arrival order."""
        return [e.body for e in self.history_events()]

    def due_events(self, until: datetime) -> list[SimEvent]:
        end = max(bisect.bisect_right(self._arrivals, until), self._released)
        batch = self._events[self._released : end]
        self._released = end
        return batch

    def due(self, until: datetime) -> list[bytes]:
        """Scheduled events that arrive after the last release and up to `until`."""
        return [e.body for e in self.due_events(until)]

    @property
    def pending(self) -> int:
        return len(self._events) - self._released

    # -- generation ------------------------------------------------------------------------

    def _placed(self, start: datetime, span: timedelta) -> datetime:
        # Rejection sampling gives the day's rhythm: quiet nights, busy evenings.
        while True:
            moment = start + span * self._rng.random()
            hour = moment.astimezone(_STORE).hour
            if self._rng.random() * 2.6 < _HOUR_WEIGHT[hour]:
                return moment.replace(microsecond=0)

    def _emit(
        self,
        arrive_at: datetime,
        source: str,
        type_: str,
        data: dict[str, Any],
        order: str | None,
        note: str = "",
        weight: int = 0,
        event_id: str | None = None,
    ) -> str:
        self._counter += 1
        event_id = event_id or f"{source.split(':')[-1]}-{self._counter:06d}"
        envelope = {"version": 1, "id": event_id, "source": source, "type": type_, "data": data}
        body = orjson.dumps(envelope, option=_JSON)
        self._events.append(SimEvent(arrive_at, self._counter, source, body, order, note, weight))
        return event_id

    def _shop(self, at: datetime, type_: str, data: dict[str, Any], order: str, note: str) -> None:
        latency = timedelta(seconds=self._rng.uniform(2, 40))
        self._emit(at + latency, "shop", type_, data, order, note, 3 if note else 0)

    def _customer(self) -> _Customer:
        rng = self._rng
        if self._customers and rng.random() < 0.25:
            return rng.choice(self._customers)
        dest = rng.choices(cat.DESTINATIONS, [d.weight for d in cat.DESTINATIONS])[0]
        country = dest.place.country
        names = "de" if country == "DE" else "fr" if country == "FR" else "en"
        first, last = rng.choice(cat.FIRST[names]), rng.choice(cat.LAST[names])
        local = f"{first}.{last}".lower().replace("ü", "ue").replace("é", "e").replace("ë", "e")
        number = f"{rng.randrange(10**dest.phone_digits):0{dest.phone_digits}d}"
        street = rng.choice(cat.STREETS[country])
        house = rng.randint(2, 480)
        line1 = f"{street} {house}" if country == "DE" else f"{house} {street}"
        customer = _Customer(
            external_id=f"cus_{len(self._customers) + 10001}",
            name=f"{first} {last}",
            email=f"{local}{rng.randint(1, 99)}@{rng.choice(cat.EMAIL_DOMAINS)}",
            phone=dest.phone_prefix + number,
            language=rng.choice(dest.languages),
            dest=dest,
            line1=line1,
            consent={"email": True, "sms": rng.random() < 0.55, "push": rng.random() < 0.3},
        )
        self._customers.append(customer)
        return customer

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
                    sku=f"{p.sku}-{variant.replace('/', '')}" if variant else p.sku,
                    title=f"{p.title}, {variant}" if variant else p.title,
                    quantity=rng.choices((1, 2, 3), (85, 12, 3))[0],
                    price=(p.price * rate).quantize(Decimal("1")).quantize(Decimal("0.01")),
                    image=f"{cat.IMAGE_BASE}/{p.sku.lower()}.jpg",
                )
            )
        return lines

    def _order(self, number: str, placed_at: datetime, *, in_history: bool) -> None:
        rng = self._rng
        customer = self._customer()
        dest = customer.dest
        country = dest.place.country
        currency = cat.CURRENCY[country]
        sim = SimOrder(number, placed_at, country)
        if in_history:
            self.orders.append(sim)
        lines = self._lines(number, currency)
        services = cat.SERVICES[country]
        method, carrier, service, transit = rng.choice(services)
        subtotal = sum((ln.price * ln.quantity for ln in lines), Decimal(0))
        fee = Decimal(cat.SHIPPING_FEE[method])
        if method == "standard" and subtotal >= cat.FREE_SHIPPING_OVER:
            fee = Decimal("0.00")
        total = subtotal + (fee * Decimal(cat.RATE[currency])).quantize(Decimal("0.01"))
        placed_on = local_date(placed_at, dest.place.tz)
        low, high = cat.PROMISE[method]
        snapshot: dict[str, Any] = {
            "order_number": number,
            "placed_at": placed_at.astimezone(_STORE),
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
            "shipping_address": {
                "name": customer.name,
                "line1": customer.line1,
                "city": dest.place.city,
                "region": dest.place.region,
                "postal_code": dest.place.postal_code,
                "country": country,
            },
            "promised_delivery": {
                "from_on": add_business_days(placed_on, low),
                "to_on": add_business_days(placed_on, high),
            },
            "total": str(total),
        }
        snapshot["shipping_address"] = {
            k: v for k, v in snapshot["shipping_address"].items() if v is not None
        }
        self._emit(
            placed_at - timedelta(seconds=rng.randint(2, 20)),
            "crm",
            "customer.upserted",
            {
                "external_id": customer.external_id,
                "name": customer.name,
                "emails": [customer.email],
                "phones": [customer.phone],
                "language": customer.language,
                "time_zone": dest.place.tz,
                "consent": customer.consent,
            },
            number,
        )
        self._shop(placed_at, "order.created", {**snapshot, "status": "placed"}, number, "placed")
        confirmed_at = placed_at + timedelta(minutes=rng.uniform(1, 12))
        confirmed = {
            **snapshot,
            "status": "confirmed",
            "confirmed_at": confirmed_at,
            "updated_at": confirmed_at,
        }
        self._shop(confirmed_at, "order.updated", confirmed, number, "")
        origin = cat.DAVENTRY if country in ("GB", "DE", "FR") else cat.EDISON
        released = _working(rng, confirmed_at + timedelta(minutes=rng.uniform(10, 90)), origin.tz)
        if rng.random() < 0.04:
            cancelled_at = confirmed_at + timedelta(hours=rng.uniform(0.3, 10))
            data = {
                "order_number": number,
                "cancelled_at": cancelled_at,
                "reason": rng.choice(cat.CANCEL_REASONS),
            }
            self._shop(cancelled_at, "order.cancelled", data, number, "cancelled")
            self._refund(sim, currency, total, cancelled_at + timedelta(minutes=20), "RF1", None)
            sim.tags.append("cancelled")
            return
        awaiting = {**confirmed, "status": "awaiting_fulfilment", "updated_at": released}
        self._shop(released, "order.updated", awaiting, number, "")
        if rng.random() < 0.03:
            # A retried webhook delivers the older snapshot after the newer one.
            late = released + timedelta(hours=rng.uniform(1, 6))
            self._emit(late, "shop", "order.updated", confirmed, number)
            sim.tags.append("stale_snapshot")
        packages = _partition(rng, lines)
        sim.packages = len(packages)
        if len(packages) > 1:
            sim.tags.append("split")
        ship_at = _working(rng, released + timedelta(hours=rng.uniform(2, 26)), origin.tz)
        delivered: list[tuple[datetime, dict[str, int]]] = []
        for k, contents in enumerate(packages, 1):
            if k > 1 and rng.random() < 0.6:
                ship_at = _working(rng, ship_at + timedelta(days=rng.uniform(1, 4)), origin.tz)
            if k == len(packages) and rng.random() < 0.04:
                ship_at = _working(rng, ship_at + timedelta(days=rng.uniform(6, 12)), origin.tz)
                sim.tags.append("backorder")
            if k > 1 and rng.random() < 0.3:
                _, carrier, service, transit = rng.choice(services)
            ref = f"{number}-P{k}"
            journey = self._shipment(sim, ref, carrier, service, transit, ship_at, contents, dest)
            sim.tags.append(journey.scenario)
            if journey.outcome == "delivered" and journey.ended_at is not None:
                delivered.append((journey.ended_at, contents))
            elif journey.outcome in ("lost", "returned") and journey.ended_at is not None:
                amount = sum(
                    (ln.price * contents[ln.ref] for ln in lines if ln.ref in contents), Decimal(0)
                )
                at = journey.ended_at + timedelta(hours=rng.uniform(4, 30))
                self._refund(sim, currency, amount, at, f"RF{k}", None)
        if delivered and rng.random() < 0.12:
            self._return(sim, lines, currency, max(delivered, key=lambda d: d[0]))

    def _shipment(
        self,
        sim: SimOrder,
        ref: str,
        carrier: str,
        service: str,
        transit: int,
        ship_at: datetime,
        contents: dict[str, int],
        dest: cat.Destination,
    ) -> Journey:
        rng = self._rng
        route = _route(carrier, dest)
        origin = route[0]
        ship_day = local_date(ship_at, origin.tz)
        if ship_at.astimezone(zone(origin.tz)).hour >= 16:
            ship_day = add_business_days(ship_day, 1)
        pickup_at = at_local(workday(ship_day), origin.tz, rng.uniform(17.5, 19.5))
        international = dest.place.country != origin.country
        scenario = pick_scenario(rng, international)
        journey = plan_journey(
            rng, route, pickup_at, transit, scenario, gives_eta=carrier in cat.ETA_CARRIERS
        )
        number = self._tracking_number(carrier)
        data: dict[str, Any] = {
            "order_number": sim.number,
            "shipment_ref": ref,
            "carrier": carrier,
            "tracking_number": number,
            "service_level": service,
            "lines": [{"line_ref": r, "quantity": q} for r, q in contents.items()],
            "created_at": ship_at.astimezone(zone(origin.tz)),
            "origin_region": origin.country if origin.country != "US" else "US-NJ",
        }
        if journey.label_eta is not None and rng.random() < 0.7:
            data["estimated_delivery_at"] = journey.label_eta
        arrive = ship_at + timedelta(minutes=rng.uniform(1, 6))
        if rng.random() < 0.03:
            # The warehouse system's export lags; the carrier's first scans get there first.
            arrive = pickup_at + timedelta(hours=rng.uniform(3, 30))
            sim.tags.append("wms_lag")
        name = CARRIER_NAMES[carrier]
        self._emit(arrive, "wms", "shipment.created", data, sim.number, f"shipped with {name}", 3)
        for n, scan in enumerate(journey.scans):
            self._scan(sim.number, carrier, number, scan, n)
        return journey

    def _scan(self, order: str, carrier: str, number: str, scan: Any, n: int) -> None:
        rng = self._rng
        milestone, reason = cat.KINDS[scan.kind]
        words = cat.describe(carrier, scan.kind)
        data: dict[str, Any] = {
            "carrier": carrier,
            "tracking_number": number,
            "milestone": milestone.value,
            "raw_code": cat.CODES[carrier][scan.kind],
            "description": f"{words}, {scan.detail}" if scan.detail else words,
            "location": scan.place.location(),
            "occurred_at": scan.at.astimezone(zone(scan.place.tz)),
            "occurred_tz": scan.place.tz,
        }
        if reason.value != "none":
            data["reason"] = reason.value
        if scan.eta is not None:
            data["estimated_delivery_at"] = scan.eta.astimezone(zone(scan.place.tz))
        source = f"carrier:{carrier}"
        arrive = scan.at + timedelta(minutes=rng.uniform(1, 25))
        if scan.kind in ("arrive", "depart") and rng.random() < 0.04:
            arrive = scan.at + timedelta(hours=rng.uniform(8, 36))
        note, weight = SCAN_NOTES[scan.kind]
        event_id = f"{carrier}-{number}-{n:02d}"
        self._emit(arrive, source, "tracking.event", data, order, note, weight, event_id)
        roll = rng.random()
        if roll < 0.03:
            # Webhook retry: the same event id again.
            again = arrive + timedelta(minutes=rng.uniform(1, 10))
            self._emit(again, source, "tracking.event", data, order, "", 0, event_id)
        elif roll < 0.06:
            # A poll reports the same scan under its own id.
            later = arrive + timedelta(hours=rng.uniform(1, 3))
            self._emit(later, source, "tracking.event", data, order, "", 0, f"poll-{event_id}")

    def _tracking_number(self, carrier: str) -> str:
        rng = self._rng

        def digits(n: int) -> str:
            return "".join(rng.choice("0123456789") for _ in range(n))

        while True:
            if carrier == "ups":
                number = f"1Z4E67W2{rng.choice(('03', '02', '66'))}{digits(8)}"
            elif carrier == "fedex":
                number = f"7{digits(11)}"
            elif carrier == "usps":
                number = f"9400{rng.choice('13')}{digits(17)}"
            elif carrier == "royalmail":
                letters = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(2))
                number = f"{letters}{digits(9)}GB"
            elif carrier == "dpd":
                number = f"1550{digits(10)}"
            else:
                number = digits(10)
            if number not in self._tracking_numbers:
                self._tracking_numbers.add(number)
                return number

    def _return(
        self,
        sim: SimOrder,
        lines: list[_Line],
        currency: str,
        delivery: tuple[datetime, dict[str, int]],
    ) -> None:
        rng = self._rng
        delivered_at, contents = delivery
        line = rng.choice([ln for ln in lines if ln.ref in contents])
        quantity = contents[line.ref]
        ref = f"RMA-{sim.number}-1"
        base = {
            "order_number": sim.number,
            "return_ref": ref,
            "reason": rng.choice(cat.RETURN_REASONS),
            "lines": [{"line_ref": line.ref, "quantity": quantity}],
        }
        sim.tags.append("return")
        at = delivered_at + timedelta(days=rng.uniform(2, 10))
        self._shop(
            at,
            "return.created",
            {**base, "state": "requested", "updated_at": at},
            sim.number,
            "return requested",
        )
        if rng.random() < 0.06:
            at += timedelta(hours=rng.uniform(4, 20))
            self._shop(
                at,
                "return.updated",
                {**base, "state": "declined", "updated_at": at},
                sim.number,
                "return declined",
            )
            return
        carrier = cat.RETURN_CARRIER[sim.country]
        tracking = {"carrier": carrier, "tracking_number": self._tracking_number(carrier)}
        steps = (
            ("approved", rng.uniform(3, 20), {}),
            ("in_transit", rng.uniform(24, 96), tracking),
            ("received", rng.uniform(72, 150), tracking),
        )
        for state, hours, extra in steps:
            at += timedelta(hours=hours)
            data = {**base, **extra, "state": state, "updated_at": at}
            self._shop(at, "return.updated", data, sim.number, f"return {state.replace('_', ' ')}")
        amount = line.price * quantity
        done = self._refund(
            sim, currency, amount, at + timedelta(hours=rng.uniform(2, 20)), "RF-R1", ref
        )
        closed = {**base, **tracking, "state": "closed", "updated_at": done + timedelta(hours=2)}
        self._shop(done + timedelta(hours=2), "return.updated", closed, sim.number, "")

    def _refund(
        self,
        sim: SimOrder,
        currency: str,
        amount: Decimal,
        at: datetime,
        suffix: str,
        return_ref: str | None,
    ) -> datetime:
        """A refund: pending when issued, processed a day or two later; returns that moment."""
        rng = self._rng
        method = "store_credit" if return_ref and rng.random() < 0.2 else "original_payment"
        data: dict[str, Any] = {
            "order_number": sim.number,
            "refund_ref": f"{sim.number}-{suffix}",
            "amount": str(amount.quantize(Decimal("0.01"))),
            "currency": currency,
            "method": method,
            "state": "pending",
            "updated_at": at,
        }
        if return_ref:
            data["return_ref"] = return_ref
        sim.tags.append("refund")
        self._shop(at, "refund.created", data, sim.number, "refund pending")
        done = at + timedelta(hours=rng.uniform(6, 48))
        processed = {**data, "state": "processed", "updated_at": done, "processed_at": done}
        if method == "original_payment" and rng.random() < 0.5:
            processed["expected_by_on"] = done.date() + timedelta(days=rng.randint(5, 10))
        self._shop(done, "refund.updated", processed, sim.number, "refund processed")
        return done


def _working(rng: random.Random, moment: datetime, tz: str) -> datetime:
    """`moment`, or the next warehouse working time after it (weekdays 08:00 to 17:00)."""
    local = moment.astimezone(zone(tz))
    if local.weekday() < 5 and 8 <= local.hour < 17:
        return moment
    day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
    return at_local(workday(day), tz, rng.uniform(8.0, 11.0))


def _partition(rng: random.Random, lines: list[_Line]) -> list[dict[str, int]]:
    """Which lines go in which package: one package usually, two or three for ~20%."""
    units = sum(ln.quantity for ln in lines)
    if units < 2 or rng.random() > 0.38:
        return [{ln.ref: ln.quantity for ln in lines}]
    count = min(rng.choice((2, 2, 2, 3)), units)
    packages: list[dict[str, int]] = [{} for _ in range(count)]
    if len(lines) >= count:
        order = list(lines)
        rng.shuffle(order)
        for i, ln in enumerate(order):
            packages[i % count][ln.ref] = ln.quantity
    else:
        # Fewer lines than packages: split a line's quantity across packages.
        slot = 0
        for ln in lines:
            for _ in range(ln.quantity):
                packages[slot % count][ln.ref] = packages[slot % count].get(ln.ref, 0) + 1
                slot += 1
    return [p for p in packages if p]


def _route(carrier: str, dest: cat.Destination) -> list[cat.Place]:
    country = dest.place.country
    hubs = cat.HUBS
    if country == "US":
        via = [hubs[carrier]] if carrier in ("ups", "fedex") and dest.hub != "NE" else []
        return [cat.EDISON, *via, hubs[dest.hub], dest.place]
    if country in ("CA", "AU"):
        return [cat.EDISON, hubs[carrier], hubs[dest.hub], dest.place]
    if country == "GB":
        return [cat.DAVENTRY, hubs["royalmail" if carrier == "royalmail" else "GB"], dest.place]
    if carrier == "dpd":
        return [cat.DAVENTRY, hubs["GB"], hubs[dest.hub], dest.place]
    via = [hubs[dest.hub]] if country == "FR" else []
    return [cat.DAVENTRY, hubs["dhl_express_eu"], *via, dest.place]
