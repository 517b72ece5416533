"""Contract tests: DHL Express (MyDHL), DHL Unified, DHL Parcel DE, DPD and La Poste.

Each carrier's own response formats (fixtures written for Wismo under
`fixtures/carriers/<name>/`) go through the registry to Wismo events, the folded status and
`wismo carriers parse`. The documented samples in `../shared/data` are read when present.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from wismo.cli.main import app
from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError
from wismo.ingestion.carriers.mapping import canonical_code, table_for

FIXTURES = Path(__file__).parent / "fixtures" / "carriers"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SAMPLES = SHARED / "carriers" / "documented-response-samples"
RECEIVED = datetime(2025, 1, 1, tzinfo=UTC)
CARRIERS = ("dhl_express", "dhl_universal", "dhl_parcel_de", "dpd", "laposte")

runner = CliRunner()


def report(carrier: str, body: bytes) -> dict[str, Any]:
    found = registry.parse(carrier, body)
    assert len(found) == 1
    return registry.report(found[0], received_at=RECEIVED)


def fixture(carrier: str, name: str) -> dict[str, Any]:
    return report(carrier, (FIXTURES / carrier / name).read_bytes())


def milestones(result: dict[str, Any]) -> list[str]:
    return [e["milestone"] for e in result["events"]]


def split(words: str) -> list[str]:
    return words.split()


def at(result: dict[str, Any], code: str) -> dict[str, Any]:
    return next(e for e in result["events"] if e["raw_code"] == code)


# DHL Express (MyDHL API) -------------------------------------------------------------------


def test_dhl_express_delivered_journey() -> None:
    """A MyDHL journey maps every checkpoint code and folds to delivered."""
    result = fixture("dhl_express", "delivered.json")
    assert result["carrier"] == "dhl_express"
    assert result["tracking_number"] == "4711000001"
    transit = ["in_transit"] * 5
    assert milestones(result) == ["delivered", "out_for_delivery", *transit, "picked_up"]
    assert {e["mapped_by"] for e in result["events"]} == {"code"}
    assert result["status"] == "delivered"
    assert result["estimated_delivery"] == "2024-11-12T00:00:00-06:00"


def test_dhl_express_local_times_take_the_service_area_zone() -> None:
    """MyDHL date+time is the service area's wall clock, never UTC; a "+00:00" is no zone."""
    result = fixture("dhl_express", "delivered.json")
    # Receiver's area CHI (Chicago, CST) although the event says GMTOffset "+00:00".
    assert at(result, "OK")["occurred_at"] == "2024-11-12T14:05:00-06:00"
    assert at(result, "WC")["occurred_at"] == "2024-11-12T08:40:00-06:00"
    # "CINCINNATI HUB,OH-USA": Eastern time, and the carrier's explicit -05:00 agrees.
    assert at(result, "CR")["occurred_at"] == "2024-11-11T09:20:00-05:00"
    assert at(result, "AF")["occurred_at"] == "2024-11-11T07:10:00-05:00"
    # "LEIPZIG - GERMANY" with no offset, and the shipper's area CGN (Bonn, Germany).
    assert at(result, "PL")["occurred_at"] == "2024-11-08T22:30:00+01:00"
    assert at(result, "PU")["occurred_at"] == "2024-11-08T16:40:00+01:00"
    assert at(result, "PL")["location"] == "LEIPZIG, DE"


def test_dhl_express_exception_keeps_the_reason() -> None:
    """Clearance delay then duty payment: the status is the exception, with its reason."""
    result = fixture("dhl_express", "exception.json")
    assert at(result, "CD")["milestone"] == "exception"
    assert at(result, "CD")["reason"] == "customs_hold"
    assert at(result, "HP")["reason"] == "held_for_payment"
    assert result["status"] == "exception"


def test_dhl_express_status_is_folded_over_all_events() -> None:
    """A scan listed first but older, or one after delivery, does not undo the delivery."""
    data = orjson.loads((FIXTURES / "dhl_express" / "delivered.json").read_bytes())
    events = data["shipments"][0]["events"]
    late_info = dict(events[3], date="2024-11-13", time="09:00:00", typeCode="RR")
    data["shipments"][0]["events"] = [events[-1], late_info, *events[:-1]]
    result = report("dhl_express", orjson.dumps(data))
    assert result["status"] == "delivered"


