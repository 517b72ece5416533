"""Proactive problem detection: rules, boundaries, zones, keys, next checks (domain.exceptions).

Calendar used throughout: December 2026, with Monday 7 Dec a public holiday, so a count
that starts on a Thursday or Friday skips a weekend and the holiday (Tue 1 Dec 2026 is a
Tuesday).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wismo.domain.estimate import BusinessCalendar
from wismo.domain.exceptions import (
    Detection,
    FindingCode,
    ShipmentFacts,
    SiblingFacts,
    ThresholdRules,
    Thresholds,
    detect,
)
from wismo.domain.milestones import Milestone, Reason

HOLIDAY = date(2026, 12, 7)  # a Monday
CAL = BusinessCalendar(holidays=[HOLIDAY])
DEFAULT = Thresholds()
US = timedelta(microseconds=1)
LA = ZoneInfo("America/Los_Angeles")
PARIS = ZoneInfo("Europe/Paris")

BASE = ShipmentFacts(
    carrier="ups",
    service="ground",
    milestone=Milestone.IN_TRANSIT,
    reason=Reason.NONE,
    created_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
    status_at=datetime(2026, 12, 2, 10, tzinfo=UTC),
    last_event_at=datetime(2026, 12, 3, 10, tzinfo=UTC),
    last_event_tz=None,
    delivered_at=None,
    carrier_eta_on=None,
    previous_carrier_eta_on=None,
    predicted_on=None,
    promised_to_on=None,
    zone="Europe/London",
)


def run(
    facts: ShipmentFacts, now: datetime, thresholds: Thresholds = DEFAULT, **changes: Any
) -> Detection:
    return detect(replace(facts, **changes), now=now, calendar=CAL, thresholds=thresholds)


def codes(detection: Detection) -> set[FindingCode]:
    return {f.code for f in detection.findings}


def keys(detection: Detection) -> set[str]:
    return {f.key for f in detection.findings}


def only(detection: Detection, code: FindingCode) -> Any:
    [finding] = [f for f in detection.findings if f.code is code]
    return finding


# --- stuck label ------------------------------------------------------------------------

LABEL = replace(
    BASE,
    milestone=Milestone.LABEL_CREATED,
    status_at=datetime(2026, 12, 3, 10, tzinfo=UTC),
    last_event_at=datetime(2026, 12, 3, 10, tzinfo=UTC),
)


def test_stuck_label_fires_on_second_business_day_skipping_weekend_and_holiday() -> None:
    """Label on Thu; Fri is day 1, Sat/Sun/Mon-holiday do not count, Tue is day 2."""
    fires_at = datetime(2026, 12, 8, 0, tzinfo=UTC)  # London midnight in winter = UTC
    before = run(LABEL, fires_at - US)
    assert before.findings == ()
    assert before.next_check_at == fires_at
    after = run(LABEL, fires_at)
    finding = only(after, FindingCode.STUCK_LABEL_CREATED)
    assert finding.key == "stuck_label_created:2026-12-03T10:00:00+00:00"
    assert finding.reason is Reason.LABEL_NOT_SCANNED
    assert finding.detail == {"since": "2026-12-03T10:00:00+00:00", "business_days": "2"}
    assert after.next_check_at is None
    assert CAL.business_days_between(date(2026, 12, 3), date(2026, 12, 7)) == 1
    assert CAL.business_days_between(date(2026, 12, 3), date(2026, 12, 8)) == 2


def test_stuck_label_without_any_scan_is_anchored_on_creation() -> None:
    """A shipment with no carrier event at all counts from when its label was created."""
    facts = replace(
        BASE, milestone=Milestone.UNKNOWN, status_at=None, last_event_at=None, last_event_tz=None
    )
    # Created Tue 1 Dec: Wed is day 1, Thu day 2.
    detection = run(facts, datetime(2026, 12, 3, 0, tzinfo=UTC))
    assert only(detection, FindingCode.STUCK_LABEL_CREATED).key == (
        "stuck_label_created:2026-12-01T09:00:00+00:00"
    )
    assert run(facts, datetime(2026, 12, 3, 0, tzinfo=UTC) - US).findings == ()


def test_stuck_label_keeps_the_carriers_reason() -> None:
    """A reason the carrier gave is more telling than the generic 'label not scanned'."""
    detection = run(LABEL, datetime(2026, 12, 9, tzinfo=UTC), reason=Reason.WEATHER)
    assert only(detection, FindingCode.STUCK_LABEL_CREATED).reason is Reason.WEATHER


# --- no scan in transit -----------------------------------------------------------------

PARIS_SCAN = replace(
    BASE,
    last_event_at=datetime(2026, 12, 3, 23, 30, tzinfo=UTC),  # Fri 4 Dec 00:30 in Paris
    last_event_tz="Europe/Paris",
)


def test_no_scan_in_transit_counts_days_in_the_scans_zone() -> None:
    """The scan's local date is Friday (in UTC still Thursday): Tue, Wed, Thu are days 1-3,
    so it fires at Thursday midnight Paris time, not a day earlier."""
    fires_at = datetime(2026, 12, 10, 0, tzinfo=PARIS).astimezone(UTC)
    assert fires_at == datetime(2026, 12, 9, 23, tzinfo=UTC)
    before = run(PARIS_SCAN, fires_at - US)
    assert before.findings == ()
    assert before.next_check_at == fires_at
    after = run(PARIS_SCAN, fires_at)
    finding = only(after, FindingCode.NO_SCAN_IN_TRANSIT)
    assert finding.key == "no_scan_in_transit:2026-12-03T23:30:00+00:00"
    assert finding.reason is Reason.NONE
    assert finding.detail["business_days"] == "3"


def test_no_scan_key_is_stable_and_changes_after_a_new_scan() -> None:
    """Sweeping an unchanged shipment again finds the same key; a new scan, then another
    silence, is a new occurrence with a new key."""
    now = datetime(2026, 12, 11, 12, tzinfo=UTC)
    first = run(PARIS_SCAN, now)
    assert keys(first) == keys(run(PARIS_SCAN, now)) == keys(run(PARIS_SCAN, now + US))
    new_scan = datetime(2026, 12, 11, 8, tzinfo=UTC)
    later = run(PARIS_SCAN, now, last_event_at=new_scan)
    assert later.findings == ()
    assert later.next_check_at == datetime(2026, 12, 15, 23, tzinfo=UTC)  # Wed 16 in Paris
    stalled_again = run(PARIS_SCAN, datetime(2026, 12, 16, tzinfo=UTC), last_event_at=new_scan)
    assert keys(stalled_again) == {"no_scan_in_transit:2026-12-11T08:00:00+00:00"}
    assert keys(stalled_again).isdisjoint(keys(first))


@pytest.mark.parametrize(
    "milestone",
    [
        Milestone.PICKED_UP,
        Milestone.EXCEPTION,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.DELIVERY_ATTEMPT_FAILED,
        Milestone.EXPIRED,
    ],
)
def test_no_scan_applies_to_every_open_transit_state(milestone: Milestone) -> None:
    """Any state in which the carrier should keep scanning can stall."""
    detection = run(PARIS_SCAN, datetime(2026, 12, 20, tzinfo=UTC), milestone=milestone)
    assert FindingCode.NO_SCAN_IN_TRANSIT in codes(detection)


def test_waiting_at_a_pickup_point_is_not_a_stall() -> None:
    """A parcel at a pickup point waits for the customer; the carrier's silence is normal."""
    detection = run(
        PARIS_SCAN, datetime(2027, 1, 20, tzinfo=UTC), milestone=Milestone.AVAILABLE_FOR_PICKUP
    )
    assert detection == Detection((), None)


