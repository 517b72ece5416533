"""Aggregator webhooks over HTTP, on SQLite and PostgreSQL: signed bodies update packages;
forged, unsigned or unknown-account ones are refused and leave no trace."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from wismo.bootstrap import Wismo
from wismo.domain.milestones import Milestone
from wismo.ingestion.aggregators import signatures
from wismo.services.status import Package
from wismo.storage.integrations import upsert_integration
from wismo.storage.tables import inbox, shipments, tracking_events
from wismo.testing import encode, order_created, shipment_created, tracking
from wismo.web.app import create_app

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
UPS_NUMBER = "1ZW81F120344556672"
DHL_NUMBER = "4829130574"
USPS_NUMBER = "9400112345678901234566"
SECRETS = {"easypost": "s\u00e9cret-ep", "aftership": "as-secret", "shippo": "sp-token-42"}
ACCOUNTS = {"easypost": "acme-ep", "aftership": "acme-as", "shippo": "acme-sp"}
# provider -> (shipment ref, carrier the shop gave, tracking number)
SHIPMENTS = {
    "easypost": ("1001-A", "ups", UPS_NUMBER),
    "aftership": ("1001-B", "dhl_express", DHL_NUMBER),
    "shippo": ("1001-C", "usps", USPS_NUMBER),
}
_ids = itertools.count(1)


def iso(moment: datetime, offset_hours: int = -5) -> str:
    """The instant as a local time with its offset, as the aggregators send it."""
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


# --- bodies in each aggregator's documented shape -------------------------------------------


def easypost_body(number: str, scans: list[tuple[str, str, datetime]]) -> dict[str, Any]:
    return {
        "id": f"evt_wismo{next(_ids):06d}",
        "object": "Event",
        "description": "tracker.updated",
        "mode": "production",
        "result": {
            "object": "Tracker",
            "tracking_code": number,
            "carrier": "UPS",
            "status": scans[-1][0],
            "tracking_details": [
                {
                    "object": "TrackingDetail",
                    "message": f"{status} {detail}",
                    "status": status,
                    "status_detail": detail,
                    "datetime": iso(at),
                    "tracking_location": {"city": "Brooklyn", "state": "NY", "country": "US"},
                }
                for status, detail, at in scans
            ],
        },
    }


def aftership_body(number: str, scans: list[tuple[str, str, datetime]]) -> dict[str, Any]:
    return {
        "event": "tracking_update",
        "event_id": f"as-wismo-{next(_ids)}",
        "msg": {
            "id": "wsm-tracking",
            "tracking_number": number,
            "slug": "dhl",
            "destination_country_iso3": "USA",
            "checkpoints": [
                {
                    "tag": tag,
                    "subtag": subtag,
                    "message": subtag,
                    "checkpoint_time": iso(at, 1),
                    "city": "Berlin",
                    "country_iso3": "DEU",
                }
                for tag, subtag, at in scans
            ],
        },
        "ts": 1764000000,
    }


def shippo_body(number: str, scans: list[tuple[str, str, datetime]]) -> dict[str, Any]:
    history = [
        {
            "status": status,
            "status_details": sub,
            "status_date": at.isoformat().replace("+00:00", "Z"),
            "substatus": {"code": sub, "text": sub, "action_required": False},
            "location": {"city": "Brooklyn", "state": "NY", "zip": "11201", "country": "US"},
        }
        for status, sub, at in scans
    ]
    return {
        "event": "track_updated",
        "test": False,
        "data": {
            "carrier": "usps",
            "tracking_number": number,
            "address_to": {"city": "Brooklyn", "state": "NY", "country": "US"},
            "tracking_status": history[-1],
            "tracking_history": history,
        },
    }


def delivered_body(provider: str, number: str | None = None) -> bytes:
    """A webhook saying the provider's package went out for delivery and was delivered."""
    number = number or SHIPMENTS[provider][2]
    ofd, done = T0 + timedelta(days=3, hours=4), T0 + timedelta(days=3, hours=9)
    if provider == "easypost":
        data = easypost_body(
            number,
            [
                ("out_for_delivery", "out_for_delivery", ofd),
                ("delivered", "arrived_at_destination", done),
            ],
        )
    elif provider == "aftership":
        data = aftership_body(
            number,
            [("OutForDelivery", "OutForDelivery_001", ofd), ("Delivered", "Delivered_001", done)],
        )
    else:
        data = shippo_body(
            number, [("TRANSIT", "out_for_delivery", ofd), ("DELIVERED", "delivered", done)]
        )
    return orjson.dumps(data)


