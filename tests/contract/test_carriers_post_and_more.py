"""Contract tests: Canada Post, Royal Mail, Australia Post, Asendia, Hermes, ParcelOne, SEKO,
Sendle, SmartKargo, Spring and Teleship responses -> Wismo tracking.

Fixtures under `fixtures/carriers/<name>/` are the project's own, written in each carrier's
documented format. The documented samples in `../shared/data` are read when present.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wismo.cli.main import app
from wismo.domain.milestones import Milestone, Reason
from wismo.domain.status import fold
from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError, Tracking
from wismo.ingestion.carriers.mapping import table_for
from wismo.ingestion.carriers.normalise import normalise

FIXTURES = Path(__file__).parent / "fixtures" / "carriers"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SAMPLES = SHARED / "carriers" / "documented-response-samples"
RECEIVED_AT = datetime(2025, 1, 1, tzinfo=UTC)
CARRIERS = (
    "canadapost",
    "royalmail",
    "australiapost",
    "asendia",
    "hermes",
    "parcelone",
    "seko",
    "sendle",
    "smartkargo",
    "spring",
    "teleship",
)
runner = CliRunner()


def fixture(carrier: str, name: str) -> Path:
    return FIXTURES / carrier / name


def parse(carrier: str, path: Path) -> list[Tracking]:
    return registry.parse(carrier, path.read_bytes())


def report(carrier: str, path: Path) -> dict[str, Any]:
    return registry.report(parse(carrier, path)[0], RECEIVED_AT)


def milestones(found: dict[str, Any]) -> list[str]:
    return [event["milestone"] for event in found["events"]]


def folded(tracking: Tracking) -> tuple[Milestone, Reason]:
    events, _ = normalise(tracking, RECEIVED_AT)
    state = fold(events)
    return state.milestone, state.reason


# --- the framework sees every carrier -------------------------------------------------


@pytest.mark.parametrize("carrier", CARRIERS)
def test_carrier_is_registered_with_a_code_table(carrier: str) -> None:
    """Each carrier is discovered by the registry and its code table loads with rows."""
    assert carrier in registry.supported()
    assert len(table_for(carrier)) > 0


# --- Canada Post -----------------------------------------------------------------------


def test_canadapost_delivered_journey() -> None:
    """A Canada Post delivered journey maps every event by code and folds to delivered."""
    found = report("canadapost", fixture("canadapost", "delivered.xml"))
    assert found["tracking_number"] == "7300145210456123"
    assert milestones(found) == [
        "delivered",
        "delivered",
        "out_for_delivery",
        "in_transit",
        "in_transit",
    ]
    assert {event["mapped_by"] for event in found["events"]} == {"code"}
    assert found["status"] == "delivered"
    assert found["estimated_delivery"] == "2024-07-12T00:00:00-04:00"


def test_canadapost_zero_padded_codes_match() -> None:
    """Zero-padded event identifiers (0174, 0020) find their unpadded table rows."""
    found = report("canadapost", fixture("canadapost", "delivered.xml"))
    by_code = {event["raw_code"]: event["milestone"] for event in found["events"]}
    assert by_code["0174"] == "out_for_delivery"
    assert by_code["0020"] == "delivered"


def test_canadapost_zone_abbreviations_are_offsets_not_utc() -> None:
    """NDT and PDT become -02:30 and -07:00; a blank zone takes the province's zone."""
    found = report("canadapost", fixture("canadapost", "delivered.xml"))
    stamps = [event["occurred_at"] for event in found["events"]]
    assert stamps[2] == "2024-07-11T08:02:51-02:30"  # NDT, St. John's
    assert stamps[3] == "2024-07-10T22:17:30-02:30"  # no zone given, NL -> St. John's
    assert stamps[4] == "2024-07-08T19:05:12-07:00"  # PDT, Richmond BC


def test_canadapost_exception_with_reason() -> None:
    """An addressing error folds to exception with reason address_problem."""
    [tracking] = parse("canadapost", fixture("canadapost", "exception.xml"))
    assert folded(tracking) == (Milestone.EXCEPTION, Reason.ADDRESS_PROBLEM)
    assert report("canadapost", fixture("canadapost", "exception.xml"))["status"] == "exception"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("not_found.xml", "not_found"),
        ("unauthorized.xml", "unauthorized"),
        ("rate_limited.xml", "rate_limited"),
        ("malformed.xml", "unparseable"),
        ("entity.xml", "unparseable"),
    ],
)
def test_canadapost_errors(name: str, kind: str) -> None:
    """Canada Post messages and broken XML raise the matching CarrierError kind."""
    with pytest.raises(CarrierError) as caught:
        parse("canadapost", fixture("canadapost", name))
    assert caught.value.kind == kind


