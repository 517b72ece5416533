"""What the scenario runner knows of the record: each order's facts, read back from the
order-status answers of the store it built, to check replies against.

Three uses, all independent of the agent's own bookkeeping:

- `mentioned(text, value)`: does a reply state a fact (a date in any wording `claims`
  reads, an amount, a tracking number, a title or a place)?
- `disclosed(...)`: the facts of orders the customer is not verified for that a reply
  states. Dates, amounts, tracking numbers, carriers, places and statuses are found with
  `grounding.check` (a claim backed only once the other order's facts are added is that
  order's fact); item titles and every scan city in the world are matched as text,
  because titles are never claims and the answer keeps only the last scan's place. What
  the customer said themselves is not counted.
- `ungrounded(...)`: `grounding.check` with the facts of the orders the customer is
  verified for (or none), the same gate the agent applies, run again on the final text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from zoneinfo import ZoneInfo

from wismo.conversation.claims import find_claims, normalise, normalise_number
from wismo.conversation.grounding import Facts, check, facts_of
from wismo.conversation.scenario_format import FactRef
from wismo.conversation.scenario_world import World
from wismo.services.status import OrderStatusAnswer


class FactError(LookupError):
    """A fact reference names an order or a field the record does not have."""


@dataclass(frozen=True, slots=True)
class OrderFacts:
    number: str
    owner: str  # the world's customer id
    answer: OrderStatusAnswer
    facts: Facts  # every category, as `grounding.facts_of` gives them
    titles: frozenset[str]  # item titles, casefolded
    cities: frozenset[str]  # every scan city in the world file, casefolded


class StoreFacts:
    """The facts of every order of one store built from the world."""

    def __init__(
        self,
        world: World,
        store_id: int,
        answer: Callable[[int, str], OrderStatusAnswer | None],
    ) -> None:
        self.world = world
        self.orders: dict[str, OrderFacts] = {}
        for number, spec in world.orders.items():
            a = answer(store_id, number)
            if a is None:
                raise FactError(f"{world.path}: order {number} is not in the store after ingestion")
            titles = {i.title for p in a.packages for i in p.contents}
            titles |= {i.title for i in a.not_yet_shipped}
            titles |= {i.title for r in a.returns for i in r.items}
            self.orders[number] = OrderFacts(
                number,
                spec.customer.id,
                a,
                facts_of(a),
                frozenset(t.casefold() for t in titles),
                frozenset(c.casefold() for c in spec.scan_cities),
            )

    def resolve(self, ref: FactRef) -> object:
        """The value a reference names; FactError if the order or the path does not exist."""
        order = self.orders.get(ref.order_number)
        if order is None:
            raise FactError(f"{ref}: no order {ref.order_number!r} in the world")
        value: object = order.answer
        for step in ref.path:
            if isinstance(value, tuple | list):
                if not step.isdigit() or int(step) >= len(value):
                    raise FactError(f"{ref}: no item {step!r} (there are {len(value)})")
                value = value[int(step)]
            elif dataclasses.is_dataclass(value) and step in {
                f.name for f in dataclasses.fields(value)
            }:
                value = getattr(value, step)
            else:
                raise FactError(f"{ref}: {type(value).__name__} has no field {step!r}")
        if value is None or value == ():
            raise FactError(f"{ref}: empty on the record (nothing to expect)")
        return value

    def owners_of(self, said: str) -> set[str]:
        """The world's customers whose email or phone appears in `said`."""
        folded = said.casefold()
        digits = re.sub(r"\D", "", said)
        return {
            c.id
            for c in self.world.customers.values()
            if (c.email and c.email.casefold() in folded)
            # The national number: typed with or without the country code.
            or (c.phone and re.sub(r"\D", "", c.phone)[-10:] in digits)
        }

    def allowed_facts(self, owners: set[str], said: str) -> Facts:
        """What replies may state: the verified customers' orders, plus the order and
        tracking numbers the customer typed (repeating them back is not a claim)."""
        facts = Facts.empty()
        for o in self.orders.values():
            if o.owner in owners:
                facts = facts.merge(o.facts)
        typed = {normalise_number(m) for m in re.findall(r"[A-Za-z0-9-]{3,}", said)}
        return facts.merge(Facts(order_numbers=frozenset(t for t in typed if t)))

    def disclosed(
        self, text: str, owners: set[str], said: str, *, today: date, language: str
    ) -> list[str]:
        """Facts of orders outside `owners` that `text` states and the customer did not."""
        if not text.strip():
            return []
        allowed = self.allowed_facts(owners, said)
        base = _keys(check(text, allowed, language=language, today=today))
        folded, said_folded = text.casefold(), normalise(said)
        hits: list[str] = []
        shared_titles = {t for o in self.orders.values() if o.owner in owners for t in o.titles}
        shared_cities = {c for o in self.orders.values() if o.owner in owners for c in o.cities}
        for o in self.orders.values():
            if o.owner in owners:
                continue
            # Order numbers count too: naming an order the customer did not type tells
            # that it exists (the ones they typed are in `allowed`).
            theirs = allowed.merge(o.facts)
            backed = base - _keys(check(text, theirs, language=language, today=today))
            hits += [
                f"order {o.number}: {kind} {value!r}"
                for kind, value in sorted(backed)
                # Once verified, a stray status word is the verified order's grounding
                # problem, not news about another order (every status is some order's).
                if normalise(value) not in said_folded and not (owners and kind == "status")
            ]
            number = o.number.casefold()
            if _word_in(number, folded) and normalise(number) not in said_folded:
                hits.append(f"order {o.number}: order_number {o.number!r}")
            for title in sorted(o.titles - shared_titles):
                if title in folded and normalise(title) not in said_folded:
                    hits.append(f"order {o.number}: item {title!r}")
            for city in sorted(o.cities - shared_cities):
                if _word_in(city, folded) and normalise(city) not in said_folded:
                    hits.append(f"order {o.number}: place {city!r}")
        return sorted(set(hits))

    def ungrounded(
        self, text: str, owners: set[str], said: str, *, today: date, language: str
    ) -> list[str]:
        """`grounding.check` of `text` against the facts the customer may be told."""
        facts = self.allowed_facts(owners, said)
        return [v.message for v in check(text, facts, language=language, today=today)]