def test_a_long_stall_still_fires_once_with_the_same_key() -> None:
    """Months of silence: the same finding, and no further next check from this rule."""
    detection = run(PARIS_SCAN, datetime(2027, 6, 1, tzinfo=UTC))
    assert keys(detection) == {"no_scan_in_transit:2026-12-03T23:30:00+00:00"}
    assert detection.next_check_at is None


# --- late and predicted late ------------------------------------------------------------

PROMISED = replace(BASE, zone="America/Los_Angeles", promised_to_on=date(2026, 12, 4))
LATE_AT = datetime(2026, 12, 5, 0, tzinfo=LA).astimezone(UTC)  # 08:00 UTC


def test_late_from_midnight_after_the_promise_in_the_customers_zone() -> None:
    """Promised Friday in Los Angeles: late from Saturday 00:00 there (08:00 UTC), not at
    UTC midnight."""
    recent_scan = datetime(2026, 12, 4, 20, tzinfo=UTC)
    before = run(PROMISED, LATE_AT - US, last_event_at=recent_scan)
    assert before.findings == ()
    assert before.next_check_at == LATE_AT
    after = run(PROMISED, LATE_AT, last_event_at=recent_scan)
    finding = only(after, FindingCode.LATE)
    assert finding.key == "late:2026-12-04"
    assert finding.detail == {"promised": "2026-12-04"}


