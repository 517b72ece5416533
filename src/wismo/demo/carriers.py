"""Shipments leaving the warehouse and the carrier scans that follow them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wismo.demo import catalog as cat
from wismo.demo.stream import SimOrder, Stream
from wismo.demo.tracking import (
    Journey,
    Scan,
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


@dataclass(frozen=True, slots=True)
class Parcel:
    """One package of an order, as the warehouse hands it to the carrier."""

    ref: str
    carrier: str
    service: str
    transit_days: int
    ship_at: datetime
    contents: dict[str, int]  # line ref -> quantity


class Carriers:
    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._rng = stream.rng
        self._numbers: set[str] = set()

    def ship(self, sim: SimOrder, parcel: Parcel, dest: cat.Destination) -> Journey:
        """Emit the warehouse's shipment and every scan of its journey."""
        rng = self._rng
        route = _route(parcel.carrier, dest)
        origin = route[0]
        day = local_date(parcel.ship_at, origin.tz)
        if parcel.ship_at.astimezone(zone(origin.tz)).hour >= 16:
            day = add_business_days(day, 1)  # packed after the last collection
        pickup_at = at_local(workday(day), origin.tz, rng.uniform(17.5, 19.5))
        scenario = pick_scenario(rng, international=dest.place.country != origin.country)
        journey = plan_journey(
            rng,
            route,
            pickup_at,
            parcel.transit_days,
            scenario,
            gives_eta=parcel.carrier in cat.ETA_CARRIERS,
        )
        number = self.tracking_number(parcel.carrier)
        data: dict[str, Any] = {
            "order_number": sim.number,
            "shipment_ref": parcel.ref,
            "carrier": parcel.carrier,
            "tracking_number": number,
            "service_level": parcel.service,
            "lines": [{"line_ref": r, "quantity": q} for r, q in parcel.contents.items()],
            "created_at": parcel.ship_at.astimezone(zone(origin.tz)),
            "origin_region": "US-NJ" if origin.country == "US" else origin.country,
        }
        if journey.label_eta is not None and rng.random() < 0.7:
            data["estimated_delivery_at"] = journey.label_eta
        arrive = parcel.ship_at + timedelta(minutes=rng.uniform(1, 6))
        if rng.random() < 0.03:
            # The warehouse system's export lags; the carrier's first scans get there first
            # and must wait for the shipment.
            arrive = pickup_at + timedelta(hours=rng.uniform(3, 30))
            sim.tags.append("wms_lag")
        note = f"shipped with {CARRIER_NAMES[parcel.carrier]}"
        self._stream.emit(
            arrive, "wms", "shipment.created", data, order=sim.number, note=note, weight=3
        )
        for n, scan in enumerate(journey.scans):
            self._scan(sim.number, parcel.carrier, number, scan, n)
        return journey

    def _scan(self, order: str, carrier: str, number: str, scan: Scan, n: int) -> None:
        rng = self._rng
        milestone, reason = cat.KINDS[scan.kind]
        words = cat.describe(carrier, scan.kind)
        here = zone(scan.place.tz)
        data: dict[str, Any] = {
            "carrier": carrier,
            "tracking_number": number,
            "milestone": milestone.value,
            "raw_code": cat.CODES[carrier][scan.kind],
            "description": f"{words}, {scan.detail}" if scan.detail else words,
            "location": scan.place.location(),
            "occurred_at": scan.at.astimezone(here),
            "occurred_tz": scan.place.tz,
        }
        if reason.value != "none":
            data["reason"] = reason.value
        if scan.eta is not None:
            data["estimated_delivery_at"] = scan.eta.astimezone(here)
        source = f"carrier:{carrier}"
        arrive = scan.at + timedelta(minutes=rng.uniform(1, 25))
        if scan.kind in ("arrive", "depart") and rng.random() < 0.04:
            # Sort-centre scans are sometimes uploaded in bulk hours later.
            arrive = scan.at + timedelta(hours=rng.uniform(8, 36))
        note, weight = SCAN_NOTES[scan.kind]
        event_id = f"{carrier}-{number}-{n:02d}"
        emit = self._stream.emit
        emit(
            arrive,
            source,
            "tracking.event",
            data,
            order=order,
            note=note,
            weight=weight,
            event_id=event_id,
        )
        roll = rng.random()
        if roll < 0.03:
            # A webhook retry: the same event id again.
            again = arrive + timedelta(minutes=rng.uniform(1, 10))
            emit(again, source, "tracking.event", data, order=order, event_id=event_id)
        elif roll < 0.06:
            # A poll reports the same scan under its own id; only the scan's identity
            # (instant, milestone, code) shows it is not new.
            later = arrive + timedelta(hours=rng.uniform(1, 3))
            emit(later, source, "tracking.event", data, order=order, event_id=f"poll-{event_id}")

    def tracking_number(self, carrier: str) -> str:
        """A number in the carrier's own format, unique in this simulation."""
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
            if number not in self._numbers:
                self._numbers.add(number)
                return number


def _route(carrier: str, dest: cat.Destination) -> list[cat.Place]:
    """Warehouse, the sort centres the parcel passes, the customer."""
    country = dest.place.country
    hubs = cat.HUBS
    if country == "US":
        # Outside the Northeast, UPS and FedEx parcels pass their national hub.
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