def test_canadapost_refuses_entity_declarations_before_parsing() -> None:
    """A DOCTYPE with entities is refused outright, so no entity is ever expanded."""
    with pytest.raises(CarrierError, match="DOCTYPE or ENTITY"):
        parse("canadapost", fixture("canadapost", "entity.xml"))


def test_canadapost_unknown_code_falls_back_to_the_description() -> None:
    """An identifier missing from the table is decided by the event description."""
    found = report("canadapost", fixture("canadapost", "unknown_code.xml"))
    [event] = found["events"]
    assert event["mapped_by"] == "message"
    assert event["milestone"] == "label_created"


# --- Royal Mail ------------------------------------------------------------------------


def test_royalmail_delivered_journey() -> None:
    """A Royal Mail journey maps pre-advice to delivery and folds to delivered."""
    found = report("royalmail", fixture("royalmail", "delivered.json"))
    assert found["tracking_number"] == "TT123456785GB"
    assert milestones(found) == [
        "delivered",
        "out_for_delivery",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    assert found["status"] == "delivered"
    assert found["estimated_delivery"] == "2024-06-18T00:00:00+01:00"


def test_royalmail_exception_with_reason() -> None:
    """A mis-sort then a failed attempt fold to delivery_attempt_failed, nobody home."""
    [tracking] = parse("royalmail", fixture("royalmail", "exception.json"))
    assert folded(tracking) == (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.RECIPIENT_UNAVAILABLE)
    found = report("royalmail", fixture("royalmail", "exception.json"))
    assert found["events"][1]["reason"] == "missorted"


def test_royalmail_summary_skips_unknown_pieces() -> None:
    """A summary response yields its known piece from the last event; E1142 pieces drop."""
    [tracking] = parse("royalmail", fixture("royalmail", "summary.json"))
    assert tracking.tracking_number == "TT123456785GB"
    assert folded(tracking)[0] is Milestone.AVAILABLE_FOR_PICKUP


def test_royalmail_zone_keeps_the_offset_and_localises_bare_times() -> None:
    """+01:00 stays +01:00; a time without an offset is UK time (BST), not UTC."""
    found = report("royalmail", fixture("royalmail", "delivered.json"))
    assert found["events"][0]["occurred_at"] == "2024-06-18T13:02:00+01:00"
    bare = report("royalmail", fixture("royalmail", "no_offset.json"))
    assert bare["events"][0]["occurred_at"] == "2024-07-01T09:30:00+01:00"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("not_found.json", "not_found"),
        ("unauthorized.json", "unauthorized"),
        ("rate_limited.json", "rate_limited"),
        ("malformed.json", "unparseable"),
    ],
)
def test_royalmail_errors(name: str, kind: str) -> None:
    """Royal Mail error bodies and broken JSON raise the matching CarrierError kind."""
    with pytest.raises(CarrierError) as caught:
        parse("royalmail", fixture("royalmail", name))
    assert caught.value.kind == kind


# --- Australia Post --------------------------------------------------------------------


