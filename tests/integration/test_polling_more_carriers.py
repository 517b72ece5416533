"""Polling Canada Post, Royal Mail, Australia Post, La Poste, GLS and DPD against a local stub
of their tracking APIs (127.0.0.1 only): each client calls its documented endpoint with its
documented authentication (DPD's parcel life cycle takes none), and the answer (in the format
the carrier's parser reads) moves the shipment.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from sqlalchemy import select

from wismo.bootstrap import Wismo
from wismo.ingestion.carriers.clients import HttpTrackingFetcher
from wismo.services.polling import Poller
from wismo.storage.integrations import upsert_integration
from wismo.storage.polling import SqlPolling
from wismo.storage.tables import shipments
from wismo.testing import FakeClock, encode, order_created, shipment_created

FIXTURES = Path(__file__).parent.parent / "contract" / "fixtures" / "carriers"
USER, SECRET, ACCOUNT = "wismo-user", "s3cret", "0001234567"


@dataclass(frozen=True)
class Carrier:
    name: str
    number: str
    path: str  # the tracking request's path
    query: dict[str, list[str]]
    credentials: dict[str, str]
    expected_headers: dict[str, str]  # lower-case names, as the stub sees them
    refusal: bytes  # the carrier's 401 body
    body: Callable[[str, datetime], bytes]
    token_path: str | None = None  # OAuth: expected_headers go with the token request


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def canadapost_body(number: str, at: datetime) -> bytes:
    local = at.astimezone(timezone(timedelta(hours=-5)))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<tracking-detail xmlns="http://www.canadapost.ca/ws/track-v2">
  <pin>{number}</pin>
  <service-name>Expedited Parcels</service-name>
  <significant-events>
    <occurrence>
      <event-identifier>0100</event-identifier>
      <event-date>{local:%Y-%m-%d}</event-date>
      <event-time>{local:%H:%M:%S}</event-time>
      <event-time-zone>EST</event-time-zone>
      <event-description>Item processed</event-description>
      <event-site>MISSISSAUGA</event-site>
      <event-province>ON</event-province>
    </occurrence>
  </significant-events>
</tracking-detail>""".encode()


def royalmail_body(number: str, at: datetime) -> bytes:
    event = {
        "eventCode": "EVDAC",
        "eventName": "Item Received",
        "eventDateTime": at.astimezone(UTC).isoformat(),
        "locationName": "Leeds MC",
    }
    return orjson.dumps({"mailPieces": {"mailPieceId": number, "events": [event]}})


def australiapost_body(number: str, at: datetime) -> bytes:
    event = {
        "location": "CHULLORA NSW",
        "description": "Item processed at facility",
        "date": at.astimezone(timezone(timedelta(hours=10))).isoformat(),
    }
    item = {"article_id": number, "product_type": "Parcel Post", "events": [event]}
    result = {"tracking_id": number, "status": "In transit", "trackable_items": [item]}
    return orjson.dumps({"tracking_results": [result]})


def laposte_body(number: str, at: datetime) -> bytes:
    event = {
        "code": "ET1",
        "label": "Votre colis est en cours d'acheminement.",
        "date": at.astimezone(timezone(timedelta(hours=1))).isoformat(),
    }
    shipment = {"idShip": number, "product": "colissimo", "isFinal": False, "event": [event]}
    return orjson.dumps({"lang": "fr_FR", "scope": "open", "returnCode": 200, "shipment": shipment})


def gls_body(number: str, at: datetime) -> bytes:
    event = {
        "code": "INTRANSIT",
        "description": "The parcel has reached the parcel center.",
        "city": "Neuenstein",
        "postalCode": "36286",
        "country": "DE",
        "eventDateTime": at.astimezone(timezone(timedelta(hours=1))).strftime(
            "%Y-%m-%dT%H:%M:%S%z"
        ),
    }
    parcel = {"requested": number, "unitno": number, "status": "INTRANSIT", "events": [event]}
    return orjson.dumps({"parcels": [parcel]})