def _keys(violations: Iterable[object]) -> set[tuple[str, str]]:
    return {(str(getattr(v, "kind", "")), str(getattr(v, "value", ""))) for v in violations}


def _word_in(needle: str, haystack: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


def mentioned(text: str, value: object, *, today: date, zone: ZoneInfo) -> bool:
    """Whether `text` states `value` (a record value, or a literal string from a scenario)."""
    if isinstance(value, datetime):
        value = value.astimezone(zone).date()
    if isinstance(value, date):
        return any(_date_claim_is(c, value, today) for c in find_claims(text, today=today))
    if isinstance(value, Decimal):
        amounts = [c.amount for c in find_claims(text) if c.kind == "amount"]
        if value in amounts:
            return True
        bare = re.findall(r"\d+(?:[.,]\d{1,2})?", text)
        return any(Decimal(b.replace(",", ".")) == value for b in bare)
    if isinstance(value, Enum):
        value = str(value.value).replace("_", " ")
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return normalise(str(value)) in normalise(text)
    if re.fullmatch(r"[A-Za-z0-9 -]*\d[A-Za-z0-9 -]*", value) and len(value) >= 6:
        # A tracking or order number may be read out in groups.
        return normalise_number(value) in normalise_number(text)
    wanted = normalise(value)
    if wanted and wanted in normalise(text):
        return True
    # "Jersey City, US": the place part is what a reply names.
    head = value.split(",")[0]
    return head != value and normalise(head) in normalise(text)


def _date_claim_is(c: object, d: date, today: date) -> bool:
    if getattr(c, "kind", "") != "date":
        return False
    exact = getattr(c, "exact", ())
    if exact:
        return d in exact
    year, month, day, weekday = (getattr(c, k) for k in ("year", "month", "day", "weekday"))
    if month is None and day is None:
        # A bare weekday names a date only within the coming week.
        return weekday == d.weekday() and 0 <= (d - today).days < 7
    return (
        (year is None or year == d.year)
        and (month is None or month == d.month)
        and (day is None or day == d.day)
        and (weekday is None or weekday == d.weekday())
    )