def test_predicted_late_until_actually_late() -> None:
    """A carrier estimate after the promise is a warning; once late, the warning gives way
    to the late finding. Its key is per promise, so a later estimate does not repeat it."""
    facts = replace(PROMISED, carrier_eta_on=date(2026, 12, 7))
    before = run(facts, LATE_AT - US)
    warning = only(before, FindingCode.PREDICTED_LATE)
    assert warning.key == "predicted_late:2026-12-04"
    assert warning.detail == {
        "promised": "2026-12-04",
        "estimate": "2026-12-07",
        "source": "carrier",
    }
    assert before.next_check_at == LATE_AT
    assert keys(run(facts, LATE_AT - US, carrier_eta_on=date(2026, 12, 9))) >= {warning.key}
    after = run(facts, LATE_AT)
    assert FindingCode.PREDICTED_LATE not in codes(after)
    assert FindingCode.LATE in codes(after)


def test_predicted_late_from_wismos_own_prediction() -> None:
    """Without a late carrier estimate, Wismo's predicted date can raise the warning."""
    now = datetime(2026, 12, 2, tzinfo=UTC)
    facts = replace(PROMISED, carrier_eta_on=date(2026, 12, 4), predicted_on=date(2026, 12, 8))
    assert only(run(facts, now), FindingCode.PREDICTED_LATE).detail["source"] == "wismo"
    on_time = replace(facts, predicted_on=date(2026, 12, 4))
    assert run(on_time, now).findings == ()
    assert run(on_time, now).next_check_at == LATE_AT


def test_a_shipment_without_a_promise_is_never_late() -> None:
    """No promise, no lateness: only the stall rule schedules a check."""
    detection = run(BASE, datetime(2026, 12, 4, tzinfo=UTC), carrier_eta_on=date(2027, 1, 1))
    assert detection.findings == ()
    # Last scan Thu 3 Dec in London: Fri, Tue (after the Mon holiday), Wed.
    assert detection.next_check_at == datetime(2026, 12, 9, tzinfo=UTC)


# --- out for delivery -------------------------------------------------------------------

OFD = replace(
    BASE,
    milestone=Milestone.OUT_FOR_DELIVERY,
    status_at=datetime(2026, 12, 4, 8, tzinfo=LA),
    last_event_at=datetime(2026, 12, 4, 8, tzinfo=LA),
    last_event_tz="America/Los_Angeles",
    zone="America/Los_Angeles",
)
OFD_DEADLINE = datetime(2026, 12, 4, 21, tzinfo=LA).astimezone(UTC)  # 05:00 UTC on the 5th


def test_out_for_delivery_at_8pm_local_is_not_overdue_though_utc_is_the_next_day() -> None:
    """At 20:00 in Los Angeles it is already Saturday in UTC; the van has an hour left."""
    now = datetime(2026, 12, 4, 20, tzinfo=LA)
    assert now.astimezone(UTC).date() == date(2026, 12, 5)
    detection = run(OFD, now)
    assert detection.findings == ()
    assert detection.next_check_at == OFD_DEADLINE


def test_out_for_delivery_not_delivered_from_the_end_of_the_local_day() -> None:
    """At 21:00 local on the status day the finding appears, keyed on the OFD scan."""
    finding = only(run(OFD, OFD_DEADLINE), FindingCode.OUT_FOR_DELIVERY_NOT_DELIVERED)
    assert finding.key == "out_for_delivery_not_delivered:2026-12-04T16:00:00+00:00"
    assert finding.detail["deadline"] == "2026-12-05T05:00:00+00:00"
    assert run(OFD, OFD_DEADLINE - US).findings == ()


def test_out_for_delivery_end_of_day_is_a_threshold() -> None:
    """A carrier that delivers until 22:00 gets an hour more."""
    late_van = Thresholds(out_for_delivery_end_of_day=time(22, 0))
    assert run(OFD, OFD_DEADLINE, late_van).next_check_at == OFD_DEADLINE + timedelta(hours=1)


