"""A parcel's journey: the carrier scans one shipment produces, by scenario.

Times follow how carriers work: collection in the warehouse's evening, sort-centre scans
spread over the transit time, arrival at the local depot before dawn, the van out in the
morning, delivery during the day, and nothing on weekends. Trouble (weather, customs, a
missed connection) happens at one hub and pushes the rest of the journey back.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from wismo.demo.catalog import DELIVERED_NOTES, Place

# (scenario, weight): most parcels simply arrive; the rest are what customers call about.
SCENARIOS: tuple[tuple[str, int], ...] = (
    ("normal", 700),
    ("attempt", 50),
    ("pickup_point", 20),
    ("weather", 40),
    ("delay", 40),
    ("slip", 30),
    ("address", 20),
    ("stuck", 30),
    ("lost", 10),
    ("damaged", 10),
    ("refused", 15),
)
# International parcels also meet customs; roughly a third are held for a while.
INTERNATIONAL_SCENARIOS = (*SCENARIOS, ("customs", 330))


@dataclass(frozen=True, slots=True)
class Scan:
    at: datetime  # UTC
    kind: str  # a key of catalog.KINDS
    place: Place
    eta: datetime | None = None
    detail: str | None = None


@dataclass(slots=True)
class Journey:
    scenario: str
    label_eta: datetime | None
    scans: list[Scan] = field(default_factory=list)
    outcome: str = "delivered"  # delivered | lost | returned | stuck
    ended_at: datetime | None = None  # when the outcome happened


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(zone(tz)).date()


def at_local(day: date, tz: str, hours: float) -> datetime:
    """The instant `hours` after midnight of `day` in zone `tz`, in UTC (whole minutes)."""
    minutes = int(hours * 60)
    clock = time(minutes // 60 % 24, minutes % 60)
    return datetime.combine(day, clock, tzinfo=zone(tz)).astimezone(UTC)


def add_business_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def pick_scenario(rng: random.Random, international: bool) -> str:
    table = INTERNATIONAL_SCENARIOS if international else SCENARIOS
    return rng.choices([s for s, _ in table], [w for _, w in table])[0]


def plan_journey(
    rng: random.Random,
    route: Sequence[Place],
    pickup_at: datetime,
    transit_days: int,
    scenario: str,
    *,
    gives_eta: bool,
) -> Journey:
    """The scans of one parcel collected at `pickup_at` along `route` (origin .. customer)."""
    origin, hubs, dest = route[0], list(route[1:-1]), route[-1]
    due = add_business_days(local_date(pickup_at, origin.tz), transit_days)
    eta = at_local(due, dest.tz, 20) if gives_eta else None
    journey = Journey(scenario, eta)
    if scenario == "stuck":
        # The label exists but the carrier never scanned the parcel.
        journey.outcome = "stuck"
        return journey
    scans = journey.scans
    scans.append(Scan(pickup_at, "pickup", origin, eta))
    slip_days = {"weather": rng.randint(1, 2), "delay": 1, "slip": rng.randint(1, 2)}
    slip_days["customs"] = rng.randint(1, 3)
    delay = slip_days.get(scenario, 0)
    new_due = add_business_days(due, delay)
    new_eta = at_local(new_due, dest.tz, 20) if gives_eta else None
    target = at_local(new_due, dest.tz, rng.uniform(3.5, 6.0))
    trouble_at = len(hubs) - 1 if scenario == "customs" else rng.randrange(len(hubs))
    leg = max((target - pickup_at - timedelta(days=delay)) / (len(hubs) + 1), timedelta(hours=1))
    t = pickup_at
    for i, hub in enumerate(hubs):
        t += leg * rng.uniform(0.55, 0.8)
        scans.append(Scan(t, "arrive", hub))
        if i == trouble_at and scenario in ("lost", "damaged"):
            return _gone(rng, journey, t, hub, origin)
        if i == trouble_at and delay:
            t += timedelta(hours=rng.uniform(1, 3))
            if scenario == "customs":
                scans.append(Scan(t, "customs", hub))
                t += timedelta(days=delay) * rng.uniform(0.8, 1.0)
                scans.append(Scan(t, "released", hub, new_eta))
            else:
                scans.append(Scan(t, scenario, hub, new_eta))
                t += timedelta(days=delay) * rng.uniform(0.7, 0.95)
        t += max(leg * rng.uniform(0.1, 0.25), timedelta(minutes=40))
        scans.append(Scan(t, "depart", hub))
    arrival = max(target, t + timedelta(hours=rng.uniform(2, 5)))
    depot = Place(dest.city, dest.region, None, dest.country, dest.tz)
    scans.append(Scan(arrival, "dest", depot))
    day = local_date(arrival, dest.tz)
    if arrival.astimezone(zone(dest.tz)).hour >= 8 or day.weekday() >= 5:
        day = add_business_days(day, 1)
    out = at_local(day, dest.tz, rng.uniform(7.0, 9.5))
    scans.append(Scan(out, "ofd", dest))
    end = out + timedelta(hours=rng.uniform(1.5, 9))
    _last_mile(rng, journey, end, dest=dest, depot=depot, origin=origin)
    return journey


def _gone(rng: random.Random, journey: Journey, t: datetime, hub: Place, origin: Place) -> Journey:
    """Lost in the network, or damaged and sent back."""
    if journey.scenario == "lost":
        # Silence first: a trace is opened only after days without a scan.
        at = t + timedelta(days=rng.uniform(4, 6))
        journey.scans.append(Scan(at, "lost", hub))
        journey.outcome, journey.ended_at = "lost", at
        return journey
    at = t + timedelta(hours=rng.uniform(2, 6))
    journey.scans.append(Scan(at, "damaged", hub))
    journey.scans.append(Scan(at + timedelta(days=1), "rts", hub))
    back = at + timedelta(days=rng.uniform(3, 6))
    journey.scans.append(Scan(back, "rtsd", origin))
    journey.outcome, journey.ended_at = "returned", back
    return journey


def _last_mile(
    rng: random.Random, journey: Journey, at: datetime, *, dest: Place, depot: Place, origin: Place
) -> None:
    scans, scenario = journey.scans, journey.scenario

    def next_day(moment: datetime, hours: tuple[float, float]) -> datetime:
        day = add_business_days(local_date(moment, dest.tz), 1)
        return at_local(day, dest.tz, rng.uniform(*hours))

    if scenario in ("attempt", "pickup_point"):
        scans.append(Scan(at, "attempt", dest))
        if scenario == "attempt":
            again = next_day(at, (7.0, 9.5))
            scans.append(Scan(again, "ofd", dest))
            at = again + timedelta(hours=rng.uniform(1.5, 8))
        else:
            shop = Place(
                dest.city, dest.region, dest.postal_code, dest.country, dest.tz, "Pickup point"
            )
            ready = next_day(at, (9.0, 11.0))
            scans.append(Scan(ready, "pickup_point", shop))
            collected = ready + timedelta(days=rng.randint(1, 3), hours=rng.uniform(-2, 7))
            scans.append(Scan(collected, "collected", shop))
            journey.ended_at = collected
            return
    elif scenario in ("address", "refused"):
        scans.append(Scan(at, scenario, dest))
        if scenario == "address" and rng.random() < 0.5:
            fixed = next_day(at, (9.0, 12.0))
            scans.append(Scan(fixed, "corrected", depot))
            again = next_day(fixed, (7.0, 9.5))
            scans.append(Scan(again, "ofd", dest))
            at = again + timedelta(hours=rng.uniform(1.5, 8))
        else:
            # The carrier holds an undeliverable parcel a few days before sending it back.
            hold = timedelta(hours=rng.uniform(1, 3) if scenario == "refused" else 24 * 4)
            scans.append(Scan(at + hold, "rts", depot))
            back = at + hold + timedelta(days=rng.uniform(4, 7))
            scans.append(Scan(back, "rtsd", origin))
            journey.outcome, journey.ended_at = "returned", back
            return
    note = rng.choice(DELIVERED_NOTES) if dest.country in ("US", "CA") else None
    scans.append(Scan(at, "delivered", dest, detail=note))
    journey.ended_at = at
