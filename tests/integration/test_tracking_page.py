"""The customer tracking page over HTTP, on both databases: lookup, parcel view, signed
links, rate limits, escaping, languages and branding."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from wismo.bootstrap import Wismo
from wismo.services.branding import validate
from wismo.storage import page as page_db
from wismo.testing import FakeClock, encode, envelope, order_created, shipment_created, tracking
from wismo.web.app import create_app

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TRACKING = "1Z999AA10123456784"


@pytest.fixture
def client(wismo: Wismo) -> Iterator[TestClient]:
    with TestClient(create_app(wismo)) as c:
        yield c


@pytest.fixture
def order(wismo: Wismo, store_id: int, clock: FakeClock) -> int:
    events = [
        envelope(
            "customer.upserted",
            {"external_id": "c-1", "name": "Ada Lovelace", "emails": ["ada@example.com"]},
        ),
        order_created(
            "1001",
            placed_at=T0,
            lines=[("L1", "<script>alert(1)</script> mug", 1), ("L2", "Tea towel", 2)],
            promised=("2026-11-27", "2026-11-29"),
            customer_external_id="c-1",
        ),
        shipment_created(
            "1001", "S1", created_at=T0 + timedelta(hours=3), tracking_number=TRACKING
        ),
        tracking("in_transit", T0 + timedelta(days=1), shipment_ref="S1", city="Newark"),
        tracking(
            "delivery_attempt_failed",
            T0 + timedelta(days=2),
            shipment_ref="S1",
            reason="recipient_unavailable",
            city="Brooklyn",
        ),
    ]
    results = wismo.ingestor.ingest(store_id, [encode(e) for e in events])
    assert all(r.status == "processed" for r in results), results
    with wismo.engine.connect() as conn:
        found = page_db.parcel_order(conn, store_id, TRACKING)
    assert found is not None
    return found[0]


def lookup(client: TestClient, **form: str) -> tuple[int, str]:
    resp = client.post("/track/acme", data=form)
    return resp.status_code, resp.text


def test_lookup_shows_the_whole_order(client: TestClient, order: int) -> None:
    """Order number plus email opens the order: package, items, history, next step."""
    code, html = lookup(client, order_number="1001", email="ADA@example.com")
    assert code == 200, html
    assert "Order 1001" in html
    assert "Tea towel" in html
    assert "Delivery attempted, not delivered" in html
    assert "Nobody was available" in html
    assert "Brooklyn" in html
    assert "Newark" in html
    assert 'name="email"' in html  # the notification choice
    assert 'lang="en"' in html


def test_unknown_order_and_wrong_contact_look_the_same(client: TestClient, order: int) -> None:
    """A wrong email and an unknown order give the same status and the same page."""
    wrong = lookup(client, order_number="1001", email="eve@example.com")
    unknown = lookup(client, order_number="7777", email="ada@example.com")
    assert wrong[0] == unknown[0] == 404
    assert wrong[1].replace("1001", "#N#") == unknown[1].replace("7777", "#N#")
    assert "eve@example.com" not in wrong[1]


def test_lookup_needs_a_contact_and_survives_junk(client: TestClient, order: int) -> None:
    """No contact is a 422 page; junk bodies and unknown stores are 4xx pages, never 500."""
    assert lookup(client, order_number="1001")[0] == 422
    resp = client.post("/track/acme", content=b"\xff\xfe" * 10_000)
    assert resp.status_code == 422
    assert client.get("/track/nope").status_code == 404
    assert client.post("/track/nope", data={"order_number": "1"}).status_code == 404


def test_parcel_view_has_no_personal_data(client: TestClient, order: int) -> None:
    """A tracking number alone shows the parcel, not the order, items or the customer."""
    resp = client.get(f"/track/acme/parcel/{TRACKING}")
    assert resp.status_code == 200
    html = resp.text
    assert "Delivery attempted, not delivered" in html
    for personal in ("Ada", "ada@example.com", "10001", "1001", "Tea towel", "mug"):
        assert personal not in html
    assert client.get("/track/acme/parcel/NOPE").status_code == 404


def test_signed_link_opens_the_order(
    client: TestClient, wismo: Wismo, store_id: int, order: int, clock: FakeClock
) -> None:
    """A valid link opens the order; an altered one is 404, an expired one 410."""
    path = wismo.links.sign_order_link(store_id, order, clock() + timedelta(days=7))
    assert path.startswith("/t/")
    assert len(path) < 60
    resp = client.get(path)
    assert resp.status_code == 200
    assert "Order 1001" in resp.text
    token = path[3:]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(f"/t/{tampered}").status_code == 404
    assert client.get("/t/short").status_code == 404
    assert client.get("/t/" + "é" * 44).status_code == 404
    clock.advance(days=8)
    resp = client.get(path)
    assert resp.status_code == 410
    assert "expired" in resp.text


def test_the_chat_widget_gets_the_pages_own_link(
    client: TestClient, wismo: Wismo, store_id: int, order: int, clock: FakeClock
) -> None:
    """The order page hands the widget its link token; the lookup form has no chat at all."""
    path = wismo.links.sign_order_link(store_id, order, clock() + timedelta(days=7))
    html = client.get(path).text
    assert f'data-link="{path.removeprefix("/t/")}"' in html
    assert "Ask our assistant about this order." in html
    code, looked_up = lookup(client, order_number="1001", email="ada@example.com")
    assert code == 200
    token = looked_up.split('data-link="', 1)[1].split('"', 1)[0]
    assert wismo.links.verify(token, clock()).order_id == order
    assert "data-link" not in client.get("/track/acme").text


def test_link_from_another_store_key_fails(
    client: TestClient, wismo: Wismo, store_id: int, order: int, clock: FakeClock
) -> None:
    """A token naming another store cannot verify with that store's key."""
    token = wismo.links.sign(store_id, order, clock() + timedelta(days=1))
    raw = bytearray(__import__("base64").urlsafe_b64decode(token + "="))
    raw[4] ^= 1  # store id's low byte
    forged = __import__("base64").urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert client.get(f"/t/{forged}").status_code == 404