@pytest.mark.parametrize(
    ("label", "deadline"),
    [
        ("-08:00", datetime(2026, 12, 5, 5, tzinfo=UTC)),
        ("Z", datetime(2026, 12, 4, 21, tzinfo=UTC)),
        ("+05:30", datetime(2026, 12, 4, 15, 30, tzinfo=UTC)),
        # Unknown or malformed labels fall back to the customer's zone (Los Angeles).
        ("Mars/Olympus_Mons", datetime(2026, 12, 5, 5, tzinfo=UTC)),
        ("+5:30", datetime(2026, 12, 5, 5, tzinfo=UTC)),
        ("+99:00", datetime(2026, 12, 5, 5, tzinfo=UTC)),
        ("", datetime(2026, 12, 5, 5, tzinfo=UTC)),
        (None, datetime(2026, 12, 5, 5, tzinfo=UTC)),
    ],
)
def test_scan_zone_labels(label: str | None, deadline: datetime) -> None:
    """Offsets, "Z" and IANA names are read as the carrier meant them; anything else falls
    back to the customer's zone instead of raising."""
    facts = replace(OFD, last_event_tz=label, status_at=datetime(2026, 12, 4, 9, tzinfo=UTC))
    assert run(facts, datetime(2026, 12, 4, 9, 30, tzinfo=UTC)).next_check_at == deadline


def test_unknown_customer_zone_falls_back_to_utc() -> None:
    """Neither zone known: days are counted in UTC rather than failing the sweep."""
    facts = replace(OFD, last_event_tz="Nowhere/Special", zone="Also/Not_A_Zone")
    facts = replace(facts, status_at=datetime(2026, 12, 4, 9, tzinfo=UTC))
    assert run(facts, datetime(2026, 12, 4, 10, tzinfo=UTC)).next_check_at == datetime(
        2026, 12, 4, 21, tzinfo=UTC
    )


def test_a_day_that_starts_at_1am_starts_then() -> None:
    """Sao Paulo's DST began at midnight on 4 Nov 2018 (clocks went to 01:00): a promise
    for 3 Nov is late from 01:00 local, the first instant of the 4th (03:00 UTC)."""
    facts = replace(PROMISED, zone="America/Sao_Paulo", promised_to_on=date(2018, 11, 3))
    facts = replace(facts, last_event_at=datetime(2018, 11, 3, 12, tzinfo=UTC))
    late_at = datetime(2018, 11, 4, 3, tzinfo=UTC)
    assert late_at.astimezone(ZoneInfo("America/Sao_Paulo")).hour == 1
    assert run(facts, late_at - US).next_check_at == late_at
    assert FindingCode.LATE in codes(run(facts, late_at))


class _SixDayWeek(BusinessCalendar):
    """A calendar that decides business days its own way; must not hit the cache."""

    def is_business_day(self, day: date) -> bool:
        return day.weekday() != 6


def test_a_calendar_subclass_is_asked_directly() -> None:
    """With Saturday a working day, Thu's scan stalls from Mon (Fri, Sat, Mon), not Tue."""
    detection = detect(
        BASE, now=datetime(2026, 12, 4, tzinfo=UTC), calendar=_SixDayWeek(), thresholds=DEFAULT
    )
    assert detection.next_check_at == datetime(2026, 12, 7, tzinfo=UTC)


# --- immediate findings -----------------------------------------------------------------


def test_failed_attempt_is_immediate_and_keyed_on_its_status_time() -> None:
    """A failed attempt is a finding at once, carrying the carrier's reason."""
    facts = replace(
        BASE,
        milestone=Milestone.DELIVERY_ATTEMPT_FAILED,
        reason=Reason.RECIPIENT_UNAVAILABLE,
        status_at=datetime(2026, 12, 3, 10, tzinfo=UTC),
    )
    detection = run(facts, datetime(2026, 12, 3, 10, 1, tzinfo=UTC))
    finding = only(detection, FindingCode.FAILED_ATTEMPT)
    assert finding.key == "failed_attempt:2026-12-03T10:00:00+00:00"
    assert finding.reason is Reason.RECIPIENT_UNAVAILABLE
    second = run(
        facts, datetime(2026, 12, 4, 10, tzinfo=UTC), status_at=datetime(2026, 12, 4, 9, tzinfo=UTC)
    )
    assert only(second, FindingCode.FAILED_ATTEMPT).key != finding.key


