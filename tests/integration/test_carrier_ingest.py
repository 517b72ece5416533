"""Raw carrier responses through the inbox: scans applied, unknown codes counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from wismo.bootstrap import Wismo
from wismo.cli.main import app
from wismo.domain.milestones import Milestone
from wismo.services.ports import Inbound
from wismo.testing import encode, order_created, shipment_created

T0 = datetime(2024, 10, 6, 9, 0, tzinfo=UTC)


def gls_response(number: str, events: list[tuple[str, str, str]]) -> bytes:
    """A GLS Track and Trace answer, in the shape GLS documents."""
    return orjson.dumps(
        {
            "parcels": [
                {
                    "requested": number,
                    "unitno": number,
                    "status": "INTRANSIT",
                    "statusDateTime": "2024-10-08T07:00:00+0200",
                    "events": [
                        {
                            "code": code,
                            "city": "Berlin",
                            "postalCode": "10437",
                            "country": "DE",
                            "description": text,
                            "eventDateTime": when,
                        }
                        for code, text, when in events
                    ],
                    "errorCode": None,
                    "errorMessage": None,
                }
            ]
        }
    )


def setup_shipment(wismo: Wismo, store_id: int) -> None:
    wismo.ingestor.ingest(
        store_id,
        [
            encode(order_created("G1", placed_at=T0)),
            encode(
                shipment_created(
                    "G1",
                    "G1-A",
                    created_at=T0,
                    carrier="gls",
                    tracking_number="12345678901234567890",
                )
            ),
        ],
    )


def test_carrier_response_updates_the_shipment(wismo: Wismo, store_id: int) -> None:
    """A GLS response stored as format carrier:gls moves the package to its status."""
    setup_shipment(wismo, store_id)
    body = gls_response(
        "12345678901234567890",
        [
            ("INTIAL.NORMAL", "The parcel was handed over to GLS.", "2024-10-07T10:46:14+0200"),
            ("INDELIVERY", "Out for delivery", "2024-10-08T07:05:00+0200"),
        ],
    )
    [r] = wismo.ingestor.ingest(store_id, [Inbound(body, format="carrier:gls")])
    assert r.status == "processed"
    [again] = wismo.ingestor.ingest(store_id, [Inbound(body, format="carrier:gls")])
    assert again.status == "duplicate"  # the same response polled twice
    answer = wismo.status.by_number(store_id, "G1")
    assert answer is not None
    assert answer.packages[0].status is Milestone.OUT_FOR_DELIVERY
    assert answer.packages[0].last_scan is not None
    assert answer.packages[0].last_scan.at.isoformat() == "2024-10-08T07:05:00+02:00"


def test_unknown_codes_are_counted_and_listed(
    wismo: Wismo, store_id: int, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown code is decided by its message and counted for `wismo carriers unmapped`."""
    setup_shipment(wismo, store_id)
    for day, code in ((7, "XYZ.NEW"), (8, "XYZ.NEW"), (9, "QQQ")):
        when = (T0 + timedelta(days=day - 6)).strftime("%Y-%m-%dT%H:%M:%S+0200")
        body = gls_response("12345678901234567890", [(code, "Arrived at the parcel center", when)])
        [r] = wismo.ingestor.ingest(store_id, [Inbound(body, format="carrier:gls")])
        assert r.status == "processed"
    answer = wismo.status.by_number(store_id, "G1")
    assert answer is not None
    assert answer.packages[0].status is Milestone.IN_TRANSIT
    monkeypatch.setenv("WISMO_DATABASE_URL", database_url)
    out = CliRunner().invoke(app, ["carriers", "unmapped"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[1].startswith("gls\tXYZ.NEW\t2\t")
    assert lines[2].startswith("gls\tQQQ\t1\t")


def test_carrier_error_response_is_dead_with_the_reason(wismo: Wismo, store_id: int) -> None:
    """A not-found answer is kept as dead with the carrier's message, not applied."""
    body = orjson.dumps({"status": 404, "errors": [{"description": "Parcel not found"}]})
    [r] = wismo.ingestor.ingest(store_id, [Inbound(body, format="carrier:gls")])
    assert r.status == "rejected"
    assert "not_found" in str(r.errors[0]["msg"])


def test_parse_command_needs_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wismo carriers parse` works with an unusable database setting."""
    monkeypatch.setenv("WISMO_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    path = tmp_path / "r.json"
    path.write_bytes(gls_response("1", [("DELIVD", "Delivered", "2024-10-08T12:00:00+0200")]))
    out = CliRunner().invoke(app, ["carriers", "parse", "--carrier", "gls", str(path)])
    assert out.exit_code == 0, out.output
    assert orjson.loads(out.output)["status"] == "delivered"
