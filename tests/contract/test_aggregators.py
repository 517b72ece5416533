"""Aggregator webhook bodies -> commands: EasyPost, AfterShip and Shippo, as documented.

The fixtures under `fixtures/aggregators/` are Wismo's own, written in each aggregator's
documented webhook format. Where `../shared/data/aggregators` is present, the recorded real
payloads there must parse too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from wismo.domain.commands import RecordTrackingEvent
from wismo.domain.milestones import Milestone
from wismo.ingestion.aggregators import aftership, easypost, shippo, signatures
from wismo.ingestion.aggregators.common import carrier_code, eta, table
from wismo.services.ports import Inbound, Parsed, Parser, Rejected

FIXTURES = Path(__file__).parent / "fixtures" / "aggregators"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "aggregators"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PARSERS: dict[str, Callable[[Callable[[], datetime]], Parser]] = {
    "easypost": easypost.EasyPostParser,
    "aftership": aftership.AfterShipParser,
    "shippo": shippo.ShippoParser,
}


def body(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def parse(provider: str, raw: bytes, event_id: str | None = None) -> Parsed | Rejected:
    return PARSERS[provider](lambda: NOW)(7, Inbound(raw, provider, provider, event_id))


def parsed(provider: str, name: str) -> Parsed:
    result = parse(provider, body(provider, name))
    assert isinstance(result, Parsed), result
    return result


def events(result: Parsed) -> list[RecordTrackingEvent]:
    out = [c for c in result.commands if isinstance(c, RecordTrackingEvent)]
    assert len(out) == len(result.commands)
    return out


def mapping(result: Parsed) -> list[tuple[str, str, str | None]]:
    return [
        (c.event.milestone.value, c.event.reason.value, c.event.raw_code) for c in events(result)
    ]


# --- EasyPost -------------------------------------------------------------------------------


def test_easypost_tracker_maps_status_and_detail() -> None:
    """Every tracking detail becomes a command; status/status_detail map via the table."""
    result = parsed("easypost", "tracker_updated_delivered.json")
    assert result.source == "easypost"
    assert result.event_id == "evt_5a1c0e7ab1d94f3c8e2f000000000001"
    assert mapping(result) == [
        ("label_created", "none", "pre_transit/label_created"),
        ("in_transit", "none", "in_transit/arrived_at_facility"),
        ("exception", "weather", "in_transit/weather_delay"),
        ("out_for_delivery", "none", "out_for_delivery/out_for_delivery"),
        ("delivered", "none", "delivered/arrived_at_destination"),
    ]
    assert {c.event.mapped_by for c in events(result)} == {"code"}


def test_easypost_commands_carry_carrier_and_number() -> None:
    """Each command names the shipment by carrier AND tracking number, never the number alone."""
    for c in events(parsed("easypost", "tracker_updated_delivered.json")):
        assert (c.store_id, c.carrier, c.tracking_number) == (7, "ups", "1ZW81F120344556672")
        assert c.shipment_ref is None
        assert c.event.source == "easypost"
        assert c.event.received_at == NOW


def test_easypost_local_offsets_are_kept() -> None:
    """A detail's local offset is kept as given: the instant is right and the zone shown."""
    first = events(parsed("easypost", "tracker_updated_delivered.json"))[0].event
    assert first.occurred_tz == "-05:00"
    assert first.occurred_at.utcoffset() == timedelta(hours=-5)
    assert first.occurred_at == datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    assert first.location is not None
    assert first.location.describe() == "Edison, NJ, US"


def test_easypost_local_estimate_rides_on_latest_event() -> None:
    """The carrier's local estimate (date and time, destination zone) is on the latest scan only."""
    evs = [c.event for c in events(parsed("easypost", "tracker_updated_delivered.json"))]
    assert [e.estimated_delivery_at for e in evs[:-1]] == [None] * 4
    assert evs[-1].estimated_delivery_at == datetime(
        2026, 11, 24, 18, 0, tzinfo=ZoneInfo("America/New_York")
    )


def test_easypost_unknown_detail_and_classifier_fallback() -> None:
    """An unknown detail falls back to its status; an "unknown" status is read from the message."""
    result = parsed("easypost", "tracker_updated_exceptions.json")
    assert mapping(result) == [
        ("picked_up", "none", "in_transit/received_at_origin_facility"),
        ("in_transit", "none", "in_transit/some_detail_easypost_adds_later"),
        ("delivery_attempt_failed", "none", "failure/delivery_exception"),
        ("delivery_attempt_failed", "recipient_unavailable", "unknown/unknown"),
        ("returning_to_sender", "none", "return_to_sender/return"),
    ]
    by = [c.event.mapped_by for c in events(result)]
    assert by == ["code", "code", "code", "message", "code"]
    assert {c.carrier for c in events(result)} == {"fedex"}


