"""Entities in customer messages: order numbers, contacts, postal codes, tracking, dates."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wismo.conversation.nlu import INTENTS, Entities, understand
from wismo.conversation.nlu.intents import parse_language

TODAY = date(2026, 3, 18)  # a Wednesday


def entities(text: str, **kwargs: object) -> Entities:
    return understand(text, today=TODAY, **kwargs).entities  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("where is #1042", "1042"),
        ("where is #99", "99"),
        ("purchase 00123842 hasn't come", "00123842"),
        ("order no. A-10042", "A-10042"),
        ("Order number: 55123", "55123"),
        ("my order is 1042", "1042"),
        ("order id W1234567, any news", "W1234567"),
        ("1042 is my order number", "1042"),
        ("amazon style order 112-3456789-1234567", "112-3456789-1234567"),
        ("número de pedido 1042", "1042"),
        ("mi pedido es el 20931", "20931"),
        ("1042", "1042"),
        ("#A-77", "A-77"),
    ],
)
def test_order_numbers_in_store_formats(text: str, number: str) -> None:
    """Order numbers are found in the usual formats, '#' dropped, leading zeros kept."""
    assert entities(text).order_number == number


@pytest.mark.parametrize(
    "text",
    [
        "my zip is 94107",
        "zip code 94107-1234, where is my package",
        "call me at 415-555-2671",
        "my number is (212) 555-0187",
        "tracking 1Z999AA10123456784",
        "fedex tracking 123456789012",
        "my dhl tracking is 1234567890",
        "RB123456789GB",
        "it was due on 3/12",
        "my order from 2026-03-01 never came",
        "i ordered 3 shirts 2 weeks ago",
        "it's been 10 days since my order",
        "i paid $45.99 for it",
        "jane99@example.com",
        "order 12 days ago",
    ],
)
def test_no_order_number_from_other_numbers(text: str) -> None:
    """Phones, postal codes, tracking numbers, dates and amounts are never order numbers."""
    assert entities(text).order_number is None


def test_store_patterns_add_formats() -> None:
    """A store's own regular expressions find its numbers; the first group when there is one."""
    assert entities("it's W-123456", order_patterns=[r"\bW-\d{6}\b"]).order_number == "W-123456"
    pattern = re.compile(r"ref (X\d+-\d)")
    assert entities("ref X99-1 please", order_patterns=[pattern]).order_number == "X99-1"


def test_a_bad_store_pattern_is_a_value_error() -> None:
    """An invalid order pattern raises ValueError naming it."""
    with pytest.raises(ValueError, match="order pattern"):
        entities("x", order_patterns=["("])


@pytest.mark.parametrize(
    ("text", "region", "phone"),
    [
        ("call me at 415-555-2671", "US", "+14155552671"),
        ("my number is (415) 555 2671", "US", "+14155552671"),
        ("4155552671", "US", "+14155552671"),
        ("my mobile is 07911 123456", "GB", "+447911123456"),
        ("ring me on +44 20 7946 0958", "US", "+442079460958"),
        ("mi teléfono es 612 345 678", "ES", "+34612345678"),
        ("+33 1 42 68 53 00", "DE", "+33142685300"),
    ],
)
def test_phones_are_e164(text: str, region: str, phone: str) -> None:
    """Phone numbers come back in E.164, national ones read in the default region."""
    assert entities(text, default_region=region).phone == phone


def test_short_numbers_are_not_phones() -> None:
    """An 8-digit order number is not a phone even where 8 digits dial somewhere."""
    found = entities("purchase 00123842", default_region="DE")
    assert (found.phone, found.order_number) == (None, "00123842")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("my zip is 94107", "94107"),
        ("zip code 94107-1234", "94107-1234"),
        ("postcode sw1a1aa", "SW1A 1AA"),
        ("it's SW1A 1AA", "SW1A 1AA"),
        ("postal code K1A0B1", "K1A 0B1"),
        ("my postcode is 1012 AB", "1012 AB"),
        ("plz 10115", "10115"),
        ("mi código postal es 28013", "28013"),
        ("code postal 75008", "75008"),
        ("i live at 94107", None),
        ("send it to 10115 berlin", None),
    ],
)
def test_postal_codes_need_context(text: str, code: str | None) -> None:
    """Postal codes are found after a cue word (or in a shape only a postcode has)."""
    assert entities(text).postal_code == code