def dpd_body(number: str, at: datetime) -> bytes:
    status = {
        "status": "ON_THE_ROAD",
        "label": "In transit.",
        "description": {"content": ["The parcel is on the road to the parcel delivery centre."]},
        "statusHasBeenReached": True,
        "location": "Aschaffenburg (DE)",
        "date": at.astimezone(timezone(timedelta(hours=1))).strftime("%d.%m.%Y, %H:%M"),
    }
    data = {"shipmentInfo": {"parcelLabelNumber": number}, "statusInfo": [status]}
    return orjson.dumps({"parcellifecycleResponse": {"parcelLifeCycleData": data}})


CARRIERS = [
    Carrier(
        "canadapost",
        "7300145210456123",
        "/vis/track/pin/7300145210456123/detail",
        {},
        {"username": USER, "password": SECRET},
        {
            "authorization": _basic(USER, SECRET),
            "accept": "application/vnd.cpc.track-v2+xml",
            "accept-language": "en-CA",
        },
        (FIXTURES / "canadapost/unauthorized.xml").read_bytes(),
        canadapost_body,
    ),
    Carrier(
        "royalmail",
        "TT123456785GB",
        "/mailpieces/v2/TT123456785GB/events",
        {},
        {"client_id": USER, "client_secret": SECRET},
        {"x-ibm-client-id": USER, "x-ibm-client-secret": SECRET, "x-accept-rmg-terms": "yes"},
        (FIXTURES / "royalmail/unauthorized.json").read_bytes(),
        royalmail_body,
    ),
    Carrier(
        "australiapost",
        "33LKP5048215",
        "/shipping/v1/track",
        {"tracking_ids": ["33LKP5048215"]},
        {"api_key": USER, "password": SECRET, "account_number": ACCOUNT},
        {"authorization": _basic(USER, SECRET), "account-number": ACCOUNT},
        (FIXTURES / "australiapost/unauthorized.json").read_bytes(),
        australiapost_body,
    ),
    Carrier(
        "laposte",
        "6A24000000017",
        "/suivi/v2/idships/6A24000000017",
        {"lang": ["fr_FR"]},
        {"api_key": SECRET},
        {"x-okapi-key": SECRET},
        (FIXTURES / "laposte/unauthorized.json").read_bytes(),
        laposte_body,
    ),
    Carrier(
        "gls",
        "12345678901234567890",
        "/track-and-trace-v1/tracking/simple/trackids/12345678901234567890",
        {},
        {"client_id": USER, "client_secret": SECRET},
        {"authorization": _basic(USER, SECRET)},
        b'{"error": "invalid_client", "error_description": "Bad client credentials"}',
        gls_body,
        token_path="/oauth2/v1/token",
    ),
    Carrier(
        "dpd",
        "01905002123456",
        "/rest/plc/en_US/01905002123456",
        {},
        {},
        {"accept": "application/json"},  # no credentials: nothing else to check
        b"",
        dpd_body,
    ),
]
IDS = [c.name for c in CARRIERS]


@dataclass
class Stub:
    """Answers the tracking request of `carrier` with `body` when the documented credentials
    come with it (for OAuth carriers: with a bearer token issued for them), else 401 with the
    carrier's refusal; records every request."""

    carrier: Carrier
    body: bytes = b""
    hits: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    refuse: bool = False  # 401 whatever comes (for a carrier without credentials)
    url: str = ""

    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        self.hits.append((path, query, headers))
        c = self.carrier
        credentials_ok = not self.refuse and all(
            headers.get(k) == v for k, v in c.expected_headers.items()
        )
        if c.token_path is not None and path == c.token_path:
            if not credentials_ok:
                return 401, c.refusal
            token = uuid.uuid4().hex
            self.tokens.add(token)
            return 200, orjson.dumps({"access_token": token, "expires_in": 3600})
        if path != c.path:
            return 404, b"no such endpoint"
        if c.token_path is not None:
            bearer = headers.get("authorization", "").removeprefix("Bearer ")
            credentials_ok = bearer in self.tokens
        if not credentials_ok:
            return 401, c.refusal
        return 200, self.body


