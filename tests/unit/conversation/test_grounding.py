"""The grounding check: invented or changed facts in a reply are caught, in any wording."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from wismo.conversation.grounding import Facts, Violation, check, facts_of
from wismo.conversation.policy import Category, DisclosurePolicy, Identity, Level, Method
from wismo.conversation.replies import answer_reply
from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import RefundMethod, RefundState
from wismo.services.status import (
    Estimate,
    Item,
    OrderStatusAnswer,
    Package,
    Problem,
    RefundAnswer,
    Scan,
)

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
TODAY = date(2026, 12, 3)
SCAN_AT = datetime(2026, 12, 1, 14, 20, tzinfo=timezone(timedelta(hours=-6)))


def package(
    ref: str,
    status: Milestone,
    tracking: str,
    *,
    estimate: Estimate | None = None,
    delivered_at: datetime | None = None,
    reason: Reason = Reason.NONE,
) -> Package:
    problem = Problem(reason.value, "", None) if reason is not Reason.NONE else None
    return Package(
        shipment_ref=ref,
        carrier="ups",
        carrier_name="UPS",
        service_level=None,
        tracking_number=tracking,
        status=status,
        status_text="",
        reason=reason,
        contents=(Item("Blue mug", 1),),
        last_scan=Scan(SCAN_AT, "MEMPHIS, TN, US", "Arrived"),
        delivered_at=delivered_at,
        estimate=estimate,
        late=False,
        problem=problem,
    )


ANSWER = OrderStatusAnswer(
    order_id=7,
    order_number="1001",
    placed_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
    status=Milestone.IN_TRANSIT,
    headline="",
    summary=None,
    cancelled=False,
    packages=(
        package(
            "S1",
            Milestone.DELIVERED,
            "1Z999AA10000000001",
            delivered_at=datetime(2026, 12, 2, 16, 5, tzinfo=UTC),
        ),
        package(
            "S2",
            Milestone.IN_TRANSIT,
            "1Z999AA10123456784",
            estimate=Estimate(
                date(2026, 12, 4), date(2026, 12, 6), "wismo", date(2026, 12, 5), 0.8
            ),
        ),
    ),
    not_yet_shipped=(),
    estimate=Estimate(date(2026, 12, 4), date(2026, 12, 6), "wismo", date(2026, 12, 5), 0.8),
    promised=None,
    late=False,
    problem=None,
    returns=(),
    refunds=(
        RefundAnswer(
            "RF1",
            Decimal("25.00"),
            "USD",
            RefundMethod.ORIGINAL_PAYMENT,
            RefundState.PROCESSED,
            "",
            NOW,
            date(2026, 12, 13),
            True,
        ),
    ),
    generated_at=NOW,
    language="en",
    time_zone="America/Chicago",
)
FACTS = facts_of(ANSWER)
EMAIL = Identity(Level.VERIFIED, Method.EMAIL, 1, frozenset({7}))


def kinds(text: str, facts: Facts = FACTS, *, today: date | None = TODAY) -> list[str]:
    return [v.kind for v in check(text, facts, today=today)]


def composed(topic: str, channel: str = "chat", language: str = "en") -> str:
    made = answer_reply(
        ANSWER, topic, channel=channel, identity=EMAIL, policy=DisclosurePolicy(), language=language
    )
    assert check(made.text, made.facts, today=TODAY) == []
    return made.text


# --- mutations of our own replies are caught ---------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        ("order_status", "chat", "en", "Sat 5 Dec", "Mon 7 Dec", "date"),
        ("order_status", "voice", "en", "Saturday the 5th", "Monday the 7th", "date"),
        ("order_status", "chat", "es", "sáb 5 dic", "lun 7 dic", "date"),
        ("order_status", "chat", "en", "14:20", "15:20", "time"),
        (
            "order_status",
            "chat",
            "en",
            "1Z999AA10123456784",
            "1Z999AA10999999999",
            "tracking_number",
        ),
        (
            "tracking",
            "voice",
            "en",
            "1Z9 99A A10 123 456 784",
            "1Z9 99A A10 999 999 999",
            "tracking_number",
        ),
        ("refund_status", "chat", "en", "$25.00", "$52.00", "amount"),
        ("refund_status", "chat", "es", "25,00", "52,00", "amount"),
        ("refund_status", "voice", "en", "25.00 US dollars", "250.00 US dollars", "amount"),
        ("refund_status", "chat", "en", "Sun 13 Dec", "Tue 15 Dec", "date"),
        ("order_status", "chat", "en", "in MEMPHIS, TN, US", "in Louisville, KY", "place"),
        ("order_status", "voice", "es", "en Memphis, TN, US", "en Sevilla", "place"),
        ("order_status", "chat", "en", "Order 1001", "Order 1002", "order_number"),
        (
            "order_status",
            "chat",
            "en",
            "(UPS 1Z999AA10123456784)",
            "(FedEx 1Z999AA10123456784)",
            "carrier",
        ),
    ],
)
def test_a_changed_fact_in_our_reply_is_caught(case: tuple[str, str, str, str, str, str]) -> None:
    """Change one fact in a grounded reply and the check names that kind of fact."""
    topic, channel, language, before, after, kind = case
    text = composed(topic, channel, language)
    assert before in text
    assert kind in kinds(text.replace(before, after, 1))


@pytest.mark.parametrize(
    "added",
    [
        "Your parcel was delivered on Monday.",
        "It is out for delivery.",
        "It is held at customs.",
        "Sorry for the delay.",
        "It will arrive on December 9.",
        "It will arrive by 12/09/2026.",
        "It will arrive on 2026-12-09.",
        "Llegará el 9 de diciembre.",
        "You will get a refund of €25.00.",
        "Your new tracking number is 9400111899223100001234.",
        "Your other order #1002 has shipped too.",
        "DHL will deliver it.",
        "It was last seen in Chicago.",
        "It arrives at 9 am.",
    ],
)
def test_an_invented_fact_in_a_rephrasing_is_caught(added: str) -> None:
    """A language model's addition that the record does not back is a violation."""
    assert kinds(composed("order_status") + " " + added) != []