def test_easypost_other_events_do_nothing() -> None:
    """A non-tracker Event is understood and acknowledged, with no command."""
    result = parsed("easypost", "batch_created.json")
    assert result.commands == ()
    assert result.event_id == "evt_5a1c0e7ab1d94f3c8e2f000000000003"


def test_easypost_bad_datetime_is_rejected_with_its_field() -> None:
    """A detail without a usable datetime rejects the payload and names the field."""
    data = json.loads(body("easypost", "tracker_updated_delivered.json"))
    data["result"]["tracking_details"][2]["datetime"] = "yesterday"
    result = parse("easypost", orjson.dumps(data))
    assert isinstance(result, Rejected)
    assert result.errors[0]["loc"] == ["result", "tracking_details", 2, "datetime"]
    assert result.event_id == "evt_5a1c0e7ab1d94f3c8e2f000000000001"


# --- AfterShip ------------------------------------------------------------------------------


def test_aftership_maps_subtags_then_tags() -> None:
    """Checkpoints map by subtag first, then tag; the slug becomes a Wismo carrier code."""
    result = parsed("aftership", "tracking_update_delivered.json")
    assert result.event_id == "8c2b1f7e-4a0d-4e55-9d6b-000000000001"
    assert mapping(result) == [
        ("label_created", "none", "InfoReceived_001"),
        ("picked_up", "none", "InTransit_002"),
        ("in_transit", "none", "InTransit_007"),
        ("in_transit", "none", "InTransit_004"),
        ("exception", "customs_hold", "Exception_004"),
        ("in_transit", "none", "InTransit_005"),
        ("out_for_delivery", "none", "OutForDelivery_001"),
        ("delivered", "none", "Delivered_003"),
    ]
    assert {(c.carrier, c.tracking_number) for c in events(result)} == {
        ("dhl_express", "4829130574")
    }


def test_aftership_checkpoint_times_keep_their_offsets() -> None:
    """Local times with offsets are kept (+08:00 in Hong Kong, +01:00 in Germany)."""
    evs = [c.event for c in events(parsed("aftership", "tracking_update_delivered.json"))]
    assert evs[1].occurred_tz == "+08:00"
    assert evs[1].occurred_at == datetime(2026, 11, 18, 9, 2, tzinfo=UTC)
    assert evs[-1].occurred_tz == "+01:00"
    assert evs[-1].occurred_at == datetime(2026, 11, 24, 13, 11, tzinfo=UTC)
    assert evs[1].location is not None
    assert evs[1].location.country == "HK"  # alpha-3 "HKG" read as ISO alpha-2


def test_aftership_time_without_offset_is_placed_by_country() -> None:
    """A checkpoint time without an offset is local to its country, never taken as UTC."""
    ofd = events(parsed("aftership", "tracking_update_delivered.json"))[6].event
    assert ofd.occurred_tz == "Europe/Berlin"
    assert ofd.occurred_at == datetime(2026, 11, 24, 6, 45, tzinfo=UTC)


def test_aftership_expected_date_is_noon_in_destination() -> None:
    """A date-only estimate is that date at noon in the destination's zone, on the latest scan."""
    evs = [c.event for c in events(parsed("aftership", "tracking_update_delivered.json"))]
    assert evs[-1].estimated_delivery_at == datetime(
        2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )
    assert all(e.estimated_delivery_at is None for e in evs[:-1])


def test_aftership_legacy_id_unknown_subtag_and_reasons() -> None:
    """No event_id: msg.id + ts; an unknown subtag maps by its tag; reasons come through."""
    result = parsed("aftership", "tracking_update_pickup.json")
    assert result.event_id == "wsm0fixture0tracking00002:1764001111"
    assert mapping(result) == [
        ("delivery_attempt_failed", "recipient_unavailable", "AttemptFail_002"),
        ("exception", "other", "Exception_099"),
        ("available_for_pickup", "none", "AvailableForPickup_001"),
    ]
    assert {c.carrier for c in events(result)} == {"royalmail"}


def test_aftership_body_without_tracking_does_nothing() -> None:
    """A webhook that carries no tracking (a test ping) is acknowledged with no command."""
    result = parse("aftership", b'{"event": "test", "event_id": "ping-1", "msg": {}}')
    assert isinstance(result, Parsed)
    assert (result.commands, result.event_id) == ((), "ping-1")


def test_aftership_unplaceable_local_time_is_rejected() -> None:
    """A time with no offset and no country anywhere cannot be placed: rejected, field named."""
    data = json.loads(body("aftership", "tracking_update_delivered.json"))
    msg = data["msg"]
    msg.pop("destination_country_iso3")
    msg.pop("origin_country_iso3")
    msg["checkpoints"][6].pop("country_iso3")
    result = parse("aftership", orjson.dumps(data))
    assert isinstance(result, Rejected)
    assert result.errors[0]["loc"] == ["msg", "checkpoints", 6, "checkpoint_time"]