def test_preferences_are_stored_on_the_customer(
    client: TestClient, wismo: Wismo, store_id: int, order: int, clock: FakeClock
) -> None:
    """The channel form stores consent on the customer and says so."""
    path = wismo.links.sign_order_link(store_id, order, clock() + timedelta(days=1))
    resp = client.post(f"{path}/preferences", data={"sms": "1", "lang": "fr"})
    assert resp.status_code == 200
    assert "Votre choix est enregistré" in resp.text
    with wismo.engine.connect() as conn:
        assert page_db.consent(conn, store_id, order) == {"email": False, "sms": True}


def test_lookups_are_rate_limited(client: TestClient, order: int) -> None:
    """Guessing contacts for one order number runs into 429 with Retry-After."""
    codes = [lookup(client, order_number="1001", email=f"x{i}@example.com")[0] for i in range(12)]
    assert codes[0] == 404
    assert codes[-1] == 429
    resp = client.post("/track/acme", data={"order_number": "1001", "email": "a@b.c"})
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1


def test_order_data_is_escaped(client: TestClient, order: int) -> None:
    """A product title with a script tag is shown as text, never run."""
    _, html = lookup(client, order_number="1001", email="ada@example.com")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; mug" in html


def test_language_switch(client: TestClient, order: int) -> None:
    """?lang=, the form's language and Accept-Language pick French or Spanish."""
    assert "Suivre votre commande" in client.get("/track/acme?lang=fr").text
    es = client.get("/track/acme", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert 'lang="es"' in es.text
    assert "Sigue tu pedido" in es.text
    code, html = lookup(client, order_number="1001", email="ada@example.com", lang="fr")
    assert code == 200
    assert "Tentative de livraison sans succès" in html
    assert 'lang="fr"' in html


def test_branding_is_applied(client: TestClient, wismo: Wismo, store_id: int) -> None:
    """Colours, logo and support links show; a pale colour gets dark text; custom domain."""
    changes = validate(
        {
            "primary": "#ffe600",
            "accent": "#fff000",
            "logo_url": "data:image/png;base64,iVBORw0KGgo=",
            "support_url": "https://help.acme.test/",
            "support_email": "help@acme.test",
            "custom_domain": "Track.Acme.test",
        }
    )
    with wismo.engine.begin() as conn:
        page_db.set_branding(conn, store_id, changes)
    html = client.get("/track/acme").text
    assert "--primary:#ffe600" in html
    assert "--on-primary:#111111" in html  # white on yellow fails AA
    assert "--link:#ffe600" not in html
    assert "--link:#fff000" not in html
    assert "https://help.acme.test/" in html
    assert "help@acme.test" in html
    resp = client.get("/", headers={"Host": "track.acme.test"})
    assert resp.status_code == 200
    assert 'action="/track"' in resp.text
    assert client.get("/", headers={"Host": "elsewhere.test"}).status_code == 404


def test_page_is_small_and_self_contained(client: TestClient, order: int) -> None:
    """The order page stays under 100 KB and names no other host but the support link."""
    _, html = lookup(client, order_number="1001", email="ada@example.com")
    assert len(html.encode()) < 100_000
    assert "http://" not in html
    assert "https://" not in html