def test_customs_hold_is_a_finding_whatever_the_milestone() -> None:
    """The reason, not the milestone, says customs holds the parcel."""
    facts = replace(BASE, milestone=Milestone.EXCEPTION, reason=Reason.CUSTOMS_HOLD)
    finding = only(run(facts, datetime(2026, 12, 3, 11, tzinfo=UTC)), FindingCode.CUSTOMS_HOLD)
    assert finding.key == "customs_hold:2026-12-02T10:00:00+00:00"
    assert finding.reason is Reason.CUSTOMS_HOLD


def test_returning_to_sender_has_its_finding_and_no_next_check() -> None:
    """Returning to sender: that finding only; lateness and stalls no longer apply."""
    facts = replace(PROMISED, milestone=Milestone.RETURNING_TO_SENDER, reason=Reason.REFUSED)
    detection = run(facts, datetime(2027, 1, 1, tzinfo=UTC))
    assert [f.code for f in detection.findings] == [FindingCode.RETURNING_TO_SENDER]
    assert detection.findings[0].key == "returning_to_sender:2026-12-02T10:00:00+00:00"
    assert detection.findings[0].reason is Reason.REFUSED
    assert detection.next_check_at is None


@pytest.mark.parametrize(
    "milestone", [Milestone.DELIVERED, Milestone.RETURNED_TO_SENDER, Milestone.CANCELLED]
)
def test_final_shipments_have_nothing_and_no_next_check(milestone: Milestone) -> None:
    """Delivered, returned or cancelled: nothing can go wrong any more."""
    facts = replace(
        PROMISED,
        milestone=milestone,
        delivered_at=datetime(2026, 12, 8, tzinfo=UTC),
        carrier_eta_on=date(2026, 12, 9),
        previous_carrier_eta_on=date(2026, 12, 5),
        siblings=(SiblingFacts(datetime(2026, 12, 4, tzinfo=UTC)),),
    )
    assert run(facts, datetime(2027, 1, 1, tzinfo=UTC)) == Detection((), None)


# --- split shipment stalled -------------------------------------------------------------

SPLIT = replace(
    BASE,
    last_event_at=datetime(2026, 12, 3, 10, tzinfo=UTC),
    siblings=(
        SiblingFacts(None),
        SiblingFacts(datetime(2026, 12, 4, 15, tzinfo=UTC)),  # Friday
        SiblingFacts(datetime(2026, 12, 8, 15, tzinfo=UTC)),
    ),
)


def test_split_stalled_two_business_days_after_the_first_sibling_delivery() -> None:
    """Sibling delivered Fri; Tue (after the Mon holiday) is day 1, Wed day 2."""
    thresholds = Thresholds(in_transit_no_scan_business_days=10)
    fires_at = datetime(2026, 12, 9, 0, tzinfo=UTC)
    before = run(SPLIT, fires_at - US, thresholds)
    assert before.findings == ()
    assert before.next_check_at == fires_at
    finding = only(run(SPLIT, fires_at, thresholds), FindingCode.SPLIT_STALLED)
    assert finding.key == ("split_stalled:2026-12-04T15:00:00+00:00:2026-12-03T10:00:00+00:00")
    assert finding.detail == {
        "sibling_delivered": "2026-12-04T15:00:00+00:00",
        "since": "2026-12-03T10:00:00+00:00",
    }


def test_split_not_stalled_when_this_parcel_was_scanned_after_the_delivery() -> None:
    """A scan after the sibling's delivery shows this parcel moving; only a later sibling
    delivery can anchor the rule then."""
    facts = replace(SPLIT, last_event_at=datetime(2026, 12, 4, 16, tzinfo=UTC))
    detection = run(facts, datetime(2026, 12, 9, 12, tzinfo=UTC))
    assert FindingCode.SPLIT_STALLED not in codes(detection)
    # The sibling delivered Tue 8: Wed, Thu are days 1 and 2.
    later = run(facts, datetime(2026, 12, 10, tzinfo=UTC))
    assert only(later, FindingCode.SPLIT_STALLED).key.startswith(
        "split_stalled:2026-12-08T15:00:00+00:00:"
    )