def signed_post(
    client: TestClient,
    provider: str,
    raw: bytes,
    *,
    account: str | None = None,
    secret: str | None = None,
    sign: bool = True,
) -> httpx.Response:
    """POST a webhook as the aggregator would, signed with `secret` (default: the right one)."""
    key = SECRETS[provider] if secret is None else secret
    url = f"/webhooks/{provider}/{account or ACCOUNTS[provider]}"
    headers = {"Content-Type": "application/json"}
    if provider == "easypost" and sign:
        headers[signatures.EASYPOST_HEADER] = signatures.easypost_signature(raw, key)
    elif provider == "aftership" and sign:
        headers[signatures.AFTERSHIP_HEADER] = signatures.aftership_signature(raw, key)
    elif provider == "shippo" and sign:
        url += f"?token={key}"
    resp: httpx.Response = client.post(url, content=raw, headers=headers)
    return resp


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def client(wismo: Wismo) -> Iterator[TestClient]:
    with TestClient(create_app(wismo)) as c:
        yield c


@pytest.fixture
def shop(wismo: Wismo, store_id: int) -> int:
    """The store's aggregator accounts, an order and one shipment per aggregator."""
    with wismo.engine.begin() as conn:
        for provider, account in ACCOUNTS.items():
            upsert_integration(conn, store_id, provider, account, secret=SECRETS[provider])
    ingest(
        wismo,
        store_id,
        order_created(
            "1001", placed_at=T0, lines=[("L1", "Mug", 1), ("L2", "Pot", 1), ("L3", "Tea", 1)]
        ),
        *(
            shipment_created(
                "1001",
                ref,
                created_at=T0 + timedelta(hours=20),
                carrier=carrier,
                tracking_number=number,
                lines=[(f"L{i}", 1)],
            )
            for i, (ref, carrier, number) in enumerate(SHIPMENTS.values(), 1)
        ),
    )
    return store_id


def ingest(w: Wismo, store_id: int, *events: dict[str, Any]) -> None:
    results = w.ingestor.ingest(store_id, [encode(e) for e in events])
    assert [r.status for r in results] == ["processed"] * len(events), results


def package(w: Wismo, store_id: int, ref: str, order: str = "1001") -> Package:
    answer = w.status.by_number(store_id, order)
    assert answer is not None
    return next(p for p in answer.packages if p.shipment_ref == ref)


def inbox_count(w: Wismo) -> int:
    """Inbox rows that came from an aggregator (the shop's own events are canonical)."""
    query = select(func.count()).select_from(inbox).where(inbox.c.format != "canonical")
    with w.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


PROVIDERS = sorted(SHIPMENTS)


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_signed_webhook_updates_the_package(
    client: TestClient, wismo: Wismo, shop: int, provider: str
) -> None:
    """A signed webhook is stored, processed and moves the package to delivered."""
    ref = SHIPMENTS[provider][0]
    assert package(wismo, shop, ref).status is Milestone.LABEL_CREATED
    resp = signed_post(client, provider, delivered_body(provider))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "processed"
    answer = wismo.status.by_number(shop, "1001")
    assert answer is not None
    by_ref = {p.shipment_ref: p for p in answer.packages}
    assert by_ref.pop(ref).status is Milestone.DELIVERED
    assert [p.status for p in by_ref.values()] == [Milestone.LABEL_CREATED] * 2
    with wismo.engine.connect() as conn:
        sources = set(conn.execute(select(tracking_events.c.source)).scalars())
    assert sources == {"order", provider}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refused_webhooks_leave_nothing(
    client: TestClient, wismo: Wismo, shop: int, provider: str
) -> None:
    """Forged, unsigned, unknown-account and other-provider webhooks: 401, never stored."""
    raw = delivered_body(provider)
    other = next(p for p in PROVIDERS if p != provider)
    attempts = [
        signed_post(client, provider, raw, secret="not-the-secret"),
        signed_post(client, provider, raw, sign=False),
        signed_post(client, provider, raw, account="nobody"),
        signed_post(client, provider, raw, account=ACCOUNTS[other]),
    ]
    assert [r.status_code for r in attempts] == [401] * 4
    assert inbox_count(wismo) == 0
    assert package(wismo, shop, SHIPMENTS[provider][0]).status is Milestone.LABEL_CREATED