def test_dhl_express_pieces_events_when_the_shipment_has_none() -> None:
    """Events listed only under pieces are read once each."""
    data = orjson.loads((FIXTURES / "dhl_express" / "delivered.json").read_bytes())
    shipment = data["shipments"][0]
    events = shipment.pop("events")
    shipment["pieces"] = [{"number": 1, "events": events}, {"number": 2, "events": events}]
    result = report("dhl_express", orjson.dumps(data))
    assert len(result["events"]) == len(events)
    assert result["status"] == "delivered"


def test_dhl_express_unknown_code_is_decided_by_its_description() -> None:
    """A checkpoint code the table lacks falls back to the description."""
    data = orjson.loads((FIXTURES / "dhl_express" / "delivered.json").read_bytes())
    event = data["shipments"][0]["events"][1]
    event["typeCode"] = "ZZ"
    result = report("dhl_express", orjson.dumps(data))
    assert at(result, "ZZ")["milestone"] == "out_for_delivery"
    assert at(result, "ZZ")["mapped_by"] == "message"


# DHL Shipment Tracking - Unified API ------------------------------------------------------


def test_dhl_universal_delivered_journey() -> None:
    """Express checkpoint codes in `status` map; coarse statusCode does not override them."""
    result = fixture("dhl_universal", "delivered.json")
    assert result["tracking_number"] == "4711000011"
    assert milestones(result) == split(
        "delivered out_for_delivery in_transit in_transit in_transit picked_up"
    )
    assert result["status"] == "delivered"
    assert result["estimated_delivery"] == "2024-06-05T18:00:00+01:00"


def test_dhl_universal_local_times_without_offset() -> None:
    """A timestamp without offset is local to the country named in addressLocality."""
    result = fixture("dhl_universal", "delivered.json")
    assert at(result, "DF")["occurred_at"] == "2024-06-04T23:40:00+02:00"
    assert at(result, "DF")["location"] == "LEIPZIG, DE"
    assert at(result, "OK")["occurred_at"] == "2024-06-05T11:02:00+01:00"


def test_dhl_universal_exception_keeps_the_reason() -> None:
    """A clearance delay (CD) is an exception held at customs."""
    result = fixture("dhl_universal", "exception.json")
    assert at(result, "CD")["milestone"] == "exception"
    assert result["status"] == "exception"
    assert at(result, "CD")["reason"] == "customs_hold"


def test_dhl_universal_coarse_code_decides_an_unreadable_text() -> None:
    """No specific code and a text that says nothing: the coarse statusCode decides."""
    body = {
        "shipments": [
            {
                "id": "1",
                "service": "parcel-nl",
                "events": [
                    {
                        "timestamp": "2024-03-01T10:00:00",
                        "statusCode": "pre-transit",
                        "status": "-",
                    },
                    {"timestamp": "2024-03-02T10:00:00", "statusCode": "delivered"},
                ],
            }
        ]
    }
    result = report("dhl_universal", orjson.dumps(body))
    assert milestones(result) == ["label_created", "delivered"]
    assert result["events"][0]["occurred_at"] == "2024-03-01T10:00:00+01:00"  # parcel-nl home


def test_dhl_universal_text_refines_the_coarse_code_within_it() -> None:
    """A "transit" text saying out for delivery wins; one saying delivered does not."""
    body = {
        "shipments": [
            {
                "id": "1",
                "service": "ecommerce",
                "destination": {"address": {"countryCode": "NL"}},
                "events": [
                    {
                        "timestamp": "2024-03-02T08:00:00+01:00",
                        "statusCode": "transit",
                        "description": "Shipment is out for delivery",
                    },
                    {
                        "timestamp": "2024-03-02T09:00:00+01:00",
                        "statusCode": "transit",
                        "description": "Delivered to the sorting centre",
                    },
                ],
            }
        ]
    }
    result = report("dhl_universal", orjson.dumps(body))
    assert milestones(result) == ["out_for_delivery", "in_transit"]
    assert [e["mapped_by"] for e in result["events"]] == ["message", "code"]


def test_dhl_universal_parcel_germany_codes_in_status_detailed() -> None:
    """Parcel Germany's ICE_RIC_SEC codes in statusDetailed map through dhl_universal too."""
    body = (FIXTURES / "dhl_parcel_de" / "delivered_unified.json").read_bytes()
    result = report("dhl_universal", body)
    assert milestones(result) == split(
        "delivered out_for_delivery in_transit in_transit picked_up label_created"
    )