def test_a_bare_number_is_what_the_agent_asked_for() -> None:
    """'94107' alone is an order number, unless the agent just asked for a postal code."""
    assert entities("94107").order_number == "94107"
    assert entities("94107").postal_code is None
    asked = entities("94107", expecting="postal_code")
    assert (asked.postal_code, asked.order_number) == ("94107", None)
    assert entities("it's 1042", expecting="order_number").order_number == "1042"
    assert entities("415 555 2671", expecting="phone").phone == "+14155552671"
    with pytest.raises(ValueError, match="expecting"):
        entities("1042", expecting="shoe_size")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("tracking 1Z999AA10123456784", "1Z999AA10123456784"),
        ("1Z 999 AA1 01 2345 678 4 says delivered", "1Z999AA10123456784"),
        ("royal mail RB123456789GB", "RB123456789GB"),
        ("usps 9400 1000 0000 0000 0000 00", "9400100000000000000000"),
        ("9400111899223334445566 is stuck", "9400111899223334445566"),
        ("fedex 123456789012", "123456789012"),
        ("my dhl tracking is 1234567890", "1234567890"),
        ("amazon TBA123456789012", "TBA123456789012"),
    ],
)
def test_tracking_numbers_by_carrier_format(text: str, number: str) -> None:
    """Tracking numbers of UPS, Royal Mail (S10), USPS, FedEx, DHL, Amazon are recognised."""
    found = entities(text)
    assert (found.tracking_number, found.order_number, found.phone) == (number, None, None)


def test_order_cue_wins_over_a_tracking_length() -> None:
    """'order 123456789012' is an order number though FedEx uses 12 digits."""
    found = entities("order 123456789012")
    assert (found.order_number, found.tracking_number) == ("123456789012", None)


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("2026-03-01", ["2026-03-01"]),
        ("it was supposed to come yesterday", ["2026-03-17"]),
        ("i ordered on Monday", ["2026-03-16"]),
        ("will it arrive by friday", ["2026-03-20"]),
        ("next monday", ["2026-03-23"]),
        ("12 March", ["2026-03-12"]),
        ("March 12th, 2025", ["2025-03-12"]),
        ("the 3rd of april", ["2026-04-03"]),
        ("3/12", ["2026-03-12"]),
        ("ordered 2 weeks ago", ["2026-03-04"]),
        ("in 3 days", ["2026-03-21"]),
        ("ayer", ["2026-03-17"]),
        ("lo pedí el 3 de marzo", ["2026-03-03"]),
        ("ordered 1 March, due 10 March", ["2026-03-01", "2026-03-10"]),
        ("it weighs 3.5 kg", []),
    ],
)
def test_dates_are_iso_relative_to_today(text: str, dates: list[str]) -> None:
    """Dates in several forms come back as ISO dates relative to `today`."""
    assert list(entities(text).dates) == dates


def test_numeric_dates_follow_the_region() -> None:
    """3/12 is March 12 in the US and 3 December elsewhere (nearest such day to today)."""
    assert entities("3/12", default_region="US").dates == ("2026-03-12",)
    assert entities("3/12", default_region="GB").dates == ("2025-12-03",)
    assert entities("25/12", default_region="US").dates == ("2025-12-25",)


def test_email_is_found_and_lower_cased() -> None:
    """Emails are found anywhere in the message."""
    assert entities("it's Jane.Doe@Example.COM, order #5").email == "jane.doe@example.com"


def test_to_json_has_every_key() -> None:
    """to_json gives every key, None or [] when nothing was found."""
    assert entities("hello").to_json() == {
        "order_number": None,
        "email": None,
        "phone": None,
        "postal_code": None,
        "tracking_number": None,
        "dates": [],
    }


def test_a_bad_data_file_is_refused() -> None:
    """A data file with an unknown intent or an impossible month is a ValueError."""
    with pytest.raises(ValueError, match="unknown intents"):
        parse_language("xx", {"examples": {"where_is_it": ["hm"]}})
    with pytest.raises(ValueError, match="months"):
        parse_language("xx", {"dates": {"months": {"smarch": 13}}})


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("0123456789 #-+@./:()abcdeorzipAZ\n😀é"), max_size=120)
    | st.text(max_size=200)
)
def test_any_text_is_understood_without_error(text: str) -> None:
    """Whatever the text, understanding returns a known intent and well-formed entities."""
    u = understand(text, today=TODAY, default_region="GB")
    assert u.intent in INTENTS
    assert 0.0 <= u.confidence <= 1.0
    for value in u.entities.dates:
        date.fromisoformat(value)
    if u.entities.phone is not None:
        assert u.entities.phone.startswith("+")