def test_split_rule_ignores_orders_with_no_delivered_sibling() -> None:
    """No sibling delivered, no comparison to draw."""
    facts = replace(SPLIT, siblings=(SiblingFacts(None),))
    assert FindingCode.SPLIT_STALLED not in codes(run(facts, datetime(2027, 1, 1, tzinfo=UTC)))


# --- carrier estimate slipped -----------------------------------------------------------


def test_estimate_slipping_later_is_a_finding_earlier_is_not() -> None:
    """Later by a day or more is a slip; an earlier estimate is good news, not a problem."""
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    slipped = run(
        BASE, now, previous_carrier_eta_on=date(2026, 12, 7), carrier_eta_on=date(2026, 12, 9)
    )
    finding = only(slipped, FindingCode.ESTIMATE_SLIPPED)
    assert finding.key == "carrier_estimate_slipped:2026-12-07->2026-12-09"
    assert finding.detail == {"previous": "2026-12-07", "estimate": "2026-12-09"}
    earlier = run(
        BASE, now, previous_carrier_eta_on=date(2026, 12, 9), carrier_eta_on=date(2026, 12, 7)
    )
    assert earlier.findings == ()
    same = run(
        BASE, now, previous_carrier_eta_on=date(2026, 12, 9), carrier_eta_on=date(2026, 12, 9)
    )
    assert same.findings == ()
    missing = run(BASE, now, previous_carrier_eta_on=None, carrier_eta_on=date(2026, 12, 9))
    assert missing.findings == ()


def test_slip_minimum_is_a_threshold() -> None:
    """With slip_min_days=3 a two-day slip is tolerated."""
    tolerant = Thresholds(slip_min_days=3)
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    facts = replace(
        BASE, previous_carrier_eta_on=date(2026, 12, 7), carrier_eta_on=date(2026, 12, 9)
    )
    assert run(facts, now, tolerant).findings == ()
    assert codes(run(facts, now, tolerant, carrier_eta_on=date(2026, 12, 10))) == {
        FindingCode.ESTIMATE_SLIPPED
    }


# --- naive datetimes --------------------------------------------------------------------


def test_naive_datetimes_are_read_as_utc() -> None:
    """A naive instant (a driver or fixture dropped the zone) is UTC, not an error, and
    gives the same findings and keys as its aware twin."""
    naive = replace(
        PARIS_SCAN,
        created_at=PARIS_SCAN.created_at.replace(tzinfo=None),
        status_at=datetime(2026, 12, 2, 10),  # noqa: DTZ001 - the point of the test
        last_event_at=datetime(2026, 12, 3, 23, 30),  # noqa: DTZ001
        siblings=(SiblingFacts(datetime(2026, 12, 4, 15)),),  # noqa: DTZ001
    )
    aware = replace(PARIS_SCAN, siblings=(SiblingFacts(datetime(2026, 12, 4, 15, tzinfo=UTC)),))
    for now in (datetime(2026, 12, 9, 22, tzinfo=UTC), datetime(2026, 12, 10, tzinfo=UTC)):
        assert run(naive, now) == run(aware, now)
        assert run(naive, now.replace(tzinfo=None)) == run(aware, now)


# --- thresholds -------------------------------------------------------------------------

RULES = ThresholdRules.from_config(
    {
        "default": {"label_no_scan_business_days": 3},
        "carriers": {
            "ups": {"in_transit_no_scan_business_days": 4, "out_for_delivery_end_of_day": "22:30"},
            "UPS/Ground": {"in_transit_no_scan_business_days": 6},
            "dhl/express": {"slip_min_days": 2},
        },
    }
)


def test_thresholds_most_specific_wins_field_by_field() -> None:
    """carrier/service over carrier over default, each changing only the fields it names."""
    ground = RULES.for_shipment("ups", "ground")
    assert ground == Thresholds(
        label_no_scan_business_days=3,
        in_transit_no_scan_business_days=6,
        out_for_delivery_end_of_day=time(22, 30),
    )
    assert RULES.for_shipment("UPS", "air") == replace(ground, in_transit_no_scan_business_days=4)
    assert RULES.for_shipment("ups", None) == RULES.for_shipment("ups", "air")
    assert RULES.for_shipment("dhl", "express") == Thresholds(
        label_no_scan_business_days=3, slip_min_days=2
    )
    assert RULES.for_shipment("fedex", "ground") == Thresholds(label_no_scan_business_days=3)
    assert ThresholdRules.from_config({}).for_shipment("ups", None) == Thresholds()