# --- Shippo ---------------------------------------------------------------------------------


def test_shippo_maps_status_and_substatus() -> None:
    """History and current status map by STATUS/substatus; the repeated latest entry counts once."""
    result = parsed("shippo", "track_updated_delivered.json")
    assert mapping(result) == [
        ("label_created", "none", "PRE_TRANSIT/information_received"),
        ("picked_up", "none", "TRANSIT/package_accepted"),
        ("exception", "carrier_delay", "TRANSIT/delayed"),
        ("out_for_delivery", "none", "TRANSIT/out_for_delivery"),
        ("delivered", "none", "DELIVERED/delivered"),
    ]
    assert {(c.carrier, c.tracking_number) for c in events(result)} == {
        ("usps", "9400112345678901234566")
    }


def test_shippo_event_id_is_a_hash_of_the_body() -> None:
    """Shippo sends no event id: the same body has the same id, another body another."""
    raw = body("shippo", "track_updated_delivered.json")
    first = parse("shippo", raw)
    assert first.event_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse("shippo", raw).event_id == first.event_id
    assert parse("shippo", raw + b" ").event_id != first.event_id


def test_shippo_midnight_utc_eta_is_a_date() -> None:
    """An eta of midnight UTC means a date: noon that day in the destination's zone."""
    last = events(parsed("shippo", "track_updated_delivered.json"))[-1].event
    assert last.estimated_delivery_at == datetime(
        2026, 11, 24, 12, 0, tzinfo=ZoneInfo("America/New_York")
    )


def test_shippo_failure_returned_and_classifier() -> None:
    """FAILURE, RETURNED and an UNKNOWN read from its text; a local time is placed by country."""
    result = parsed("shippo", "track_updated_failure.json")
    assert mapping(result) == [
        ("exception", "address_problem", "FAILURE/address_issue"),
        ("delivery_attempt_failed", "access_problem", "UNKNOWN"),
        ("returning_to_sender", "none", "RETURNED/return_to_sender"),
    ]
    unknown = events(result)[1].event
    assert unknown.mapped_by == "message"
    assert unknown.occurred_tz == "Europe/Paris"
    assert unknown.occurred_at == datetime(2026, 11, 25, 8, 40, tzinfo=UTC)
    assert {c.carrier for c in events(result)} == {"dhl_express"}


def test_shippo_other_events_do_nothing() -> None:
    """A transaction event is acknowledged with no command."""
    result = parse("shippo", b'{"event": "transaction_created", "test": true, "data": {}}')
    assert isinstance(result, Parsed)
    assert result.commands == ()


def test_shippo_missing_number_is_rejected() -> None:
    """A track without a tracking number is rejected and the field named."""
    data = json.loads(body("shippo", "track_updated_delivered.json"))
    del data["data"]["tracking_number"]
    result = parse("shippo", orjson.dumps(data))
    assert isinstance(result, Rejected)
    assert result.errors[0]["loc"] == ["data", "tracking_number"]


# --- shared rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(PARSERS))
def test_not_json_is_rejected(provider: str) -> None:
    """A body that is not a JSON object is rejected, never raised."""
    for raw in (b"not json", b"[1, 2]"):
        result = parse(provider, raw)
        assert isinstance(result, Rejected)
        assert result.source == provider


@pytest.mark.parametrize("provider", sorted(PARSERS))
def test_transport_event_id_wins(provider: str) -> None:
    """An event id the transport already read is kept as the dedup key."""
    name = sorted((FIXTURES / provider).glob("*.json"))[-1].name
    assert parse(provider, body(provider, name), "from-headers").event_id == "from-headers"


@pytest.mark.parametrize("provider", sorted(PARSERS))
def test_tables_load_and_map_only_to_shipment_milestones(provider: str) -> None:
    """Each status table loads (no code mapped twice) and names shipment milestones only."""
    rows = table(provider).items()
    assert rows
    order_level = {Milestone.ORDER_PLACED, Milestone.CONFIRMED, Milestone.AWAITING_FULFILMENT}
    assert not {m.milestone for _, m in rows} & order_level


def test_carrier_names_map_to_wismo_codes() -> None:
    """Aggregator carrier names map to Wismo codes; unknown names pass through normalised."""
    assert carrier_code("easypost", "FedEx", "x") == "fedex"
    assert carrier_code("easypost", "DHLExpress", "x") == "dhl_express"
    assert carrier_code("aftership", "dhl", "x") == "dhl_express"
    assert carrier_code("aftership", "royal-mail", "x") == "royalmail"
    assert carrier_code("shippo", "canada_post", "x") == "canadapost"
    assert carrier_code("aftership", "some-new-courier", "x") == "some_new_courier"


