"""Zones from stored names and carrier labels never raise, whatever the data says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from wismo.domain.zones import reported_zone, zone


def test_named_zone_falls_back_then_to_utc() -> None:
    assert zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert zone("Nowhere/Else", "America/New_York") == ZoneInfo("America/New_York")
    assert zone(None, "bad zone") == ZoneInfo("UTC")
    assert zone("America").key == "UTC"  # a directory, not a zone


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Z", UTC),
        ("+01:00", timezone(timedelta(hours=1))),
        ("-05:30", timezone(-timedelta(hours=5, minutes=30))),
        ("Asia/Tokyo", ZoneInfo("Asia/Tokyo")),
    ],
)
def test_reported_labels(label: str, expected: object) -> None:
    assert reported_zone(label) == expected


@pytest.mark.parametrize("label", ["+xx:yy", "+99:00", "../etc", "", None, "+0100", "Mars/Base"])
def test_unusable_labels_fall_back(label: str | None) -> None:
    assert reported_zone(label) is None
    assert reported_zone(label, "Europe/Berlin") == ZoneInfo("Europe/Berlin")
    # What the answer does with it: the instant as it is, never an exception.
    moment = datetime(2026, 11, 28, 12, tzinfo=UTC)
    found = reported_zone(label)
    assert (moment.astimezone(found) if found else moment) == moment