IN_TRANSIT = replace(ANSWER, packages=ANSWER.packages[1:], refunds=())


@pytest.mark.parametrize(
    ("language", "before", "after"),
    [
        ("en", "On its way", "Delivered"),
        ("en", "On its way", "Out for delivery"),
        ("en", "On its way", "Returned to us"),
        ("es", "En camino", "Entregado"),
        ("es", "En camino", "Cancelado"),
    ],
)
def test_a_status_the_parcel_does_not_have_is_caught(
    language: str, before: str, after: str
) -> None:
    """'Delivered' (or any other status) said of a parcel in transit is a violation."""
    made = answer_reply(
        IN_TRANSIT,
        "order_status",
        channel="chat",
        identity=EMAIL,
        policy=DisclosurePolicy(),
        language=language,
    )
    assert check(made.text, made.facts, today=TODAY) == []
    assert before in made.text
    changed = made.text.replace(before, after)
    assert [v.kind for v in check(changed, made.facts, today=TODAY)] == ["status"]


@pytest.mark.parametrize(
    "text",
    [
        "Good news! Your package is on its way with UPS and should arrive on Saturday, December 5.",
        "It should get to you between Dec 4 and Dec 6, most likely Saturday the 5th.",
        "Expected 12/05/2026 or 2026-12-05; your first package arrived on Wednesday.",
        "Tu paquete está en camino y llegará el sábado 5 de diciembre de 2026.",
        "Once it is delivered we will send you an email.",
        "It has not been delivered yet.",
        "It was last scanned in Memphis on Tuesday 1 December at 14:20.",
        "Your refund of $25 is on its way, expected by the 13th.",
        "Package 1 was delivered on 2 Dec at 10:05.",
        "Order #1001 is in 2 packages.",
        "It is expected on Saturday.",
    ],
)
def test_a_faithful_rephrasing_passes(text: str) -> None:
    """Rewording the record's facts, in other formats or languages, is not a violation."""
    assert check(text, FACTS, today=TODAY) == []


