"""Contract tests for the UPS, FedEx and USPS carrier modules.

Fixtures under fixtures/carriers/{ups,fedex,usps}/ are written by the project in each
carrier's documented response format. The real samples in shared/data are read when that
folder exists.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wismo.cli.main import app
from wismo.domain.status import ShipmentState, fold
from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError, Tracking
from wismo.ingestion.carriers.mapping import table_for
from wismo.ingestion.carriers.normalise import normalise

FIXTURES = Path(__file__).parent / "fixtures" / "carriers"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "carriers"
SAMPLES = SHARED / "documented-response-samples"
SPECS = SHARED / "code-tables-and-specs"
RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)


def trackings(carrier: str, name: str) -> list[Tracking]:
    return registry.parse(carrier, (FIXTURES / carrier / name).read_bytes())


def report(carrier: str, name: str, index: int = 0) -> dict[str, Any]:
    return registry.report(trackings(carrier, name)[index], RECEIVED)


def milestones(rep: dict[str, Any]) -> list[str]:
    return [e["milestone"] for e in rep["events"]]


def offsets(rep: dict[str, Any]) -> list[str]:
    return [e["occurred_at"][-6:] for e in rep["events"]]


def state(tracking: Tracking) -> ShipmentState:
    events, _ = normalise(tracking, RECEIVED)
    return fold(events)


def error_kind(carrier: str, body: bytes) -> str:
    with pytest.raises(CarrierError) as caught:
        registry.parse(carrier, body)
    return caught.value.kind


# UPS -------------------------------------------------------------------------------------


def test_ups_delivered_journey_maps_every_activity() -> None:
    """UPS: each activity of a delivered journey gets its milestone, and the fold says delivered."""
    rep = report("ups", "delivered.json")
    assert rep["tracking_number"] == "1Z999AA10123456784"
    assert milestones(rep) == [
        "in_transit",  # a note after delivery: the carrier's newest event, not the status
        "delivered",
        "out_for_delivery",
        "in_transit",
        "in_transit",
        "in_transit",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    assert rep["events"][0]["reason"] == "carrier_delay"
    assert rep["status"] == "delivered"
    assert rep["estimated_delivery"] is None
    assert {e["mapped_by"] for e in rep["events"]} == {"code"}


def test_ups_local_times_take_the_zone_of_the_activity_address() -> None:
    """UPS: wall-clock times without a zone are placed in the zone of the activity's state."""
    rep = report("ups", "delivered.json")
    assert rep["events"][1]["occurred_at"] == "2024-01-16T14:23:10-05:00"  # Paramus NJ, EST
    assert rep["events"][5]["occurred_at"] == "2024-01-14T23:30:00-06:00"  # Hodgkins IL, CST
    assert offsets(rep) == ["-05:00"] * 5 + ["-06:00"] * 3 + ["-05:00"]


def test_ups_weather_exception_in_transit_carries_the_reason() -> None:
    """UPS: a severe-weather exception after the last scan leaves it in exception/weather."""
    (tracking,) = trackings("ups", "weather_delay.json")
    rep = registry.report(tracking, RECEIVED)
    assert milestones(rep) == [
        "exception",
        "in_transit",
        "in_transit",
        "in_transit",
        "label_created",
    ]
    folded = state(tracking)
    assert (folded.milestone.value, folded.reason.value) == ("exception", "weather")


def test_ups_gmt_offset_and_rescheduled_date_are_used() -> None:
    """UPS: gmtOffset fixes the instant, and the rescheduled date (RDD) is the estimate."""
    rep = report("ups", "weather_delay.json")
    assert rep["events"][2]["occurred_at"] == "2023-12-18T15:00:00-06:00"
    assert rep["estimated_delivery"] == "2023-12-21T19:00:00-05:00"


def test_ups_refusal_then_return_ends_returned_to_sender() -> None:
    """UPS: attempt, refusal and the return's delivery fold to returned_to_sender."""
    (tracking,) = trackings("ups", "refused_returned.json")
    rep = registry.report(tracking, RECEIVED)
    assert milestones(rep)[2:5] == [
        "returning_to_sender",
        "returning_to_sender",
        "delivery_attempt_failed",
    ]
    assert rep["events"][3]["reason"] == "refused"
    assert rep["events"][4]["reason"] == "recipient_unavailable"
    assert rep["status"] == "returned_to_sender"


def _ups_one_activity(number: str, kind: str, code: str) -> bytes:
    activity = {
        "location": {"address": {"city": "MIAMI", "stateProvince": "FL", "countryCode": "US"}},
        "status": {"type": kind, "code": code, "description": "as the carrier says"},
        "date": "20240301",
        "time": "101500",
    }
    package = {"trackingNumber": number, "activity": [activity]}
    return json.dumps({"trackResponse": {"shipment": [{"package": [package]}]}}).encode()