# DHL Parcel Germany ---------------------------------------------------------------------------


def test_dhl_parcel_de_delivered_xml_journey() -> None:
    """The Parcel DE XML (d-get-piece-detail) maps by ICE, RIC and standard event code."""
    result = fixture("dhl_parcel_de", "delivered.xml")
    assert result["tracking_number"] == "00340434999900000017"
    assert milestones(result) == split(
        "label_created picked_up in_transit in_transit out_for_delivery delivered"
    )
    assert result["events"][4]["raw_code"] == "SRTED_NRQRD_PO"
    assert result["status"] == "delivered"


def test_dhl_parcel_de_local_times_are_german() -> None:
    """ "24.06.2024 11:48" is Berlin time: +02:00 in summer, +01:00 in winter."""
    summer = fixture("dhl_parcel_de", "delivered.xml")
    assert at(summer, "DLVRD_OTHER_ZU")["occurred_at"] == "2024-06-24T11:48:00+02:00"
    assert at(summer, "DLVRD_OTHER_ZU")["location"] == "Köln, DE"
    winter = fixture("dhl_parcel_de", "exception.xml")
    assert at(winter, "PARCV_NRQRD_VA")["occurred_at"] == "2024-01-05T10:14:00+01:00"


def test_dhl_parcel_de_damaged_is_an_exception() -> None:
    """A damaged parcel sent back for repacking (get-status-for-public-user XML)."""
    result = fixture("dhl_parcel_de", "exception.xml")
    damaged = at(result, "DLVRF_DMGED_ZN")
    assert (damaged["milestone"], damaged["reason"]) == ("exception", "damaged")
    assert result["status"] == "exception"


def test_dhl_parcel_de_unified_shape() -> None:
    """The Unified API JSON for parcel-de, with HTML stripped from descriptions."""
    result = fixture("dhl_parcel_de", "delivered_unified.json")
    assert result["carrier"] == "dhl_parcel_de"
    assert result["status"] == "delivered"
    loaded = at(result, "SRTED_NRQRD_PO")
    assert loaded["milestone"] == "out_for_delivery"
    assert loaded["description"] == "Die Sendung wurde in das Zustellfahrzeug geladen."
    assert loaded["occurred_at"] == "2024-06-25T07:55:00+02:00"


def test_dhl_parcel_de_summary_without_event_list() -> None:
    """A piece with no event list is read from its own latest status."""
    body = (
        b'<data name="piece-shipment-list" code="0"><data name="piece-shipment" '
        b'piece-code="00340434999900000048" status-timestamp="24.06.2024 11:48" '
        b'status="Die Sendung wurde erfolgreich zugestellt." ice="DLVRD" ric="OTHER" '
        b'standard-event-code="ZU" event-country="DE"/></data>'
    )
    result = report("dhl_parcel_de", body)
    assert milestones(result) == ["delivered"]


def test_dhl_parcel_de_refuses_entity_declarations() -> None:
    """XML with a DOCTYPE/ENTITY declaration is refused before parsing."""
    body = (
        b'<?xml version="1.0"?><!DOCTYPE data [<!ENTITY x "boom">]>'
        b'<data name="piece-shipment-list" code="0"/>'
    )
    with pytest.raises(CarrierError) as info:
        registry.parse("dhl_parcel_de", body)
    assert info.value.kind == "unparseable"


def test_parcel_germany_rows_agree_between_dhl_tables() -> None:
    """dhl_universal and dhl_parcel_de map every shared Parcel Germany code the same way."""
    universal = dict(table_for("dhl_universal").items())
    parcel = dict(table_for("dhl_parcel_de").items())
    assert parcel.keys() <= universal.keys()
    assert {code: universal[code] for code in parcel} == parcel


# DPD ----------------------------------------------------------------------------------------


def test_dpd_delivered_life_cycle() -> None:
    """The reached statusInfo entries of the parcel life cycle JSON are the events."""
    result = fixture("dpd", "delivered.json")
    assert result["tracking_number"] == "01905002123456"
    assert milestones(result) == split(
        "label_created picked_up in_transit in_transit out_for_delivery delivered"
    )
    assert result["status"] == "delivered"