def test_relative_days_are_checked_against_today() -> None:
    """'Tomorrow' is the 5th on the 4th, and a violation on the 9th; unchecked without today."""
    assert kinds("It should arrive tomorrow.", today=date(2026, 12, 4)) == []
    assert kinds("It should arrive tomorrow.", today=date(2026, 12, 9)) == ["date"]
    assert kinds("Llegará mañana por la mañana.", today=date(2026, 12, 4)) == []
    assert check("It should arrive tomorrow.", FACTS) == []


def test_status_words_in_hedged_or_negated_clauses_are_not_claims() -> None:
    """'once it is delivered', 'not delivered', 'si se retrasa' state no status."""
    in_transit = Facts(statuses=frozenset({"in_transit"}))
    assert check("Once it is delivered, you will get an email.", in_transit) == []
    assert check("It was not delivered, but it is in transit.", in_transit) == []
    assert check("Si se retrasa, te avisaremos.", in_transit) == []
    assert [v.kind for v in check("It was delivered.", in_transit)] == ["status"]


def test_violation_says_what_and_why() -> None:
    """A violation carries its kind, the text as written and a message."""
    [found] = check("It arrives on Dec 9.", FACTS)
    assert found == Violation("date", "Dec 9", "the date 'Dec 9' is not on the order record")


# --- facts_of follows the disclosure policy ----------------------------------------------


def test_facts_of_holds_what_the_record_says() -> None:
    """All categories: dates, times, statuses, places, amounts, numbers and carriers."""
    assert {date(2026, 12, 5), date(2026, 12, 13), date(2026, 12, 2)} <= FACTS.dates
    assert time(14, 20) in FACTS.times  # the scan, in the zone the carrier reported
    assert time(10, 5) in FACTS.times  # the delivery, in the customer's zone
    assert {"delivered", "in_transit", "refund:processed"} <= FACTS.statuses
    assert "memphis tn us" in FACTS.places
    assert (Decimal("25.00"), "USD") in FACTS.amounts
    assert FACTS.tracking_numbers == {"1Z999AA10000000001", "1Z999AA10123456784"}
    assert FACTS.order_numbers == {"1001"}
    assert FACTS.carriers == {"ups"}


def test_facts_of_leaves_out_what_the_customer_may_not_see() -> None:
    """Without tracking, amounts or estimates, those facts are absent, so stating them fails."""
    weak = facts_of(ANSWER, frozenset({Category.STATUS, Category.REFUNDS}))
    assert weak.tracking_numbers == frozenset()
    assert weak.amounts == frozenset()
    assert date(2026, 12, 5) not in weak.dates
    assert weak.places == frozenset()
    assert kinds("Your refund of $25.00 is issued.", weak) == ["amount"]
    assert kinds("Tracking number 1Z999AA10123456784.", weak) == ["tracking_number"]
    assert facts_of(ANSWER, frozenset()).statuses == frozenset()


def test_facts_merge_and_empty() -> None:
    """Merging is a union per field; the empty facts back nothing."""
    a = Facts(dates=frozenset({date(2026, 12, 5)}), order_numbers=frozenset({"1001"}))
    b = Facts(dates=frozenset({date(2026, 12, 6)}), carriers=frozenset({"ups"}))
    merged = a.merge(b)
    assert merged.dates == {date(2026, 12, 5), date(2026, 12, 6)}
    assert merged.order_numbers == {"1001"}
    assert merged.carriers == {"ups"}
    assert Facts.empty().merge(a) == a
    assert kinds("Order 1001 arrives Dec 5.", Facts.empty()) == ["date", "order_number"]


def test_quoted_record_text_is_not_read_as_claims() -> None:
    """An item title with a number or a status word in it is record text, not a claim."""
    facts = Facts(quoted=frozenset({"Case SM-G991B12345 (Delivered edition)"}))
    assert check("2 \u00d7 Case SM-G991B12345 (Delivered edition)", facts) == []
    assert kinds("2 \u00d7 Case SM-G991B12345", Facts.empty()) == ["tracking_number"]
