"""Grounding: every date, time, status, place, amount, carrier, tracking and order number in
a reply must come from the order record, and only from the categories the customer may see.

`facts_of(answer, allowed)` lists what the record says, limited to the allowed categories;
`check(text, facts)` finds the claims in any text (our templates' output, or a language
model's rephrasing) and returns one `Violation` per claim the facts do not back. The check
runs on the final text, so it is the last gate for disclosure as well as for accuracy: a
tracking number in a reply to a customer who may not see tracking is a violation, because
`facts_of` left it out. How claims are found, and the limits of that, is in `claims`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from wismo.conversation.claims import Claim, find_claims, normalise, normalise_number
from wismo.conversation.policy import Category
from wismo.domain.milestones import PROBLEM_MILESTONES, Milestone, Reason
from wismo.domain.zones import zone as zone_named
from wismo.services.status import OrderStatusAnswer, Package, carrier_name

# A finding that is itself a statement about a status the parcel may have left since.
_FINDING_STATUSES = {
    "out_for_delivery_not_delivered": Milestone.OUT_FOR_DELIVERY.value,
    "split_stalled": Milestone.IN_TRANSIT.value,  # "the rest of your order is on its way"
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What a reply may state. Numbers, places and carriers are normalised (`claims`)."""

    dates: frozenset[date] = frozenset()
    times: frozenset[time] = frozenset()  # hour and minute, in the zone the reply shows
    statuses: frozenset[str] = frozenset()  # milestone codes and the pseudo-codes in claims
    places: frozenset[str] = frozenset()
    amounts: frozenset[tuple[Decimal, str]] = frozenset()  # (amount, ISO currency)
    tracking_numbers: frozenset[str] = frozenset()
    order_numbers: frozenset[str] = frozenset()
    carriers: frozenset[str] = frozenset()
    quoted: frozenset[str] = field(default=frozenset())  # record text used verbatim

    @classmethod
    def empty(cls) -> Facts:
        return cls()

    def merge(self, other: Facts) -> Facts:
        return Facts(
            **{f.name: getattr(self, f.name) | getattr(other, f.name) for f in fields(self)}
        )


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # date | time | amount | tracking_number | order_number | carrier | place | status
    value: str  # the claim as written
    message: str


def facts_of(answer: OrderStatusAnswer, allowed: frozenset[Category] | None = None) -> Facts:
    """The record's facts, limited to `allowed` categories (all when None).

    Dates are local: delivery instants in the answer's zone, scans in the zone the carrier
    reported, as the replies and the tracking page show them.
    """
    can = allowed if allowed is not None else frozenset(Category)
    zone = zone_named(answer.time_zone)
    b = _Builder()
    b.order_numbers.add(normalise_number(answer.order_number))
    if Category.STATUS in can:
        b.day(answer.placed_at, zone)
        b.statuses.add(answer.status.value)
        if answer.cancelled:
            b.statuses.add(Milestone.CANCELLED.value)
        if answer.late or answer.predicted_late or answer.status in PROBLEM_MILESTONES:
            b.statuses.add("delayed")
        if answer.problem is not None:
            b.statuses.add(f"reason:{answer.problem.code}")
    for p in answer.packages:
        _package_facts(b, p, can, zone)
    if Category.ESTIMATE in can:
        b.estimate(answer.estimate)
        b.estimate(answer.promised)
    if Category.ITEMS in can:
        b.quoted |= {i.title for i in answer.not_yet_shipped}
    if Category.RETURNS in can:
        for r in answer.returns:
            b.statuses.add(f"return:{r.state.value}")
            b.day(r.updated_at, zone)
            if r.carrier:
                b.carrier(carrier_name(r.carrier))
            if r.tracking_number:
                b.tracking_numbers.add(normalise_number(r.tracking_number))
            if Category.ITEMS in can:
                b.quoted |= {i.title for i in r.items}
    if Category.REFUNDS in can:
        for f in answer.refunds:
            b.statuses.add(f"refund:{f.state.value}")
            if f.expected_by_on:
                b.dates.add(f.expected_by_on)
            if f.processed_at:
                b.day(f.processed_at, zone)
            if Category.AMOUNTS in can:
                currency = f.currency.upper()
                # As shown: babel rounds to the currency's digits (no cents in yen).
                shown = f.amount.quantize(Decimal(10) ** -get_currency_precision(currency))
                b.amounts |= {(f.amount, currency), (shown, currency)}
    return b.build()


def _package_facts(b: _Builder, p: Package, can: frozenset[Category], zone: ZoneInfo) -> None:
    if Category.STATUS in can:
        b.statuses |= {p.status.value, f"reason:{p.reason.value}"}
        b.statuses |= {f"reason:{a.code}" for a in p.alerts}
        b.statuses |= {_FINDING_STATUSES[a.code] for a in p.alerts if a.code in _FINDING_STATUSES}
        if (
            p.late
            or p.predicted_late
            or p.problem is not None
            or p.alerts
            or p.status in PROBLEM_MILESTONES
            or p.reason is not Reason.NONE
        ):
            b.statuses.add("delayed")
        b.carrier(p.carrier_name)
        if p.delivered_at is not None:
            b.moment(p.delivered_at, zone)
    if Category.TRACKING in can:
        b.carrier(p.carrier_name)
        if p.tracking_number:
            b.tracking_numbers.add(normalise_number(p.tracking_number))
        if p.last_scan is not None:
            b.moment(p.last_scan.at, None)
            if p.last_scan.location:
                b.place(p.last_scan.location)
    if Category.ESTIMATE in can:
        for e in (p.estimate, p.first_estimate):
            b.estimate(e)
    if Category.ITEMS in can:
        b.quoted |= {i.title for i in p.contents}