def test_dpd_local_times_take_the_depot_country() -> None:
    """ "03.06.2024, 19:47" at "Mechelen (BE)" is Brussels time, not UTC."""
    result = fixture("dpd", "delivered.json")
    sending = at(result, "AT_SENDING_DEPOT")
    assert sending["occurred_at"] == "2024-06-03T19:47:00+02:00"
    assert sending["location"] == "Mechelen, BE"
    winter = fixture("dpd", "exception.xml")
    assert at(winter, "PickedUp")["occurred_at"] == "2024-03-11T16:05:10+01:00"


def test_dpd_scans_are_the_events_when_present() -> None:
    """Scans win over statusInfo, and DPD's unreached forecast is no event."""
    result = fixture("dpd", "scans.json")
    assert [e["raw_code"] for e in result["events"]] == [
        "SC_05_PICKUP",
        "SC_10_HUB",
        "SC_03_OUT_FOR_DELIVERY",
        "SC_14_DELIVERY_OBSTACLE",
    ]
    assert milestones(result) == split(
        "picked_up in_transit out_for_delivery delivery_attempt_failed"
    )
    assert result["status"] == "delivery_attempt_failed"


def test_dpd_failed_delivery_soap() -> None:
    """getTrackingData (SOAP): a failed attempt, then back at the depot."""
    result = fixture("dpd", "exception.xml")
    assert milestones(result) == split(
        "picked_up in_transit out_for_delivery delivery_attempt_failed delivery_attempt_failed"
    )
    assert result["status"] == "delivery_attempt_failed"
    assert at(result, "DeliveryFailure")["reason"] == "none"
    assert at(result, "Courier")["description"] == (
        "The parcel has left the parcel delivery centre and is on its way to the consignee."
    )


# La Poste -----------------------------------------------------------------------------------


def test_laposte_delivered_journey() -> None:
    """A Colissimo journey from DR1 to DI1; the five-step timeline is not read as events."""
    result = fixture("laposte", "delivered.json")
    assert result["tracking_number"] == "6A24000000017"
    assert milestones(result) == split(
        "delivered out_for_delivery in_transit in_transit picked_up label_created"
    )
    assert result["status"] == "delivered"


def test_laposte_offsets_are_kept() -> None:
    """La Poste dates carry their offset (CET and CEST) and keep it."""
    result = fixture("laposte", "delivered.json")
    assert at(result, "DI1")["occurred_at"] == "2024-10-29T11:52:00+01:00"
    assert at(result, "PC1")["occurred_at"] == "2024-10-25T17:03:00+02:00"


def test_laposte_customs_hold() -> None:
    """DO3 (held in customs) is an exception; the responses wrapper is read."""
    result = fixture("laposte", "exception.json")
    assert at(result, "DO3")["milestone"] == "exception"
    assert at(result, "DO3")["reason"] == "customs_hold"
    assert at(result, "DO1")["milestone"] == "in_transit"
    assert result["status"] == "exception"
    assert result["estimated_delivery"] == "2024-11-08T00:00:00+01:00"


# Errors and the CLI ---------------------------------------------------------------------------

ERRORS = [
    ("dhl_express", "not_found.json", "not_found"),
    ("dhl_express", "unauthorized.json", "unauthorized"),
    ("dhl_express", "rate_limited.json", "rate_limited"),
    ("dhl_express", "malformed.json", "unparseable"),
    ("dhl_universal", "not_found.json", "not_found"),
    ("dhl_universal", "unauthorized.json", "unauthorized"),
    ("dhl_universal", "rate_limited.json", "rate_limited"),
    ("dhl_universal", "malformed.json", "unparseable"),
    ("dhl_parcel_de", "not_found.xml", "not_found"),
    ("dhl_parcel_de", "unauthorized.xml", "unauthorized"),
    ("dhl_parcel_de", "unauthorized.html", "unauthorized"),
    ("dhl_parcel_de", "rate_limited.json", "rate_limited"),
    ("dhl_parcel_de", "malformed.xml", "unparseable"),
    ("dpd", "not_found.json", "not_found"),
    ("dpd", "unauthorized.xml", "unauthorized"),
    ("dpd", "rate_limited.html", "rate_limited"),
    ("dpd", "malformed.json", "unparseable"),
    ("laposte", "not_found.json", "not_found"),
    ("laposte", "unauthorized.json", "unauthorized"),
    ("laposte", "rate_limited.json", "rate_limited"),
    ("laposte", "bad_request.json", "carrier_error"),
    ("laposte", "malformed.json", "unparseable"),
]