def _first_event(carrier: str, body: bytes) -> tuple[str, str]:
    event = registry.report(registry.parse(carrier, body)[0], RECEIVED)["events"][0]
    return event["milestone"], event["reason"]


def test_ups_zero_padded_activity_codes_match_the_table() -> None:
    """UPS: "06" and "6" are one exception code, and "011" and "11" one status code."""
    body = _ups_one_activity("1Z999AA10123456784", "X", "06")
    assert _first_event("ups", body) == ("in_transit", "missorted")
    table = table_for("ups")
    assert table.lookup(("011",)) == table.lookup(("11",))


def test_ups_same_code_means_different_things_by_type_and_service() -> None:
    """UPS: "DP" is a departure (type I), a manifest (M) or a Mail Innovations redelivery notice."""
    assert _first_event("ups", _ups_one_activity("1Z999AA10123456784", "I", "DP"))[0] == (
        "in_transit"
    )
    assert _first_event("ups", _ups_one_activity("1Z999AA10123456784", "M", "DP"))[0] == (
        "label_created"
    )
    postal = "92748999997654321012345678"
    assert _first_event("ups", _ups_one_activity(postal, "I", "DP"))[0] == "available_for_pickup"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("not_found.json", "not_found"),
        ("not_found_404.json", "not_found"),
        ("unauthorized.json", "unauthorized"),
        ("rate_limited.json", "rate_limited"),
        ("malformed.json", "unparseable"),
        ("wrong_shape.json", "unparseable"),
    ],
)
def test_ups_error_responses(name: str, kind: str) -> None:
    """UPS: documented errors and malformed bodies raise the right CarrierError kind."""
    assert error_kind("ups", (FIXTURES / "ups" / name).read_bytes()) == kind


# FedEx -----------------------------------------------------------------------------------