def test_carrier_thresholds_change_when_a_stall_fires() -> None:
    """UPS Ground waits six business days, so the default's three-day stall is not one."""
    now = datetime(2026, 12, 10, 12, tzinfo=UTC)
    assert FindingCode.NO_SCAN_IN_TRANSIT in codes(run(PARIS_SCAN, now))
    ground = run(PARIS_SCAN, now, RULES.for_shipment("ups", "ground"))
    assert ground.findings == ()
    # Fri 4 Dec (Paris) + 6 business days, Mon 7 a holiday: Tue 15 Dec.
    assert ground.next_check_at == datetime(2026, 12, 15, 0, tzinfo=PARIS).astimezone(UTC)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"defaults": {}}, "defaults"),
        ({"default": {"label_no_scan_days": 2}}, "default.label_no_scan_days"),
        ({"default": {"label_no_scan_business_days": 0}}, "default.label_no_scan_business_days"),
        ({"default": {"slip_min_days": -1}}, "default.slip_min_days"),
        ({"default": {"slip_min_days": "2"}}, "default.slip_min_days"),
        ({"default": {"slip_min_days": True}}, "default.slip_min_days"),
        ({"default": {"slip_min_days": 1.5}}, "default.slip_min_days"),
        ({"default": []}, "default"),
        (
            {"carriers": {"ups": {"out_for_delivery_end_of_day": "late"}}},
            "carriers.ups.out_for_delivery_end_of_day",
        ),
        (
            {"carriers": {"ups": {"out_for_delivery_end_of_day": 21}}},
            "carriers.ups.out_for_delivery_end_of_day",
        ),
        (
            {"carriers": {"ups/ground": {"split_stalled_business_days": 0}}},
            "carriers.ups/ground.split_stalled_business_days",
        ),
        ({"carriers": {"ups/ground/x": {}}}, "carriers.ups/ground/x"),
        ({"carriers": {"/ground": {}}}, "carriers./ground"),
        ({"carriers": {"ups": {}, " UPS": {}}}, "carriers. UPS"),
        ({"carriers": ["ups"]}, "carriers"),
    ],
)
def test_from_config_rejects_bad_keys_and_values_naming_the_key(
    config: dict[str, Any], named: str
) -> None:
    """A typo or a bad value in the config fails at load, saying where."""
    with pytest.raises(ValueError, match=re.escape(named)):
        ThresholdRules.from_config(config)


def test_thresholds_reject_bad_values_when_built_directly() -> None:
    """The same checks hold for thresholds built in code."""
    with pytest.raises(ValueError, match="in_transit_no_scan_business_days"):
        Thresholds(in_transit_no_scan_business_days=0)
    with pytest.raises(ValueError, match="out_for_delivery_end_of_day"):
        Thresholds(out_for_delivery_end_of_day=time(21, tzinfo=UTC))


# --- properties -------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/Los_Angeles",
    "America/Sao_Paulo",  # DST used to start at midnight: the day began at 01:00
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kolkata",
    "Pacific/Kiritimati",  # UTC+14
]
TZ_LABELS = [None, "", "Z", "+05:30", "-03:00", "+14:00", "junk", "+ab:cd", "../etc", *ZONES]
HOLIDAYS = [date(2018, 11, 5), date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 25)]
T_MIN = datetime(2018, 10, 25)  # noqa: DTZ001 - hypothesis bounds are naive
T_MAX = datetime(2019, 3, 1)  # noqa: DTZ001


def instants() -> st.SearchStrategy[datetime]:
    shift = st.integers(0, 1).map(lambda y: timedelta(days=2964 * y))  # 2018 or Dec 2026
    return st.builds(
        lambda moment, delta, naive: (
            (moment + delta) if naive else (moment + delta).replace(tzinfo=UTC)
        ),
        st.datetimes(min_value=T_MIN, max_value=T_MAX),
        shift,
        st.booleans(),
    )


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def dates() -> st.SearchStrategy[date]:
    return instants().map(lambda moment: moment.date())