@pytest.mark.parametrize(("carrier", "name", "kind"), ERRORS)
def test_error_responses_raise_the_right_kind(carrier: str, name: str, kind: str) -> None:
    """Not found, refused credentials, rate limits and garbage each get their kind."""
    with pytest.raises(CarrierError) as info:
        registry.parse(carrier, (FIXTURES / carrier / name).read_bytes())
    assert info.value.kind == kind


@pytest.mark.parametrize(
    ("carrier", "name", "status"),
    [
        ("dhl_express", "delivered.json", "delivered"),
        ("mydhl", "exception.json", "exception"),
        ("dhl_universal", "delivered.json", "delivered"),
        ("dhl_parcel_de", "delivered.xml", "delivered"),
        ("dhl_parcel_de", "delivered_unified.json", "delivered"),
        ("dpd", "delivered.json", "delivered"),
        ("laposte", "exception.json", "exception"),
    ],
)
def test_cli_prints_the_normalised_tracking(carrier: str, name: str, status: str) -> None:
    """`wismo carriers parse` exits 0 with the JSON report."""
    folder = "dhl_express" if carrier == "mydhl" else carrier
    path = FIXTURES / folder / name
    result = runner.invoke(app, ["carriers", "parse", "--carrier", carrier, str(path)])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert out["status"] == status
    assert out["carrier"] == folder
    assert all(e["milestone"] != "unknown" for e in out["events"])


@pytest.mark.parametrize(("carrier", "name", "kind"), ERRORS)
def test_cli_errors_are_one_line(carrier: str, name: str, kind: str) -> None:
    """An error response: exit 1 and one stderr line starting "error:" with its kind."""
    path = FIXTURES / carrier / name
    result = runner.invoke(app, ["carriers", "parse", "--carrier", carrier, str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {kind}")
    assert result.stdout == ""


# Code tables --------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", CARRIERS)
def test_code_tables_load_and_are_canonical(carrier: str) -> None:
    """Each table loads (no code with two meanings) and lists each code once, canonical."""
    assert len(table_for(carrier)) > 0
    path = resources.files("wismo.ingestion.carriers").joinpath("codes", f"{carrier}.csv")
    lines = [
        ln
        for ln in path.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    codes = [row[0] for row in csv.reader(lines) if row[0] != "code"]
    assert len(codes) == len(set(codes))
    assert all(code == canonical_code(code) for code in codes)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_carrier_is_registered(carrier: str) -> None:
    """The registry finds each module by its name."""
    assert carrier in registry.supported()
    assert carrier == registry.carrier(carrier).NAME


# Documented samples from ../shared/data ------------------------------------------------------

SAMPLE_CASES = [
    ("dhl_express", "mydhl__tracking_response.json", "delivered", 3),
    ("dhl_universal", "dhl_universal__tracking.json", "label_created", 1),
    ("dhl_parcel_de", "dhl_parcel_de__tracking_response.json", "label_created", 1),
    ("laposte", "laposte__tracking_response.json", "delivered", 9),
]


@pytest.mark.parametrize(("carrier", "name", "status", "count"), SAMPLE_CASES)
def test_documented_samples_map_every_event(
    carrier: str, name: str, status: str, count: int
) -> None:
    """Every event of the carrier's documented sample gets a milestone; the status fits."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"documented sample not available: {path} (shared data not mounted)")
    result = report(carrier, path.read_bytes())
    assert len(result["events"]) == count
    assert all(e["milestone"] != "unknown" for e in result["events"])
    assert result["status"] == status


def test_mydhl_sample_times_are_local_to_the_service_area() -> None:
    """The MyDHL sample's New York scans are Eastern time despite GMTOffset "+00:00"."""
    path = SAMPLES / "mydhl__tracking_response.json"
    if not path.is_file():
        pytest.skip(f"documented sample not available: {path} (shared data not mounted)")
    result = report("dhl_express", path.read_bytes())
    assert at(result, "OK")["occurred_at"] == "2024-11-07T18:00:00-05:00"
    assert at(result, "PU")["occurred_at"] == "2024-11-05T10:00:00+01:00"