def test_fedex_delivered_journey_maps_every_scan() -> None:
    """FedEx: each scan event of a delivered journey gets its milestone; offsets are kept."""
    rep = report("fedex", "delivered.json")
    assert milestones(rep) == [
        "delivered",
        "out_for_delivery",
        "in_transit",
        "in_transit",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    assert rep["status"] == "delivered"
    assert offsets(rep) == ["-08:00"] * 3 + ["-06:00"] * 2 + ["-05:00"] * 2


def test_fedex_weather_delay_is_an_exception_with_reason() -> None:
    """FedEx: a delay event whose delayDetail says WEATHER folds to exception/weather."""
    (tracking,) = trackings("fedex", "weather_delay.json")
    rep = registry.report(tracking, RECEIVED)
    assert milestones(rep) == [
        "exception",
        "in_transit",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    folded = state(tracking)
    assert (folded.milestone.value, folded.reason.value) == ("exception", "weather")


def test_fedex_estimate_without_offset_takes_the_destination_zone() -> None:
    """FedEx: an estimated delivery date-time without offset is local to the recipient (Seattle)."""
    assert report("fedex", "weather_delay.json")["estimated_delivery"] == (
        "2024-01-18T00:00:00-08:00"
    )


def test_fedex_delivery_exception_code_gives_the_reason() -> None:
    """FedEx: a DE scan with exception code 08 is a failed attempt, recipient unavailable."""
    (tracking,) = trackings("fedex", "delivery_exception.json")
    rep = registry.report(tracking, RECEIVED)
    first = rep["events"][0]
    assert (first["milestone"], first["reason"], first["raw_code"]) == (
        "delivery_attempt_failed",
        "recipient_unavailable",
        "DE:08",
    )
    assert "Customer not available" in first["description"]
    folded = state(tracking)
    assert (folded.milestone.value, folded.reason.value) == (
        "delivery_attempt_failed",
        "recipient_unavailable",
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("not_found.json", "not_found"),
        ("unauthorized.json", "unauthorized"),
        ("rate_limited.json", "rate_limited"),
        ("malformed.json", "unparseable"),
        ("no_date.json", "unparseable"),
    ],
)
def test_fedex_error_responses(name: str, kind: str) -> None:
    """FedEx: documented errors and malformed bodies raise the right CarrierError kind."""
    assert error_kind("fedex", (FIXTURES / "fedex" / name).read_bytes()) == kind


# USPS ------------------------------------------------------------------------------------


def test_usps_v3_delivered_journey_maps_every_event() -> None:
    """USPS v3: each event of a delivered journey gets its milestone; GMTOffset is applied."""
    rep = report("usps", "delivered.json")
    assert milestones(rep) == [
        "delivered",
        "out_for_delivery",
        "in_transit",
        "in_transit",
        "in_transit",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    assert rep["status"] == "delivered"
    assert offsets(rep) == ["-08:00"] * 4 + ["-05:00"] * 4


def test_usps_list_of_responses_and_failed_attempt_reason() -> None:
    """USPS v3: a JSON list gives one tracking per response; a notice left is a failed attempt."""
    first, second = trackings("usps", "attempted_batch.json")
    rep = registry.report(first, RECEIVED)
    assert milestones(rep) == [
        "delivery_attempt_failed",
        "out_for_delivery",
        "in_transit",
        "picked_up",
    ]
    assert rep["events"][0]["occurred_at"] == "2024-02-21T16:32:00-05:00"  # GMTOffset "-5:00"
    folded = state(first)
    assert (folded.milestone.value, folded.reason.value) == (
        "delivery_attempt_failed",
        "recipient_unavailable",
    )
    # A date-only estimate sits at noon local, so it is the same day anywhere near NJ.
    assert rep["estimated_delivery"] == "2024-02-22T12:00:00-05:00"
    other = registry.report(second, RECEIVED)
    assert other["status"] == "in_transit"
    assert other["estimated_delivery"] == "2024-02-24T21:00:00-06:00"  # Austin TX


def test_usps_webtools_xml_local_times_take_the_state_zone() -> None:
    """USPS Web Tools XML: times have no offset, so each takes its state's zone (NJ -05, CA -08)."""
    rep = report("usps", "delivered_webtools.xml")
    assert rep["tracking_number"] == "9400111899223397658540"
    assert milestones(rep) == [
        "delivered",
        "out_for_delivery",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    assert rep["status"] == "delivered"
    assert rep["events"][0]["occurred_at"] == "2024-01-09T11:42:00-05:00"
    # A plant named "SAN FRANCISCO CA DISTRIBUTION CENTER" has no state field: the name has it.
    assert rep["events"][2]["occurred_at"] == "2024-01-07T23:05:00-08:00"
    assert offsets(rep) == ["-05:00", "-05:00", "-08:00", "-08:00", "-08:00"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("not_found.json", "not_found"),
        ("not_found_webtools.xml", "not_found"),
        ("unauthorized.json", "unauthorized"),
        ("unauthorized_webtools.xml", "unauthorized"),
        ("rate_limited.json", "rate_limited"),
        ("malformed.json", "unparseable"),
        ("entity_webtools.xml", "unparseable"),
    ],
)
def test_usps_error_responses(name: str, kind: str) -> None:
    """USPS: documented errors, malformed bodies and XML with a DTD raise the right kind."""
    assert error_kind("usps", (FIXTURES / "usps" / name).read_bytes()) == kind


# Registry and CLI ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "name"),
    [("fedex_express", "fedex"), ("fedex_ground", "fedex"), ("usps_international", "usps")],
)
def test_aliases_resolve_to_the_carrier(alias: str, name: str) -> None:
    """Aliases users may type resolve to the carrier's module."""
    assert name == registry.carrier(alias).NAME


@pytest.mark.parametrize(
    ("carrier", "name", "number"),
    [
        ("ups", "delivered.json", "1Z999AA10123456784"),
        ("fedex", "delivered.json", "271284957302"),
        ("usps", "delivered.json", "9405511899223197428490"),
        ("usps", "delivered_webtools.xml", "9400111899223397658540"),
    ],
)
def test_cli_parse_prints_the_normalised_json(carrier: str, name: str, number: str) -> None:
    """CLI: `wismo carriers parse` exits 0 and prints the normalised tracking as JSON."""
    result = CliRunner().invoke(
        app, ["carriers", "parse", "--carrier", carrier, str(FIXTURES / carrier / name)]
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["carrier"], out["tracking_number"], out["status"]) == (carrier, number, "delivered")
    assert "delivered" in milestones(out)


@pytest.mark.parametrize(
    ("carrier", "name", "kind"),
    [
        ("ups", "not_found.json", "not_found"),
        ("ups", "unauthorized.json", "unauthorized"),
        ("ups", "malformed.json", "unparseable"),
        ("fedex", "not_found.json", "not_found"),
        ("fedex", "rate_limited.json", "rate_limited"),
        ("usps", "unauthorized.json", "unauthorized"),
        ("usps", "not_found_webtools.xml", "not_found"),
    ],
)
def test_cli_parse_reports_errors_on_one_line(carrier: str, name: str, kind: str) -> None:
    """CLI: an error response prints one "error:" line on stderr and exits 1."""
    result = CliRunner().invoke(
        app, ["carriers", "parse", "--carrier", carrier, str(FIXTURES / carrier / name)]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {kind}")


# Code tables against the carriers' documentation -----------------------------------------


def test_code_tables_load_without_conflicts() -> None:
    """The three code tables load (a code mapped two ways would fail) and are not empty."""
    assert len(table_for("ups")) > 1000
    assert len(table_for("fedex")) > 50
    assert len(table_for("usps")) > 40


def _doc_rows(name: str, table: str) -> list[list[str]]:
    path = SPECS / name
    if not path.is_file():
        pytest.skip(f"carrier documentation not available at {path}")
    with path.open(encoding="utf-8") as handle:
        return [row for row in csv.reader(handle) if row and row[0] == table]


def test_ups_every_documented_status_and_exception_code_is_mapped() -> None:
    """UPS: every documented statusCode and every exception activity code has a table row."""
    table = table_for("ups")
    statuses = _doc_rows(
        "ups__Tracking-status-description-codes.tables.csv", "Status/Description Codes"
    )
    # 0, 148 and 163 mean "no information": left out so that the activity code decides.
    missing = [
        r[1]
        for r in statuses[1:]
        if r[1] not in ("0", "148", "163") and table.lookup((r[1],)) is None
    ]
    assert missing == []
    exceptions = _doc_rows("ups__Tracking-delivery-codes.tables.csv", "Package Exceptions")
    assert [r[1] for r in exceptions[1:] if table.lookup((f"X:{r[1]}",)) is None] == []


def test_fedex_every_documented_event_code_is_mapped() -> None:
    """FedEx: every movement and regulatory code of the status table has a row."""
    rows = _doc_rows("fedex__Tracking-Status-Codes.tables.csv", "Tracking Status Codes")
    # Two tables side by side; each column pair has its own sections. Possession codes
    # (who holds the parcel) are not event types.
    codes: list[str] = []
    sections = ["Movement", "Movement"]
    for row in rows[1:]:
        for side, (code, text) in enumerate(((row[1], row[2]), (row[3], row[4]))):
            if code in ("Movement", "Regulatory", "Possession") and not text:
                sections[side] = code
            elif code and sections[side] != "Possession":
                codes.append(code)
    table = table_for("fedex")
    assert codes
    assert [c for c in codes if table.lookup((c,)) is None] == []


# Real documented responses ---------------------------------------------------------------

# The second entry of the USPS sample is the OpenAPI schema's example, every field "string":
# it parses, but it has nothing to map.
_PLACEHOLDER = "string"


@pytest.mark.parametrize(
    ("carrier", "name", "statuses"),
    [
        ("ups", "ups__tracking_response.json", ["delivered"]),
        ("fedex", "fedex__tracking_response.json", ["picked_up"]),
        ("usps", "usps__tracking_responses.json", ["delivered", "unknown"]),
        ("usps", "usps_international__tracking_responses.json", ["delivered", "unknown"]),
    ],
)
def test_real_samples_map_every_event(carrier: str, name: str, statuses: list[str]) -> None:
    """Real documented responses: every event gets a milestone and the statuses are plausible."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"documented response samples not available at {path}")
    found = registry.parse(carrier, path.read_bytes())
    reports = [registry.report(t, RECEIVED) for t in found]
    assert [r["status"] for r in reports] == statuses
    for rep in reports:
        if rep["tracking_number"] == _PLACEHOLDER:
            assert len(rep["events"]) == 1
            continue
        assert rep["events"]
        assert [e for e in rep["events"] if e["milestone"] == "unknown"] == []


def test_real_samples_journeys_read_as_the_carriers_say() -> None:
    """Real documented responses: the USPS journey and UPS delivery read event by event."""
    if not SAMPLES.is_dir():
        pytest.skip(f"documented response samples not available at {SAMPLES}")
    usps = registry.report(
        registry.parse("usps", (SAMPLES / "usps__tracking_responses.json").read_bytes())[0],
        RECEIVED,
    )
    assert milestones(usps) == ["delivered", "out_for_delivery"] + ["in_transit"] * 8 + [
        "picked_up",
        "label_created",
    ]
    assert usps["events"][0]["occurred_at"] == "2024-11-22T13:58:00-05:00"
    ups = registry.report(
        registry.parse("ups", (SAMPLES / "ups__tracking_response.json").read_bytes())[0],
        RECEIVED,
    )
    assert milestones(ups) == ["delivered", "label_created"]
    assert ups["events"][0]["occurred_at"] == "2022-01-26T16:30:00-05:00"  # Paramus NJ, local


def test_real_fedex_document_response_is_not_tracking() -> None:
    """FedEx: the tracking-documents sample (a proof-of-delivery PDF) is refused as unparseable."""
    path = SAMPLES / "fedex__tracking_document_response.json"
    if not path.is_file():
        pytest.skip(f"documented response samples not available at {path}")
    assert error_kind("fedex", path.read_bytes()) == "unparseable"