@pytest.mark.parametrize("provider", ["easypost", "aftership"])
def test_signature_covers_the_body(
    client: TestClient, wismo: Wismo, shop: int, provider: str
) -> None:
    """A genuine signature of one body does not let another body through."""
    raw = delivered_body(provider)
    genuine = signed_post(client, provider, raw).request.headers
    header = signatures.EASYPOST_HEADER if provider == "easypost" else signatures.AFTERSHIP_HEADER
    tampered = raw.replace(b"Delivered_001", b"Delivered_002").replace(b"arrived", b"Arrived")
    assert tampered != raw
    resp = client.post(
        f"/webhooks/{provider}/{ACCOUNTS[provider]}",
        content=tampered,
        headers={header: genuine[header]},
    )
    assert resp.status_code == 401
    assert inbox_count(wismo) == 1  # the genuine one only


def test_no_provider_accepts_a_forgery(client: TestClient, wismo: Wismo, shop: int) -> None:
    """Across every provider and every way of getting it wrong, zero bodies are accepted."""
    accepted = 0
    for provider in PROVIDERS:
        raw = delivered_body(provider)
        for resp in (
            signed_post(client, provider, raw, secret="wrong"),
            signed_post(client, provider, raw, sign=False),
            signed_post(client, provider, raw, account="unknown-account"),
        ):
            accepted += resp.status_code != 401
    assert accepted == 0
    assert inbox_count(wismo) == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_replayed_webhook_is_a_duplicate(
    client: TestClient, wismo: Wismo, shop: int, provider: str
) -> None:
    """The same webhook delivered twice is stored once; the second answer says duplicate."""
    raw = delivered_body(provider)
    first = signed_post(client, provider, raw)
    again = signed_post(client, provider, raw)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == "processed"
    assert again.json()["status"] == "duplicate"
    assert again.json()["id"] == first.json()["id"]
    assert inbox_count(wismo) == 1
    with wismo.engine.connect() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(tracking_events)
            .where(tracking_events.c.source == provider)
        ).scalar_one()
    assert stored == 2


def test_recycled_number_goes_to_the_current_shipment(
    client: TestClient, wismo: Wismo, shop: int
) -> None:
    """A tracking number used by another shipment long ago updates only the current one."""
    old = T0 - timedelta(days=200)
    ingest(
        wismo,
        shop,
        order_created("0900", placed_at=old),
        shipment_created(
            "0900", "0900-A", created_at=old, carrier="ups", tracking_number=UPS_NUMBER
        ),
        tracking("delivered", old + timedelta(days=3), shipment_ref="0900-A"),
    )
    raw = orjson.dumps(
        easypost_body(UPS_NUMBER, [("in_transit", "arrived_at_facility", T0 + timedelta(days=1))])
    )
    resp = signed_post(client, "easypost", raw)
    assert resp.json()["status"] == "processed"
    assert package(wismo, shop, "1001-A").status is Milestone.IN_TRANSIT
    assert package(wismo, shop, "0900-A", order="0900").status is Milestone.DELIVERED
    with wismo.engine.connect() as conn:
        old_id = conn.execute(
            select(shipments.c.id).where(shipments.c.shipment_ref == "0900-A")
        ).scalar_one()
        old_sources = set(
            conn.execute(
                select(tracking_events.c.source).where(tracking_events.c.shipment_id == old_id)
            ).scalars()
        )
    assert "easypost" not in old_sources


def test_webhook_before_its_shipment_waits_for_it(
    client: TestClient, wismo: Wismo, shop: int
) -> None:
    """A scan for a number no shipment has yet is parked, then applied when it arrives."""
    number = "1ZA99E105600001233"
    raw = orjson.dumps(
        easypost_body(number, [("in_transit", "arrived_at_facility", T0 + timedelta(days=1))])
    )
    resp = signed_post(client, "easypost", raw)
    assert resp.json()["status"] == "parked"
    assert resp.json()["waiting_for"].endswith(f":ups:{number}")
    ingest(
        wismo,
        shop,
        shipment_created(
            "1001", "1001-D", created_at=T0 + timedelta(hours=22), tracking_number=number
        ),
    )
    assert package(wismo, shop, "1001-D").status is Milestone.IN_TRANSIT


def test_signed_but_unreadable_body_is_kept(client: TestClient, wismo: Wismo, shop: int) -> None:
    """A genuine webhook Wismo cannot read is answered 200 and kept (dead) for replay."""
    resp = signed_post(client, "aftership", b'{"event": "tracking_update", "msg": [1]')
    assert resp.status_code == 200
    assert resp.json()["status"] == "rejected"
    with wismo.engine.connect() as conn:
        statuses = list(
            conn.execute(
                select(inbox.c.status, inbox.c.format).where(inbox.c.format != "canonical")
            )
        )
    assert [tuple(s) for s in statuses] == [("dead", "aftership")]
