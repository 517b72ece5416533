"""Carrier code tables and message rules: data that loads, with one meaning per code."""

from __future__ import annotations

import pytest

from wismo.domain.milestones import Milestone, Reason
from wismo.ingestion.carriers.classifier import classify, parse_rules, rules
from wismo.ingestion.carriers.mapping import (
    MappingError,
    all_tables,
    canonical_code,
    parse_table,
    table_for,
)


def test_every_table_loads_with_one_meaning_per_code() -> None:
    """Each shipped code table loads: no code maps to two statuses after canonicalising."""
    names = all_tables()
    assert names
    for name in names:
        assert len(table_for(name)) > 0, name


def test_a_code_listed_twice_with_two_meanings_is_refused() -> None:
    """The fault 'first match wins' cannot happen: the loader refuses the table."""
    with pytest.raises(MappingError, match="maps to both"):
        parse_table("x", "code,milestone,reason\nA1,delivered,\na1,in_transit,\n")


def test_zero_padded_codes_are_one_code() -> None:
    """`0174` and `174` are the same code; letters are compared without case."""
    table = parse_table("x", "174,delivered,\n")
    assert canonical_code("0174") == "174"
    assert table.lookup(("0174",)) is not None
    assert canonical_code(" ab ") == "AB"


def test_lookup_prefers_the_most_specific_code() -> None:
    """Candidate codes are tried in order, most specific first."""
    table = parse_table("x", "D,delivered,\nD:FS,available_for_pickup,\n")
    found = table.lookup(("D:FS", "D"))
    assert found is not None
    assert found[0].milestone is Milestone.AVAILABLE_FOR_PICKUP


def test_message_rules_load() -> None:
    """The message rules file parses (patterns with commas are quoted)."""
    assert len(rules()) > 40


@pytest.mark.parametrize(
    ("message", "milestone", "reason"),
    [
        ("Delivered, left at front door", Milestone.DELIVERED, Reason.NONE),
        ("Out for delivery", Milestone.OUT_FOR_DELIVERY, Reason.NONE),
        ("Held by customs", Milestone.EXCEPTION, Reason.CUSTOMS_HOLD),
        ("Item cleared by Customs", Milestone.IN_TRANSIT, Reason.NONE),
        ("Moved, left no address", Milestone.EXCEPTION, Reason.ADDRESS_PROBLEM),
        (
            "Delivery attempted - no one home",
            Milestone.DELIVERY_ATTEMPT_FAILED,
            Reason.RECIPIENT_UNAVAILABLE,
        ),
        (
            "Shipper created a label, UPS has not received the package yet.",
            Milestone.LABEL_CREATED,
            Reason.NONE,
        ),
        ("Votre colis est livré", Milestone.DELIVERED, Reason.NONE),
        ("Die Sendung wurde zugestellt", Milestone.DELIVERED, Reason.NONE),
        ("Returned to shipper", Milestone.RETURNING_TO_SENDER, Reason.NONE),
        ("Severe weather delay", Milestone.EXCEPTION, Reason.WEATHER),
    ],
)
def test_classifier_reads_carrier_wording(
    message: str, milestone: Milestone, reason: Reason
) -> None:
    """Unknown codes are decided by the message, scored rather than first-match."""
    found = classify(message)
    assert found is not None
    assert (found.milestone, found.reason) == (milestone, reason)


def test_classifier_says_nothing_for_noise() -> None:
    """A message with no known wording gives no milestone rather than a guess."""
    assert classify("zzz qqq") is None
    assert classify(None) is None


def test_rule_patterns_may_contain_commas() -> None:
    """Rules split from the right: a comma inside a pattern needs no quoting."""
    [plain, quoted] = parse_rules(
        'moved, left,exception,address_problem,80\n"a,""b""",delivered,,5\n'
    )
    assert plain.pattern.pattern == "moved, left"
    assert plain.mapped.reason is Reason.ADDRESS_PROBLEM
    assert quoted.pattern.pattern == 'a,"b"'