class _Builder:
    def __init__(self) -> None:
        self.dates: set[date] = set()
        self.times: set[time] = set()
        self.statuses: set[str] = set()
        self.places: set[str] = set()
        self.amounts: set[tuple[Decimal, str]] = set()
        self.tracking_numbers: set[str] = set()
        self.order_numbers: set[str] = set()
        self.carriers: set[str] = set()
        self.quoted: set[str] = set()

    def day(self, moment: datetime, zone: ZoneInfo | None) -> None:
        self.dates.add((moment.astimezone(zone) if zone else moment).date())

    def moment(self, moment: datetime, zone: ZoneInfo | None) -> None:
        local = moment.astimezone(zone) if zone else moment
        self.dates.add(local.date())
        self.times.add(time(local.hour, local.minute))

    def estimate(self, e: object) -> None:
        for name in ("from_on", "to_on", "likely_on"):
            value = getattr(e, name, None)
            if isinstance(value, date):
                self.dates.add(value)

    def carrier(self, name: str) -> None:
        self.carriers.add(normalise(name))

    def place(self, location: str) -> None:
        self.places.add(normalise(location))
        self.quoted.add(location)

    def build(self) -> Facts:
        return Facts(
            frozenset(self.dates),
            frozenset(self.times),
            frozenset(self.statuses),
            frozenset(self.places),
            frozenset(self.amounts),
            frozenset(self.tracking_numbers),
            frozenset(self.order_numbers),
            frozenset(self.carriers),
            frozenset(self.quoted),
        )


def check(
    text: str, facts: Facts, *, language: str = "en", today: date | None = None
) -> list[Violation]:
    """The claims in `text` that `facts` do not back; empty when the text is grounded.

    Both languages' vocabularies are read whatever `language` says (a rephrasing may mix
    them); `language` only words the messages. Relative days ("tomorrow", "mañana") are
    checked only when `today` (the customer's local date) is given.
    """
    del language  # messages are for logs and reviewers, in English
    claims = find_claims(
        text,
        quoted=facts.quoted,
        currencies={currency for _, currency in facts.amounts},
        today=today,
    )
    return [v for c in claims if (v := _violation(c, facts)) is not None]


def _violation(c: Claim, facts: Facts) -> Violation | None:
    if c.kind == "date":
        if not c.exact and c.month is None and c.day is None and c.weekday is None:
            return None
        if _date_ok(c, facts.dates):
            return None
        return Violation("date", c.text, f"the date {c.text!r} is not on the order record")
    if c.kind == "time":
        if time(c.hour % 24, c.minute) in facts.times:
            return None
        return Violation("time", c.text, f"the time {c.text!r} is not on the order record")
    if c.kind == "amount":
        if any(
            c.amount == a and (not c.currencies or cur in c.currencies) for a, cur in facts.amounts
        ):
            return None
        return Violation("amount", c.text, f"the amount {c.text!r} is not on the order record")
    if c.kind == "tracking_number":
        known = facts.tracking_numbers | facts.order_numbers
        if c.token in known or (c.grouped and any(k in c.token or c.token in k for k in known)):
            return None
        return Violation(
            "tracking_number", c.text, f"{c.text!r} is not a tracking number on record"
        )
    if c.kind == "order_number":
        if c.token in facts.order_numbers or c.token in facts.tracking_numbers:
            return None
        return Violation("order_number", c.text, f"{c.text!r} is not the order being discussed")
    if c.kind == "carrier":
        if any(_word_prefix(c.token, k) or _word_prefix(k, c.token) for k in facts.carriers):
            return None
        return Violation("carrier", c.text, f"{c.text} is not a carrier of this order")
    if c.kind == "place":
        if _place_ok(c.token, facts.places):
            return None
        return Violation("place", c.text, f"{c.text!r} is not a place on the order record")
    if c.codes & facts.statuses:
        return None
    return Violation("status", c.text, f"{c.text!r} does not match the order's status")


def _date_ok(c: Claim, dates: Iterable[date]) -> bool:
    if c.exact:
        return any(d in dates for d in c.exact)
    return any(
        (c.year is None or d.year == c.year)
        and (c.month is None or d.month == c.month)
        and (c.day is None or d.day == c.day)
        and (c.weekday is None or d.weekday() == c.weekday)
        for d in dates
    )


def _word_prefix(short: str, long: str) -> bool:
    return long == short or long.startswith(short + " ")


def _place_ok(token: str, places: Iterable[str]) -> bool:
    """Every word of the place (up to its first comma-separated region, which carriers
    write in many ways) must be a word of one place on record."""
    words = token.split()
    for place in places:
        known = set(place.split())
        if all(w in known for w in words):
            return True
    return False
