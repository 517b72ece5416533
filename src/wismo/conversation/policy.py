"""Who the customer is proven to be, and what the agent may tell them about an order.

Nothing order-specific is disclosed below `Level.VERIFIED`, and only for the orders the
identity was verified for: knowing an order number proves nothing (it is printed on
parcels and e-mails that others see). What a verified customer may hear depends on *how*
they were verified. The default (`DEFAULT_RULES`):

==========  ==========================================  =================================
category    what it covers                              unlocked by
==========  ==========================================  =================================
status      where the order is, problems, delays        postal_code, email, phone, link,
                                                        otp
estimate    expected and promised delivery dates        (as status)
tracking    carrier, tracking numbers, last scan place  (as status)
returns     return states                               (as status)
refunds     refund states and expected dates            (as status)
items       what is in each package                     email, phone, link, otp
amounts     money (refund amounts)                      email, phone, link, otp
address     the delivery address                        otp
==========  ==========================================  =================================

A postal code is weak proof (it is on the parcel label), so it unlocks only what the
tracking page shows to anyone with the order number and a contact; an e-mail address or a
phone number on file, or a one-time code sent to one, is strong.

`link`: the conversation was opened from the order's own tracking page, reached through a
signed, expiring order link (`wismo.services.links`). Such links are sent only to the
order's own contact, or made by the page after a successful order number + contact lookup,
so holding one proves possession of that contact much as a one-time code does, for that one
order only (never "as the customer": other orders need their own verification). By default
it unlocks what an e-mail or phone unlocks, which is what the page itself shows its holder
(including items and refund amounts, and also after a lookup by postal code: the agent
adds nothing the page does not). Not the delivery address, which the page does not show
and which stays behind a one-time code, since a link can be forwarded.

A store can demand stronger proof per category (`{"status": ["otp"]}`, or
`{"items": ["email", "phone", "otp"]}` to keep items from link holders), or switch a
category off with an empty list, but never weaken the default: the default is the floor
this project stands behind. The status is the least a verified customer sees, so every
other category needs the status's methods as well: a store that demands a one-time code
for the status demands it for all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Level(IntEnum):
    ANONYMOUS = 0  # nothing known
    IDENTIFIED = 1  # claims to be someone (a signed-in widget, a known phone): not proof
    VERIFIED = 2  # proved a contact on file for the orders in `Identity.order_ids`


class Method(StrEnum):
    """How the customer proved who they are, weakest first."""

    POSTAL_CODE = "postal_code"
    EMAIL = "email"
    PHONE = "phone"
    LINK = "link"  # opened from the order's signed tracking link: that one order only
    OTP = "otp"


ANY_METHOD = frozenset(Method)
STRONG_METHODS = frozenset({Method.EMAIL, Method.PHONE, Method.LINK, Method.OTP})


@dataclass(frozen=True, slots=True)
class Identity:
    """The customer on one conversation, as far as it is proven."""

    level: Level = Level.ANONYMOUS
    method: Method | None = None
    customer_id: int | None = None
    order_ids: frozenset[int] = frozenset()  # orders the verification holds for
    contact: str | None = None  # the e-mail or phone they proved (or claim, if identified)

    def __post_init__(self) -> None:
        if self.level is Level.VERIFIED and self.method is None:
            raise ValueError("a verified identity needs the method it was verified with")

    def verified_for(self, order_id: int) -> bool:
        return (
            self.level >= Level.VERIFIED and self.method is not None and order_id in self.order_ids
        )


ANONYMOUS = Identity()


class Category(StrEnum):
    STATUS = "status"
    ESTIMATE = "estimate"
    TRACKING = "tracking"
    ITEMS = "items"
    AMOUNTS = "amounts"
    ADDRESS = "address"
    RETURNS = "returns"
    REFUNDS = "refunds"


DEFAULT_RULES: Mapping[Category, frozenset[Method]] = {
    Category.STATUS: ANY_METHOD,
    Category.ESTIMATE: ANY_METHOD,
    Category.TRACKING: ANY_METHOD,
    Category.RETURNS: ANY_METHOD,
    Category.REFUNDS: ANY_METHOD,
    Category.ITEMS: STRONG_METHODS,
    Category.AMOUNTS: STRONG_METHODS,
    Category.ADDRESS: frozenset({Method.OTP}),
}


class DisclosurePolicy:
    """Which verification methods unlock each category of order facts."""

    def __init__(self, rules: Mapping[Category, frozenset[Method]] | None = None) -> None:
        self._rules = dict(DEFAULT_RULES if rules is None else rules)
        for category in Category:
            self._rules.setdefault(category, frozenset())

    @classmethod
    def from_config(cls, config: Mapping[str, object] | None) -> DisclosurePolicy:
        """A policy from a store's settings: category -> list of methods.

        Categories not named keep the default. Raises ValueError naming the bad key: an
        unknown category or method, a value that is not a list of method names, or a method
        weaker than the default allows for that category.
        """
        rules = dict(DEFAULT_RULES)
        for key, value in (config or {}).items():
            try:
                category = Category(key)
            except ValueError:
                known = ", ".join(c.value for c in Category)
                raise ValueError(f"disclosure.{key}: unknown category (one of {known})") from None
            methods = _methods(key, value)
            weaker = methods - DEFAULT_RULES[category]
            if weaker:
                names = ", ".join(sorted(weaker))
                raise ValueError(
                    f"disclosure.{key}: {names} is weaker than this category allows "
                    f"(at most {', '.join(sorted(DEFAULT_RULES[category]))})"
                )
            rules[category] = methods
        return cls(rules)

    def methods_for(self, category: Category) -> frozenset[Method]:
        """The methods that unlock a category (empty: never disclosed in conversation)."""
        return self._rules[category]

    def allows(self, category: Category, identity: Identity, order_id: int) -> bool:
        if not identity.verified_for(order_id):
            return False
        method = identity.method
        return method in self._rules[category] and method in self._rules[Category.STATUS]

    def allowed(self, identity: Identity, order_id: int) -> frozenset[Category]:
        return frozenset(c for c in Category if self.allows(c, identity, order_id))

    def __repr__(self) -> str:
        rules = {c.value: sorted(m.value for m in ms) for c, ms in self._rules.items()}
        return f"DisclosurePolicy({rules})"


def _methods(key: str, value: object) -> frozenset[Method]:
    names: Iterable[object]
    if isinstance(value, str):
        names = [value]
    elif isinstance(value, list | tuple | set | frozenset):
        names = value
    else:
        raise ValueError(f"disclosure.{key}: expected a list of methods")
    out = set()
    for name in names:
        try:
            out.add(Method(str(name)))
        except ValueError:
            known = ", ".join(m.value for m in Method)
            raise ValueError(
                f"disclosure.{key}: unknown method {name!r} (one of {known})"
            ) from None
    return frozenset(out)