FACTS = st.builds(
    ShipmentFacts,
    carrier=st.just("ups"),
    service=st.just(None),
    milestone=st.sampled_from(list(Milestone)),
    reason=st.sampled_from(list(Reason)),
    created_at=instants(),
    status_at=maybe(instants()),
    last_event_at=maybe(instants()),
    last_event_tz=st.sampled_from(TZ_LABELS) | st.text(max_size=8),
    delivered_at=maybe(instants()),
    carrier_eta_on=maybe(dates()),
    previous_carrier_eta_on=maybe(dates()),
    predicted_on=maybe(dates()),
    promised_to_on=maybe(dates()),
    zone=st.sampled_from([*ZONES, "Not/A_Zone"]) | st.text(max_size=8),
    siblings=st.lists(st.builds(SiblingFacts, maybe(instants())), max_size=3).map(tuple),
)
THRESHOLDS = st.builds(
    Thresholds,
    label_no_scan_business_days=st.integers(1, 5),
    in_transit_no_scan_business_days=st.integers(1, 5),
    split_stalled_business_days=st.integers(1, 5),
    out_for_delivery_end_of_day=st.times(),
    slip_min_days=st.integers(1, 3),
)
CALENDARS = st.lists(st.sampled_from(HOLIDAYS)).map(BusinessCalendar)


@settings(max_examples=400, deadline=None)
@given(facts=FACTS, now=instants(), thresholds=THRESHOLDS, calendar=CALENDARS)
def test_nothing_changes_before_next_check_and_something_does_at_it(
    facts: ShipmentFacts, now: datetime, thresholds: Thresholds, calendar: BusinessCalendar
) -> None:
    """For any facts: detect never raises, keys do not depend on `now` between checks,
    next_check_at is aware UTC and after now, and at that instant a rule fires."""
    first = detect(facts, now=now, calendar=calendar, thresholds=thresholds)
    assert first == detect(facts, now=now, calendar=calendar, thresholds=thresholds)
    next_at = first.next_check_at
    if facts.milestone in (
        Milestone.DELIVERED,
        Milestone.RETURNED_TO_SENDER,
        Milestone.CANCELLED,
        Milestone.RETURNING_TO_SENDER,
    ):
        assert next_at is None
    if next_at is None:
        later = detect(
            facts, now=now + timedelta(days=400), calendar=calendar, thresholds=thresholds
        )
        assert keys(later) == keys(first)
        return
    assert next_at.tzinfo is UTC
    assert next_at > now.replace(tzinfo=now.tzinfo or UTC)
    just_before = detect(facts, now=next_at - US, calendar=calendar, thresholds=thresholds)
    assert keys(just_before) == keys(first)
    assert just_before.next_check_at == next_at
    at_check = detect(facts, now=next_at, calendar=calendar, thresholds=thresholds)
    assert keys(at_check) != keys(first)


@settings(max_examples=300, deadline=None)
@given(
    anchor=instants(),
    now=instants(),
    label=st.sampled_from(TZ_LABELS[2:]),
    days=st.integers(1, 5),
    calendar=CALENDARS,
)
def test_stall_rule_agrees_with_business_days_between(
    anchor: datetime, now: datetime, label: str, days: int, calendar: BusinessCalendar
) -> None:
    """The stall fires exactly when business_days_between(scan's local date, today's local
    date) reaches the threshold, both dates in the scan's zone."""
    facts = replace(PARIS_SCAN, last_event_at=anchor, last_event_tz=label, zone="Asia/Kolkata")
    thresholds = Thresholds(in_transit_no_scan_business_days=days)
    detection = detect(facts, now=now, calendar=calendar, thresholds=thresholds)
    zone: Any
    if label == "Z":
        zone = UTC
    elif label[0] in "+-" and label[1:3].isdigit() and label[4:6].isdigit():
        sign = 1 if label[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(label[1:3]), minutes=int(label[4:6])))
    elif label in ZONES:
        zone = ZoneInfo(label)
    else:
        zone = ZoneInfo("Asia/Kolkata")
    anchor_day = anchor.replace(tzinfo=anchor.tzinfo or UTC).astimezone(zone).date()
    today = now.replace(tzinfo=now.tzinfo or UTC).astimezone(zone).date()
    expected = calendar.business_days_between(anchor_day, today) >= days
    assert (FindingCode.NO_SCAN_IN_TRANSIT in codes(detection)) == expected
