"""Identity levels and the disclosure policy: who may hear which facts about an order."""

from __future__ import annotations

import pytest

from wismo.conversation.policy import (
    ANONYMOUS,
    Category,
    DisclosurePolicy,
    Identity,
    Level,
    Method,
)

ORDER = 42
SAFE = frozenset(
    {Category.STATUS, Category.ESTIMATE, Category.TRACKING, Category.RETURNS, Category.REFUNDS}
)


def verified(method: Method, *orders: int) -> Identity:
    return Identity(Level.VERIFIED, method, customer_id=1, order_ids=frozenset(orders or {ORDER}))


def test_nothing_order_specific_before_verification() -> None:
    """Anonymous and merely identified customers get no category for any order."""
    policy = DisclosurePolicy()
    identified = Identity(Level.IDENTIFIED, Method.EMAIL, 1, frozenset({ORDER}), "a@b.example")
    assert policy.allowed(ANONYMOUS, ORDER) == frozenset()
    assert policy.allowed(identified, ORDER) == frozenset()
    assert not policy.allows(Category.STATUS, identified, ORDER)


def test_verification_holds_only_for_the_orders_it_was_for() -> None:
    """Verifying for one order unlocks nothing about another."""
    policy = DisclosurePolicy()
    assert policy.allowed(verified(Method.OTP, 7), ORDER) == frozenset()
    assert Category.STATUS in policy.allowed(verified(Method.OTP, 7), 7)


def test_postal_code_unlocks_what_the_tracking_page_shows_but_not_items_or_amounts() -> None:
    """A postal code (weak) gives status, dates, tracking, returns and refund states only."""
    assert DisclosurePolicy().allowed(verified(Method.POSTAL_CODE), ORDER) == SAFE


@pytest.mark.parametrize("method", [Method.EMAIL, Method.PHONE])
def test_strong_contact_adds_items_and_amounts_but_not_the_address(method: Method) -> None:
    """An e-mail or phone on file unlocks items and amounts; the address needs a code."""
    allowed = DisclosurePolicy().allowed(verified(method), ORDER)
    assert allowed == SAFE | {Category.ITEMS, Category.AMOUNTS}


def test_one_time_code_unlocks_everything() -> None:
    """Only a one-time code unlocks the delivery address."""
    assert DisclosurePolicy().allowed(verified(Method.OTP), ORDER) == frozenset(Category)


def test_store_can_demand_a_code_for_the_status_and_so_for_everything() -> None:
    """Demanding a one-time code for the status withholds every category from other methods."""
    policy = DisclosurePolicy.from_config({"status": ["otp"]})
    assert policy.allowed(verified(Method.EMAIL), ORDER) == frozenset()
    assert policy.allowed(verified(Method.POSTAL_CODE), ORDER) == frozenset()
    assert policy.allowed(verified(Method.OTP), ORDER) == frozenset(Category)


def test_store_can_demand_stronger_proof_for_one_category() -> None:
    """Items behind a code: e-mail verification keeps amounts but loses items."""
    policy = DisclosurePolicy.from_config({"items": ["otp"], "tracking": "email"})
    email = policy.allowed(verified(Method.EMAIL), ORDER)
    assert Category.ITEMS not in email
    assert Category.AMOUNTS in email
    assert Category.TRACKING in email
    assert Category.TRACKING not in policy.allowed(verified(Method.POSTAL_CODE), ORDER)


def test_store_can_switch_a_category_off() -> None:
    """An empty list means the agent never discloses that category."""
    policy = DisclosurePolicy.from_config({"refunds": []})
    assert Category.REFUNDS not in policy.allowed(verified(Method.OTP), ORDER)
    assert policy.methods_for(Category.REFUNDS) == frozenset()


def test_no_config_is_the_default() -> None:
    """No settings and an empty mapping both give the documented default."""
    for policy in (DisclosurePolicy.from_config(None), DisclosurePolicy.from_config({})):
        assert policy.allowed(verified(Method.PHONE), ORDER) == DisclosurePolicy().allowed(
            verified(Method.PHONE), ORDER
        )
        assert policy.methods_for(Category.ADDRESS) == {Method.OTP}


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"colour": ["otp"]}, "disclosure.colour"),
        ({"status": ["fingerprint"]}, "'fingerprint'"),
        ({"items": ["postal_code"]}, "disclosure.items"),
        ({"address": ["email", "otp"]}, "email"),
        ({"amounts": 3}, "disclosure.amounts"),
    ],
)
def test_bad_config_names_the_bad_key(config: dict[str, object], named: str) -> None:
    """Unknown category or method, a weaker method than the default, or a non-list: named."""
    with pytest.raises(ValueError, match=named):
        DisclosurePolicy.from_config(config)


def test_verified_identity_needs_a_method() -> None:
    """A verified identity without the method it was verified with is a programming error."""
    with pytest.raises(ValueError, match="method"):
        Identity(Level.VERIFIED, None, 1, frozenset({ORDER}))


def test_levels_are_ordered() -> None:
    """Levels compare: anonymous < identified < verified."""
    assert Level.ANONYMOUS < Level.IDENTIFIED < Level.VERIFIED
    assert verified(Method.EMAIL).verified_for(ORDER)
    assert not Identity(Level.IDENTIFIED, Method.EMAIL, 1, frozenset({ORDER})).verified_for(ORDER)


def test_a_signed_link_unlocks_what_email_does_but_not_the_address() -> None:
    """Opened from the order's signed link: items and amounts yes, the address no."""
    allowed = DisclosurePolicy().allowed(verified(Method.LINK), ORDER)
    assert allowed == SAFE | {Category.ITEMS, Category.AMOUNTS}
    assert Category.ADDRESS not in allowed
    assert DisclosurePolicy().allowed(verified(Method.LINK, 7), ORDER) == frozenset()


def test_store_can_keep_items_from_link_holders() -> None:
    """Leaving `link` out of a category's list withholds it from a linked conversation."""
    policy = DisclosurePolicy.from_config({"items": ["email", "phone", "otp"]})
    assert Category.ITEMS not in policy.allowed(verified(Method.LINK), ORDER)
    assert Category.AMOUNTS in policy.allowed(verified(Method.LINK), ORDER)
    assert Category.ITEMS in policy.allowed(verified(Method.EMAIL), ORDER)
    with pytest.raises(ValueError, match="link"):
        DisclosurePolicy.from_config({"address": ["link", "otp"]})