@pytest.fixture
def serve() -> Iterator[Callable[[Carrier], Stub]]:
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(carrier: Carrier) -> Stub:
        stub = Stub(carrier)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, body = stub.answer(parts.path, parse_qs(parts.query), headers)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        stub.url = f"http://127.0.0.1:{server.server_address[1]}"
        return stub

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _setup(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: Stub, credentials: dict[str, str]
) -> Poller:
    c = stub.carrier
    with wismo.engine.begin() as conn:
        upsert_integration(
            conn,
            store_id,
            f"carrier:{c.name}",
            f"acct-{c.name}",
            credentials=credentials,
            settings={"base_url": stub.url, "requests_per_second": 100},
        )
    created = clock.now - timedelta(days=1)
    results = wismo.ingestor.ingest(
        store_id,
        [
            encode(order_created("O-1", placed_at=created - timedelta(hours=2))),
            encode(
                shipment_created(
                    "O-1", "S1", created_at=created, carrier=c.name, tracking_number=c.number
                )
            ),
        ],
    )
    assert [r.status for r in results] == ["processed", "processed"]
    return Poller(
        SqlPolling(wismo.engine),
        HttpTrackingFetcher(timeout=5.0),
        wismo.ingestor,
        wismo.uow_factory,
        clock,
        rand=lambda: 0.0,
        sleep=time.sleep,
    )


def _shipment(wismo: Wismo) -> Any:
    with wismo.engine.connect() as conn:
        return conn.execute(select(shipments).where(shipments.c.shipment_ref == "S1")).one()


@pytest.mark.parametrize("carrier", CARRIERS, ids=IDS)
def test_poll_advances_the_shipment(
    wismo: Wismo,
    store_id: int,
    clock: FakeClock,
    serve: Callable[[Carrier], Stub],
    carrier: Carrier,
) -> None:
    """One poll fetches the carrier's answer and moves the shipment to in transit."""
    stub = serve(carrier)
    stub.body = carrier.body(carrier.number, clock.now - timedelta(hours=3))
    poller = _setup(wismo, store_id, clock, stub, carrier.credentials)

    report = poller.run_once()

    assert (report.fetched, report.updated, report.failed) == (1, 1, {})
    s = _shipment(wismo)
    assert s.milestone == "in_transit"
    assert (s.poll_failures, s.last_poll_error) == (0, None)


@pytest.mark.parametrize("carrier", CARRIERS, ids=IDS)
def test_documented_endpoint_and_credentials_are_sent(
    wismo: Wismo,
    store_id: int,
    clock: FakeClock,
    serve: Callable[[Carrier], Stub],
    carrier: Carrier,
) -> None:
    """The request goes to the documented path with the documented auth headers."""
    stub = serve(carrier)
    stub.body = carrier.body(carrier.number, clock.now - timedelta(hours=3))
    _setup(wismo, store_id, clock, stub, carrier.credentials).run_once()

    [(_, query, headers)] = [h for h in stub.hits if h[0] == carrier.path]
    for key, values in carrier.query.items():
        assert query.get(key) == values
    if carrier.token_path is not None:  # the credentials get a token, the token the tracking
        [(_, _, token_headers)] = [h for h in stub.hits if h[0] == carrier.token_path]
        assert headers["authorization"].removeprefix("Bearer ") in stub.tokens
        headers = token_headers
    else:
        assert len(stub.hits) == 1
    if not carrier.credentials:
        assert "authorization" not in headers
    for key, value in carrier.expected_headers.items():
        assert headers.get(key) == value, key


@pytest.mark.parametrize("carrier", CARRIERS, ids=IDS)
def test_401_is_unauthorized(
    wismo: Wismo,
    store_id: int,
    clock: FakeClock,
    serve: Callable[[Carrier], Stub],
    carrier: Carrier,
) -> None:
    """Wrong credentials: the carrier's 401 is recorded as unauthorized and nothing moves."""
    stub = serve(carrier)
    stub.refuse = not carrier.credentials
    wrong = {k: ("wrong" if v == SECRET else v) for k, v in carrier.credentials.items()}
    poller = _setup(wismo, store_id, clock, stub, wrong)

    report = poller.run_once()

    assert report.failed == {"unauthorized": 1}
    s = _shipment(wismo)
    assert s.poll_failures == 1
    assert s.last_poll_error.startswith("unauthorized")
    assert s.milestone != "in_transit"