def test_australiapost_delivered_journey() -> None:
    """Australia Post wording maps through the table and folds to delivered."""
    found = report("australiapost", fixture("australiapost", "delivered.json"))
    assert found["tracking_number"] == "33LKP5048215"
    assert milestones(found) == [
        "delivered",
        "out_for_delivery",
        "in_transit",
        "in_transit",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    assert {event["mapped_by"] for event in found["events"]} == {"code"}
    assert found["status"] == "delivered"


def test_australiapost_exception_with_reason() -> None:
    """An item held in customs folds to exception with reason customs_hold."""
    [tracking] = parse("australiapost", fixture("australiapost", "exception.json"))
    assert folded(tracking) == (Milestone.EXCEPTION, Reason.CUSTOMS_HOLD)


def test_australiapost_zone_keeps_state_offsets() -> None:
    """Perth scans keep +08:00 and Victorian ones +11:00; a bare time takes the state's zone."""
    found = report("australiapost", fixture("australiapost", "delivered.json"))
    assert found["events"][0]["occurred_at"] == "2024-03-08T11:04:27+08:00"
    assert found["events"][4]["occurred_at"] == "2024-03-05T22:13:13+11:00"
    body = json.dumps(
        {
            "tracking_results": [
                {
                    "tracking_id": "X1",
                    "trackable_items": [
                        {
                            "article_id": "X1",
                            "events": [
                                {
                                    "location": "JOONDALUP WA",
                                    "description": "Delivered",
                                    "date": "2024-03-08T11:04:27",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    ).encode()
    [tracking] = registry.parse("australiapost", body)
    assert tracking.scans[0].occurred_at.isoformat() == "2024-03-08T11:04:27+08:00"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("not_found.json", "not_found"),
        ("unauthorized.json", "unauthorized"),
        ("rate_limited.json", "rate_limited"),
        ("malformed.json", "unparseable"),
    ],
)
def test_australiapost_errors(name: str, kind: str) -> None:
    """Australia Post error bodies and broken JSON raise the matching CarrierError kind."""
    with pytest.raises(CarrierError) as caught:
        parse("australiapost", fixture("australiapost", name))
    assert caught.value.kind == kind


# --- the other carriers: one journey and one error each --------------------------------

JOURNEYS = [
    (
        "asendia",
        "journey.json",
        ["label_created", "picked_up", "in_transit", "out_for_delivery", "delivered"],
    ),
    (
        "hermes",
        "journey.json",
        ["delivered", "out_for_delivery", "in_transit", "picked_up", "label_created"],
    ),
    ("parcelone", "journey.json", ["delivered", "out_for_delivery", "in_transit", "label_created"]),
    (
        "seko",
        "journey.json",
        ["label_created", "picked_up", "in_transit", "out_for_delivery", "delivered"],
    ),
    ("sendle", "journey.json", ["picked_up", "in_transit", "out_for_delivery", "delivered"]),
    (
        "smartkargo",
        "journey.json",
        ["label_created", "picked_up", "in_transit", "out_for_delivery", "delivered"],
    ),
    (
        "spring",
        "journey.json",
        ["label_created", "picked_up", "in_transit", "out_for_delivery", "delivered"],
    ),
    (
        "teleship",
        "journey.json",
        ["picked_up", "in_transit", "in_transit", "out_for_delivery", "delivered"],
    ),
]
ERRORS = [
    ("asendia", "not_found.json", "not_found"),
    ("hermes", "not_found.json", "not_found"),
    ("parcelone", "not_found.json", "not_found"),
    ("seko", "unauthorized.json", "unauthorized"),
    ("sendle", "not_found.json", "not_found"),
    ("smartkargo", "not_found.json", "not_found"),
    ("spring", "not_found.json", "not_found"),
    ("teleship", "not_found.json", "not_found"),
]


@pytest.mark.parametrize(("carrier", "name", "expected"), JOURNEYS)
def test_journey_maps_every_event_and_folds_to_delivered(
    carrier: str, name: str, expected: list[str]
) -> None:
    """Each carrier's delivered journey maps every event by code and folds to delivered."""
    found = report(carrier, fixture(carrier, name))
    assert milestones(found) == expected
    assert {event["mapped_by"] for event in found["events"]} == {"code"}
    assert found["status"] == "delivered"


@pytest.mark.parametrize(("carrier", "name", "kind"), ERRORS)
def test_error_response_raises_its_kind(carrier: str, name: str, kind: str) -> None:
    """Each carrier's documented error body raises the matching CarrierError kind."""
    with pytest.raises(CarrierError) as caught:
        parse(carrier, fixture(carrier, name))
    assert caught.value.kind == kind


@pytest.mark.parametrize("carrier", CARRIERS[3:])
def test_malformed_json_is_unparseable(carrier: str) -> None:
    """Truncated JSON or a body of the wrong shape is unparseable, never a crash."""
    for body in (b'{"events": [', b'"just a string"'):
        with pytest.raises(CarrierError) as caught:
            registry.parse(carrier, body)
        assert caught.value.kind == "unparseable"


def test_local_times_take_the_zone_of_their_place() -> None:
    """Offset-less times are local: SEKO by location, SmartKargo by airport, ParcelOne by
    country; Spring uses its Unix timestamp."""
    seko = report("seko", fixture("seko", "journey.json"))
    assert seko["events"][0]["occurred_at"].endswith("+12:00")  # Auckland, NZST
    assert seko["events"][-1]["occurred_at"] == "2024-08-15T14:22:00+10:00"  # Sydney
    kargo = report("smartkargo", fixture("smartkargo", "journey.json"))
    assert kargo["events"][0]["occurred_at"] == "2024-04-02T09:10:00-05:00"  # ORD, CDT
    assert kargo["events"][-1]["occurred_at"] == "2024-04-04T13:47:00-04:00"  # MIA, EDT
    parcel = report("parcelone", fixture("parcelone", "journey.json"))
    assert parcel["events"][0]["occurred_at"] == "2024-02-21T16:05:00+01:00"  # Vienna
    spring = report("spring", fixture("spring", "journey.json"))
    assert spring["events"][-1]["occurred_at"] == "2024-03-09T14:00:00+00:00"  # London


# --- the CLI ---------------------------------------------------------------------------

CLI_OK = [
    ("canadapost", "delivered.xml", "delivered"),
    ("canadapost", "exception.xml", "exception"),
    ("royalmail", "delivered.json", "delivered"),
    ("royalmail", "exception.json", "delivery_attempt_failed"),
    ("australiapost", "delivered.json", "delivered"),
    ("australiapost", "exception.json", "exception"),
    *[(carrier, name, "delivered") for carrier, name, _ in JOURNEYS],
]
CLI_ERRORS = [
    ("canadapost", "not_found.xml", "not_found"),
    ("canadapost", "unauthorized.xml", "unauthorized"),
    ("canadapost", "malformed.xml", "unparseable"),
    ("royalmail", "not_found.json", "not_found"),
    ("royalmail", "unauthorized.json", "unauthorized"),
    ("royalmail", "malformed.json", "unparseable"),
    ("australiapost", "not_found.json", "not_found"),
    ("australiapost", "unauthorized.json", "unauthorized"),
    ("australiapost", "malformed.json", "unparseable"),
    *ERRORS,
]


@pytest.mark.parametrize(("carrier", "name", "status"), CLI_OK)
def test_cli_parse_prints_the_report(carrier: str, name: str, status: str) -> None:
    """`wismo carriers parse` exits 0 and prints the carrier's report as JSON."""
    path = str(fixture(carrier, name))
    result = runner.invoke(app, ["carriers", "parse", "--carrier", carrier, path])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["carrier"] == carrier
    assert printed["status"] == status
    assert all(event["milestone"] != "unknown" for event in printed["events"])


@pytest.mark.parametrize(("carrier", "name", "kind"), CLI_ERRORS)
def test_cli_parse_errors_are_one_line(carrier: str, name: str, kind: str) -> None:
    """An error response exits 1 with one stderr line `error: <kind>: ...`."""
    path = str(fixture(carrier, name))
    result = runner.invoke(app, ["carriers", "parse", "--carrier", carrier, path])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {kind}")


# --- the documented samples in ../shared/data ------------------------------------------

SAMPLE_STATUSES = {
    "asendia": {"ASENDIA123456789": "delivered"},
    "australiapost": {"7XX1000634011427": "delivered", "ET123456789AU": "in_transit"},
    "hermes": {"H9746130018743501086": "delivered"},
    "parcelone": {"123456789012": "delivered"},
    "seko": {"WFY9001843": "in_transit"},
    "sendle": {"": "delivered"},
    "smartkargo": {"yogi045": "delivered"},
    "spring": {"LX210720682NL": "delivered"},
    "teleship": {"TELE987654321GB": "in_transit"},
}


@pytest.mark.parametrize("carrier", sorted(SAMPLE_STATUSES))
def test_documented_sample_maps_every_event(carrier: str) -> None:
    """Every event of the carrier's documented sample gets a milestone; statuses fit."""
    if not SAMPLES.is_dir():
        pytest.skip(f"shared reference data not found at {SAMPLES}")
    paths = sorted(SAMPLES.glob(f"{carrier}__*.json"))
    if not paths:
        pytest.skip(f"no documented sample for {carrier} in {SAMPLES}")
    statuses: dict[str, str] = {}
    for path in paths:
        for tracking in parse(carrier, path):
            found = registry.report(tracking, RECEIVED_AT)
            assert found["events"], f"{path.name}: {tracking.tracking_number} has no events"
            unknown = [e["description"] for e in found["events"] if e["milestone"] == "unknown"]
            assert not unknown, f"{path.name}: unmapped events {unknown}"
            statuses[tracking.tracking_number] = found["status"]
    assert statuses == SAMPLE_STATUSES[carrier]