def test_missing_carrier_is_detected_but_never_guessed() -> None:
    """Without a carrier name the number decides, only when it fits exactly one carrier."""
    assert carrier_code("shippo", None, "9400112345678901234566") == "usps"
    assert carrier_code("shippo", "", "312345600182") is None  # FedEx or Purolator
    assert carrier_code("shippo", None, "no such format") is None
    data = json.loads(body("shippo", "track_updated_delivered.json"))
    data["data"]["carrier"] = None
    result = parse("shippo", orjson.dumps(data))
    assert isinstance(result, Parsed)
    assert {c.carrier for c in events(result)} == {"usps"}


def test_eta_dates() -> None:
    """Estimates: real instants kept; bare dates and midnight UTC become noon local."""
    ny = ZoneInfo("America/New_York")
    assert eta("2026-11-24T17:00:00-05:00", ny) == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    assert eta("2026-11-24T00:00:00Z", ny) == datetime(2026, 11, 24, 12, 0, tzinfo=ny)
    assert eta("2026-11-24", None) == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert eta("soon", ny) is None
    assert eta(None, ny) is None


# --- signatures -----------------------------------------------------------------------------


def test_easypost_signature_scheme() -> None:
    """hmac-sha256-hex= of the raw body, keyed by the NFKD-normalised secret."""
    raw = body("easypost", "tracker_updated_delivered.json")
    composed = "s\u00e9cret"  # é as one code point; EasyPost keys with its NFKD form
    decomposed = unicodedata.normalize("NFKD", composed)
    expected = "hmac-sha256-hex=" + hmac.new(decomposed.encode(), raw, hashlib.sha256).hexdigest()
    assert signatures.easypost_signature(raw, composed) == expected
    assert signatures.easypost_valid(raw, expected, composed)
    upper_hex = "hmac-sha256-hex=" + expected.split("=", 1)[1].upper()
    assert signatures.easypost_valid(raw, upper_hex, composed)
    assert not signatures.easypost_valid(raw, expected, "other")
    assert not signatures.easypost_valid(raw + b" ", expected, composed)
    assert not signatures.easypost_valid(raw, None, composed)
    assert not signatures.easypost_valid(raw, expected, None)


def test_aftership_signature_scheme() -> None:
    """base64 of HMAC-SHA256 of the raw body, keyed by the webhook secret."""
    raw = body("aftership", "tracking_update_delivered.json")
    expected = base64.b64encode(hmac.new(b"as-secret", raw, hashlib.sha256).digest()).decode()
    assert signatures.aftership_signature(raw, "as-secret") == expected
    assert signatures.aftership_valid(raw, expected, "as-secret")
    assert not signatures.aftership_valid(raw, expected, "other")
    assert not signatures.aftership_valid(raw, "", "as-secret")


def test_shippo_token_check() -> None:
    """The URL token must equal the stored secret; a missing one never passes."""
    assert signatures.shippo_valid("tok-123", "tok-123")
    assert not signatures.shippo_valid("tok-124", "tok-123")
    assert not signatures.shippo_valid(None, "tok-123")
    assert not signatures.shippo_valid("", "")


# --- the recorded real payloads -------------------------------------------------------------


def _shared(path: str) -> Path:
    folder = SHARED / path
    if not folder.is_dir():
        pytest.skip(f"reference payloads not present at {folder}")
    return folder


def test_real_easypost_webhook_bodies_parse() -> None:
    """EasyPost's official tracker webhook bodies parse into commands (when the folder exists)."""
    folder = _shared("easypost/examples_repo")
    names = [
        "official_fixtures_event-body.json",
        "official_guides_tracking-guide_json_tracking-webhook.json",
        "official_landing_pages_tracking_webhooks_tracking_webhook_response.json",
    ]
    for name in names:
        result = parse("easypost", (folder / name).read_bytes())
        assert isinstance(result, Parsed), (name, result)
        assert result.commands, name
        assert all(isinstance(c, RecordTrackingEvent) and c.carrier for c in result.commands)


def test_real_aftership_trackings_parse() -> None:
    """Recorded AfterShip trackings, wrapped as webhooks, parse (when the folder exists)."""
    folder = _shared("aftership/decoded")
    seen = 0
    for path in sorted(folder.glob("*.json")):
        data: Any = json.loads(path.read_bytes()).get("body") or {}
        tracking = (data.get("data") or {}).get("tracking") if isinstance(data, dict) else None
        if not isinstance(tracking, dict) or not tracking.get("checkpoints"):
            continue
        envelope = {"event": "tracking_update", "event_id": path.name, "msg": tracking, "ts": 1}
        result = parse("aftership", orjson.dumps(envelope))
        assert isinstance(result, Parsed), (path.name, result)
        assert len(result.commands) == len(tracking["checkpoints"])
        assert all(c.event.mapped_by == "code" for c in events(result))
        seen += 1
    assert seen
