"""Carrier polling end to end against a local stub of the carriers' APIs (127.0.0.1 only).

The stub speaks the documented endpoints: UPS (OAuth token, GET track details), FedEx (OAuth
token, POST trackingnumbers), USPS (OAuth token, GET tracking v3), DHL Unified (API key) and
DHL Express (Basic auth), answering with bodies in each carrier's format built here around
the test clock. Runs on SQLite and PostgreSQL (the `wismo` fixture).
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from wismo.bootstrap import Wismo
from wismo.cli.main import app as cli_app
from wismo.ingestion.carriers.clients import HttpTrackingFetcher
from wismo.services.access import Scope
from wismo.services.polling import Poller, PollReport
from wismo.services.ports import CarrierAccount, Fetched
from wismo.storage import stores
from wismo.storage.integrations import upsert_integration
from wismo.storage.polling import SqlPolling
from wismo.storage.tables import inbox, shipments
from wismo.testing import FakeClock, encode, order_created, shipment_created
from wismo.web.app import create_app

EST = timezone(timedelta(hours=-5))
CET = timezone(timedelta(hours=1))
CLIENT_ID, CLIENT_SECRET, API_KEY = "wismo-client", "s3cret", "dhl-key"
Answer = tuple[int, dict[str, str], bytes]


# --- The carriers' side -------------------------------------------------------------------


@dataclass
class Hit:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class CarrierStub:
    """Token endpoints issue bearer tokens for the right client credentials; tracking
    endpoints answer from `answers[tracking number]` (a list used in turn, the last one
    repeated; an entry may be a function building the answer)."""

    answers: dict[str, list[Answer | Callable[[], Answer]]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    delay: float = 0.0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, number: str, *answers: Answer | Callable[[], Answer]) -> None:
        self.answers[number] = list(answers)

    def tracking_hits(self, number: str | None = None) -> list[Hit]:
        return [
            h
            for h in self.hits
            if "token" not in h.path and (number is None or number in _numbers_in(h))
        ]

    def token_hits(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def next_answer(self, number: str) -> Answer:
        with self.lock:
            queue = self.answers.get(number)
            if not queue:
                return 404, {}, b'{"detail": "no stub answer"}'
            item = queue.pop(0) if len(queue) > 1 else queue[0]
        return item() if callable(item) else item


def _numbers_in(hit: Hit) -> str:
    return hit.path + " ".join(v for vs in hit.query.values() for v in vs) + hit.body.decode()


def _issue(stub: CarrierStub, lifetime: int | str) -> Answer:
    token = uuid.uuid4().hex
    stub.tokens.add(token)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
    return 200, {}, orjson.dumps(body)


def _route(stub: CarrierStub, hit: Hit) -> Answer:
    form = {k: v[0] for k, v in parse_qs(hit.body.decode()).items()}
    bearer = hit.headers.get("authorization", "").removeprefix("Bearer ")
    if hit.path == "/security/v1/oauth/token":  # UPS: Basic auth, form grant type
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if hit.headers.get("authorization") != f"Basic {expected}":
            return 401, {}, _ups_error("10401", "ClientId is Invalid")
        assert form == {"grant_type": "client_credentials"}
        return _issue(stub, "14399")  # UPS sends the lifetime as a string
    if hit.path in ("/oauth/token", "/oauth2/v3/token"):  # FedEx, USPS: form credentials
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {}, b'{"error": "invalid_client"}'
        assert form["grant_type"] == "client_credentials"
        return _issue(stub, 3599)
    if hit.path == "/track/shipments":  # DHL Unified
        if hit.headers.get("dhl-api-key") != API_KEY:
            return 401, {}, b'{"title": "Unauthorized", "status": 401}'
        return stub.next_answer(hit.query["trackingNumber"][0])
    if hit.path.startswith("/mydhlapi/shipments/"):  # DHL Express
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if hit.headers.get("authorization") != f"Basic {expected}":
            return 401, {}, b'{"title": "Unauthorized", "status": "401"}'
        return stub.next_answer(unquote(hit.path.split("/")[3]))
    if bearer not in stub.tokens:
        return 401, {}, _ups_error("250002", "Invalid Authentication Information.")
    if hit.path.startswith("/api/track/v1/details/"):  # UPS
        assert hit.headers.get("transid")
        assert hit.headers.get("transactionsrc") == "wismo"
        return stub.next_answer(unquote(hit.path.rsplit("/", 1)[1]))
    if hit.path == "/track/v1/trackingnumbers":  # FedEx
        request = orjson.loads(hit.body)
        assert request["includeDetailedScans"] is True
        return stub.next_answer(request["trackingInfo"][0]["trackingNumberInfo"]["trackingNumber"])
    if hit.path.startswith("/tracking/v3/tracking/"):  # USPS
        assert hit.query.get("expand") == ["DETAIL"]
        return stub.next_answer(unquote(hit.path.rsplit("/", 1)[1]))
    return 404, {}, b"no such endpoint"


@pytest.fixture
def stub() -> Iterator[CarrierStub]:
    carrier = CarrierStub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            parts = urlsplit(self.path)
            hit = Hit(
                at=time.monotonic(),
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            with carrier.lock:
                carrier.hits.append(hit)
            if carrier.delay and "token" not in hit.path:
                time.sleep(carrier.delay)
            status, headers, body = _route(carrier, hit)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    carrier.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield carrier
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- Bodies in each carrier's documented format --------------------------------------------


def _ups_error(code: str, message: str) -> bytes:
    return orjson.dumps({"response": {"errors": [{"code": code, "message": message}]}})


def ups_scan(kind: str, code: str, status_code: str, text: str, at: datetime) -> dict[str, Any]:
    local = at.astimezone(EST)
    return {
        "location": {
            "address": {
                "city": "LOUISVILLE",
                "stateProvince": "KY",
                "postalCode": "40213",
                "countryCode": "US",
                "country": "US",
            }
        },
        "status": {"type": kind, "code": code, "statusCode": status_code, "description": text},
        "date": local.strftime("%Y%m%d"),
        "time": local.strftime("%H%M%S"),
        "gmtOffset": "-05:00",
    }


def ups_body(number: str, scans: list[dict[str, Any]], scheduled: date | None = None) -> Answer:
    package: dict[str, Any] = {"trackingNumber": number, "activity": scans}
    if scheduled is not None:
        package["deliveryDate"] = [{"type": "SDD", "date": scheduled.strftime("%Y%m%d")}]
    body = {"trackResponse": {"shipment": [{"inquiryNumber": number, "package": [package]}]}}
    return 200, {}, orjson.dumps(body)


def fedex_body(number: str, events: list[tuple[str, str, datetime]]) -> Callable[[], Answer]:
    def build() -> Answer:
        scans = [
            {
                "date": at.astimezone(EST).isoformat(),
                "eventType": kind,
                "derivedStatusCode": kind,
                "eventDescription": text,
                "scanLocation": {"city": "MEMPHIS", "stateOrProvinceCode": "TN"},
            }
            for kind, text, at in events
        ]
        result = {"trackingNumberInfo": {"trackingNumber": number}, "scanEvents": scans}
        body = {
            # A new transaction id in every answer, as FedEx does.
            "transactionId": str(uuid.uuid4()),
            "output": {
                "completeTrackResults": [{"trackingNumber": number, "trackResults": [result]}]
            },
        }
        return 200, {}, orjson.dumps(body)

    return build


def fedex_not_found(number: str) -> Answer:
    error = {"code": "TRACKING.TRACKINGNUMBER.NOTFOUND", "message": "Tracking number not found."}
    result = {"trackingNumberInfo": {"trackingNumber": number}, "error": error}
    body = {
        "output": {"completeTrackResults": [{"trackingNumber": number, "trackResults": [result]}]}
    }
    return 200, {}, orjson.dumps(body)


def usps_body(number: str, code: str, text: str, at: datetime) -> Answer:
    event = {
        "eventType": text,
        "eventTimestamp": at.astimezone(EST).replace(tzinfo=None).isoformat(),
        "GMTOffset": "-05:00",
        "eventCity": "NEW YORK",
        "eventState": "NY",
        "eventZIP": "10001",
        "eventCode": code,
    }
    body = {"trackingNumber": number, "status": text, "trackingEvents": [event]}
    return 200, {}, orjson.dumps(body)


def dhl_unified_body(number: str, at: datetime) -> Answer:
    event = {
        "timestamp": at.astimezone(CET).isoformat(),
        "location": {"address": {"addressLocality": "LEIPZIG - GERMANY"}},
        "statusCode": "transit",
        "status": "PL",
        "description": "Processed at LEIPZIG - GERMANY",
    }
    body = {"shipments": [{"id": number, "service": "express", "events": [event]}]}
    return 200, {}, orjson.dumps(body)


def dhl_express_body(number: str, at: datetime) -> Answer:
    local = at.astimezone(CET)
    event = {
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M:%S"),
        "GMTOffset": "+01:00",
        "typeCode": "PL",
        "description": "Processed at LEIPZIG - GERMANY",
        "serviceArea": [{"code": "LEJ", "description": "Leipzig-DE"}],
    }
    body = {"shipments": [{"shipmentTrackingNumber": number, "events": [event]}]}
    return 200, {}, orjson.dumps(body)


# --- Wismo's side -------------------------------------------------------------------------


def no_jitter() -> float:
    return 0.0


def make_poller(
    wismo: Wismo, clock: FakeClock, *, sleep: Callable[[float], None] = time.sleep, **kw: Any
) -> Poller:
    return Poller(
        SqlPolling(wismo.engine),
        HttpTrackingFetcher(timeout=5.0),
        wismo.ingestor,
        wismo.uow_factory,
        clock,
        rand=no_jitter,
        sleep=sleep,
        **kw,
    )


def integrate(
    wismo: Wismo, store_id: int, carrier: str, stub: CarrierStub, **settings: Any
) -> None:
    credentials: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    if carrier == "dhl_universal":
        credentials = {"api_key": API_KEY}
    if carrier == "dhl_express":
        credentials = {"username": CLIENT_ID, "password": CLIENT_SECRET}
    base_url = stub.url + ("/mydhlapi" if carrier == "dhl_express" else "")
    with wismo.engine.begin() as conn:
        upsert_integration(
            conn,
            store_id,
            f"carrier:{carrier}",
            f"acct-{carrier}-{store_id}",
            credentials=credentials,
            settings={"base_url": base_url, "requests_per_second": 100, **settings},
        )


def ship(
    wismo: Wismo,
    store_id: int,
    ref: str,
    number: str,
    *,
    carrier: str = "ups",
    created_at: datetime | None = None,
) -> None:
    created = created_at or wismo.clock() - timedelta(days=1)
    results = wismo.ingestor.ingest(
        store_id,
        [
            encode(order_created(f"O-{ref}", placed_at=created - timedelta(hours=2))),
            encode(
                shipment_created(
                    f"O-{ref}", ref, created_at=created, carrier=carrier, tracking_number=number
                )
            ),
        ],
    )
    assert [r.status for r in results] == ["processed", "processed"]


def row(wismo: Wismo, ref: str) -> Any:
    with wismo.engine.connect() as conn:
        return conn.execute(select(shipments).where(shipments.c.shipment_ref == ref)).one()


def inbox_rows(wismo: Wismo) -> list[Any]:
    with wismo.engine.connect() as conn:
        return list(conn.execute(select(inbox).where(inbox.c.format.like("carrier:%"))))


# --- Tests --------------------------------------------------------------------------------

UPS_NO = "1Z999AA10123456784"


def test_ups_shipment_advances_through_polls_until_it_stops(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """A shipment created by canonical events is polled; its status advances and the next
    poll follows the schedule until one last look a day after delivery."""
    t0 = clock.now
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    assert row(wismo, "S1").next_poll_at is None
    picked = ups_scan("I", "OR", "005", "Origin Scan", t0 - timedelta(hours=20))
    arrived = ups_scan("I", "AR", "005", "Arrived at Facility", t0 - timedelta(hours=10))
    ofd = ups_scan("I", "OT", "021", "Out For Delivery Today", t0 + timedelta(minutes=90))
    delivered = ups_scan("D", "FS", "011", "Delivered", t0 + timedelta(hours=2, minutes=20))
    tomorrow = (t0 + timedelta(days=1)).date()
    stub.answer(
        UPS_NO,
        ups_body(UPS_NO, [arrived, picked], tomorrow),
        ups_body(UPS_NO, [arrived, picked], tomorrow),
        ups_body(UPS_NO, [ofd, arrived, picked], tomorrow),
        ups_body(UPS_NO, [delivered, ofd, arrived, picked], tomorrow),
    )
    poller = make_poller(wismo, clock)

    report = poller.run_once()
    assert (report.scheduled, report.claimed, report.fetched, report.updated) == (1, 1, 1, 1)
    s = row(wismo, "S1")
    assert s.milestone == "in_transit"
    assert s.refreshed_at == t0
    assert s.next_poll_at == t0 + timedelta(hours=1)  # estimate tomorrow: hourly
    assert (s.poll_failures, s.last_poll_error) == (0, None)
    assert [r.status for r in inbox_rows(wismo)] == ["processed"]
    assert poller.run_once().claimed == 0  # nothing due yet

    clock.advance(hours=1)
    assert poller.run_once().updated == 1  # the same answer: stored once, still fresh
    assert len(inbox_rows(wismo)) == 1
    assert row(wismo, "S1").refreshed_at == clock.now

    clock.advance(hours=1)
    poller.run_once()
    s = row(wismo, "S1")
    assert s.milestone == "out_for_delivery"
    assert s.next_poll_at == clock.now + timedelta(minutes=30)

    clock.advance(minutes=30)
    poller.run_once()
    s = row(wismo, "S1")
    assert s.milestone == "delivered"
    assert s.next_poll_at == s.delivered_at + timedelta(days=1)

    clock.now = s.next_poll_at
    report = poller.run_once()
    assert report.stopped == 1
    assert row(wismo, "S1").next_poll_at is None
    assert poller.run_once().scheduled == 0  # finished: never scheduled again
    assert len(stub.token_hits("/security/v1/oauth/token")) == 1  # the token was cached
    assert len(stub.tracking_hits(UPS_NO)) == 5
    answer = wismo.status.by_number(store_id, "O-S1")
    assert answer is not None
    assert answer.packages[0].status == "delivered"


def test_each_client_speaks_its_carriers_api(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """FedEx, USPS, DHL Unified and DHL Express shipments are polled through their own
    endpoints and authentication; a revoked token is replaced once and the poll goes on."""
    t0 = clock.now
    numbers = {
        "fedex": "771234567890",
        "usps": "9400111899223197428490",
        "dhl_universal": "4711000011",
        "dhl_express": "4711000012",
    }
    for carrier, number in numbers.items():
        integrate(wismo, store_id, carrier, stub)
        ship(wismo, store_id, f"S-{carrier}", number, carrier=carrier)
    fedex_scans = [
        ("AR", "Arrived at FedEx location", t0 - timedelta(hours=3)),
        ("PU", "Picked up", t0 - timedelta(hours=20)),
    ]
    stub.answer(numbers["fedex"], fedex_body(numbers["fedex"], fedex_scans))
    stub.answer(
        numbers["usps"], usps_body(numbers["usps"], "10", "In Transit", t0 - timedelta(hours=3))
    )
    stub.answer(
        numbers["dhl_universal"],
        dhl_unified_body(numbers["dhl_universal"], t0 - timedelta(hours=3)),
    )
    stub.answer(
        numbers["dhl_express"], dhl_express_body(numbers["dhl_express"], t0 - timedelta(hours=3))
    )
    poller = make_poller(wismo, clock)

    report = poller.run_once()
    assert (report.fetched, report.updated, report.failed) == (4, 4, {})
    for carrier in numbers:
        s = row(wismo, f"S-{carrier}")
        assert s.milestone == "in_transit", carrier
        assert s.next_poll_at == t0 + timedelta(hours=3), carrier
    fedex_hit = stub.tracking_hits(numbers["fedex"])[0]
    assert fedex_hit.method == "POST"
    assert fedex_hit.headers["content-type"] == "application/json"
    assert stub.tracking_hits(numbers["usps"])[0].method == "GET"
    assert len(stub.token_hits("/oauth/token")) == 1
    assert len(stub.token_hits("/oauth2/v3/token")) == 1

    stub.revoke_tokens()
    clock.advance(hours=3)
    report = poller.run_once()
    assert (report.fetched, report.failed) == (4, {})
    assert len(stub.token_hits("/oauth/token")) == 2
    assert len(stub.token_hits("/oauth2/v3/token")) == 2
    # FedEx stamps every answer with a new transaction id; the same scans are one item.
    fedex_items = [r for r in inbox_rows(wismo) if r.format == "carrier:fedex"]
    assert len(fedex_items) == 1


def test_unauthorized_is_recorded_and_backs_off(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """Refused credentials: the error is recorded, nothing is stored, and each retry waits
    twice as long as the one before."""
    with wismo.engine.begin() as conn:
        upsert_integration(
            conn,
            store_id,
            "carrier:ups",
            "acct",
            credentials={"client_id": CLIENT_ID, "client_secret": "wrong"},
            settings={"base_url": stub.url},
        )
    ship(wismo, store_id, "S1", UPS_NO)
    poller = make_poller(wismo, clock)

    report = poller.run_once()
    assert report.failed == {"unauthorized": 1}
    s = row(wismo, "S1")
    assert s.poll_failures == 1
    assert s.last_poll_error.startswith("unauthorized: token request refused")
    assert s.next_poll_at == clock.now + timedelta(minutes=30)
    assert s.refreshed_at is None
    assert stub.tracking_hits() == []
    assert inbox_rows(wismo) == []

    clock.advance(minutes=30)
    poller.run_once()
    s = row(wismo, "S1")
    assert s.poll_failures == 2
    assert s.next_poll_at == clock.now + timedelta(hours=1)


def test_unauthorized_tracking_answer_is_recorded(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """A 403 from the tracking endpoint (token fine, product not enabled) is unauthorized."""
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    stub.answer(UPS_NO, (403, {}, _ups_error("250003", "Invalid Access License number")))
    make_poller(wismo, clock).run_once()
    s = row(wismo, "S1")
    assert s.poll_failures == 1
    assert s.last_poll_error.startswith("unauthorized: Invalid Access License number")


def test_rate_limited_honours_retry_after(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """429 with Retry-After: that shipment waits at least as long; the account's other
    shipments in the batch are not fetched but put back until then, without a failure."""
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    ship(wismo, store_id, "S2", "1Z999AA10123456795")
    stub.answer(UPS_NO, (429, {"Retry-After": "900"}, _ups_error("10429", "Too Many Requests.")))
    report = make_poller(wismo, clock).run_once()
    assert report.failed == {"rate_limited": 1}
    assert report.deferred == 1
    first, second = row(wismo, "S1"), row(wismo, "S2")
    assert first.poll_failures == 1
    assert first.last_poll_error.startswith("rate_limited")
    assert first.next_poll_at == clock.now + timedelta(seconds=900)
    assert second.poll_failures == 0
    assert second.last_poll_error is None
    assert clock.now + timedelta(seconds=880) <= second.next_poll_at
    assert second.next_poll_at <= clock.now + timedelta(seconds=900)
    assert len(stub.tracking_hits()) == 1


def test_retry_after_as_an_http_date(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """Retry-After given as an HTTP date is honoured like one given in seconds."""
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=1200), usegmt=True)
    stub.answer(UPS_NO, (429, {"Retry-After": when}, _ups_error("10429", "Too Many Requests.")))
    make_poller(wismo, clock).run_once()
    wait = row(wismo, "S1").next_poll_at - clock.now
    assert timedelta(seconds=1190) <= wait <= timedelta(seconds=1200)


def test_a_broken_fetch_fails_one_shipment_not_the_batch(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """An unexpected error while fetching one shipment is recorded on it; the others in the
    batch are polled."""

    class Broken(HttpTrackingFetcher):
        def fetch(self, account: CarrierAccount, tracking_number: str) -> Fetched:
            if tracking_number == UPS_NO:
                raise RuntimeError("boom")
            return super().fetch(account, tracking_number)

    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    ship(wismo, store_id, "S2", "1Z999AA10123456795")
    stub.answer(
        "1Z999AA10123456795",
        ups_body("1Z999AA10123456795", [ups_scan("I", "AR", "005", "Arrival", clock.now)]),
    )
    poller = Poller(
        SqlPolling(wismo.engine),
        Broken(),
        wismo.ingestor,
        wismo.uow_factory,
        clock,
        rand=no_jitter,
    )
    report = poller.run_once()
    assert (report.updated, report.failed) == (1, {"carrier_error": 1})
    assert row(wismo, "S1").last_poll_error == "carrier_error: internal: RuntimeError('boom')"
    assert row(wismo, "S2").milestone == "in_transit"


def test_server_errors_and_timeouts_back_off_then_recover(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """5xx and timeouts are carrier errors with growing waits; a success clears them."""
    integrate(wismo, store_id, "usps", stub, timeout=0.3)
    number = "9400111899223197428490"
    ship(wismo, store_id, "S1", number, carrier="usps")
    ok = usps_body(number, "10", "In Transit", clock.now - timedelta(hours=1))
    stub.answer(number, (503, {}, b"<html>Service Unavailable</html>"), (502, {}, b""), ok)
    poller = make_poller(wismo, clock)

    poller.run_once()
    s = row(wismo, "S1")
    assert (s.poll_failures, s.next_poll_at) == (1, clock.now + timedelta(minutes=5))
    assert s.last_poll_error.startswith("carrier_error")
    clock.advance(minutes=5)
    poller.run_once()
    s = row(wismo, "S1")
    assert (s.poll_failures, s.next_poll_at) == (2, clock.now + timedelta(minutes=10))

    stub.delay = 1.0  # longer than the integration's 0.3 s timeout
    clock.advance(minutes=10)
    poller.run_once()
    s = row(wismo, "S1")
    assert s.poll_failures == 3
    assert "no answer in time" in s.last_poll_error
    assert s.next_poll_at == clock.now + timedelta(minutes=20)

    stub.delay = 0.0
    clock.advance(minutes=20)
    poller.run_once()
    s = row(wismo, "S1")
    assert (s.poll_failures, s.last_poll_error, s.milestone) == (0, None, "in_transit")


def test_not_found_by_status_or_by_body(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """UPS's 404 and FedEx's 200 "not found" body are both not_found, and neither is
    stored in the inbox."""
    integrate(wismo, store_id, "ups", stub)
    integrate(wismo, store_id, "fedex", stub)
    ship(wismo, store_id, "S-ups", UPS_NO)
    ship(wismo, store_id, "S-fedex", "771234567890", carrier="fedex")
    stub.answer(UPS_NO, (404, {}, _ups_error("151044", "No tracking information available")))
    stub.answer("771234567890", fedex_not_found("771234567890"))
    report = make_poller(wismo, clock).run_once()
    assert report.failed == {"not_found": 2}
    for ref in ("S-ups", "S-fedex"):
        s = row(wismo, ref)
        assert s.last_poll_error.startswith("not_found"), ref
        assert s.next_poll_at == clock.now + timedelta(minutes=30)
        assert s.milestone == "label_created"
    assert inbox_rows(wismo) == []


def test_rate_limit_is_respected(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """An account allowed 5 requests a second (burst 1) gets them at least 0.2 s apart and
    never more than rate + burst in any second, as counted at the carrier's side."""
    integrate(wismo, store_id, "ups", stub, requests_per_second=5, burst=1)
    numbers = [f"1Z999AA1012345{i:04d}" for i in range(7)]
    for i, number in enumerate(numbers):
        ship(wismo, store_id, f"S{i}", number)
        stub.answer(
            number,
            ups_body(
                number, [ups_scan("I", "AR", "005", "Arrival", clock.now - timedelta(hours=1))]
            ),
        )
    report = make_poller(wismo, clock).run_once()
    assert report.updated == 7
    times = sorted(h.at for h in stub.tracking_hits())
    assert len(times) == 7
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2 - 0.02
    assert times[-1] - times[0] >= 6 * 0.2 - 0.05
    for start in times:
        assert sum(1 for t in times if start <= t < start + 1.0) <= 5 + 1


def test_scans_from_before_the_shipment_are_noted_not_failed(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """Scans older than the shipment (an earlier use of the number) match nothing: the poll
    still counts as a fetch, the newer scans apply, and a note says what was left over."""
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    new = ups_scan("I", "AR", "005", "Arrived at Facility", clock.now - timedelta(hours=2))
    old = ups_scan("D", "FS", "011", "Delivered", clock.now - timedelta(days=5))
    stub.answer(UPS_NO, ups_body(UPS_NO, [new, old]))
    report = make_poller(wismo, clock).run_once()
    assert (report.updated, report.failed) == (1, {})
    s = row(wismo, "S1")
    assert s.milestone == "in_transit"
    assert (s.poll_failures, s.refreshed_at) == (0, clock.now)
    assert s.last_poll_error.startswith("unmatched: ")
    assert s.next_poll_at == clock.now + timedelta(hours=3)


def test_long_silence_expires_the_shipment(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """A poll that finds no scan newer than 21 days marks the shipment expired and stops."""
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO, created_at=clock.now - timedelta(days=30))
    old = ups_scan("I", "AR", "005", "Arrived at Facility", clock.now - timedelta(days=25))
    stub.answer(UPS_NO, ups_body(UPS_NO, [old]))
    report = make_poller(wismo, clock).run_once()
    assert report.expired == 1
    s = row(wismo, "S1")
    assert s.milestone == "expired"
    assert s.next_poll_at is None
    assert s.last_poll_error == "stopped: no new scan for 21 days"


def test_removed_integration_stops_polling(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """Polling switched off in the integration's settings: due shipments are let go."""
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    with wismo.engine.begin() as conn:
        wismo_polling = SqlPolling(wismo.engine)
        wismo_polling.schedule_new(wismo_polling.accounts({"ups"}), clock.now, 10)
        upsert_integration(conn, store_id, "carrier:ups", "acct-ups-1", settings={"polling": False})
    report = make_poller(wismo, clock).run_once()
    assert (report.claimed, report.fetched, report.stopped) == (1, 0, 1)
    s = row(wismo, "S1")
    assert s.next_poll_at is None
    assert "no carrier:ups integration" in s.last_poll_error


def test_two_pollers_do_not_fetch_the_same_shipment(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub, database_url: str
) -> None:
    """Two pollers claiming at once on PostgreSQL (SKIP LOCKED) fetch every due shipment
    exactly once between them."""
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent pollers need PostgreSQL; SQLite runs a single poller")
    integrate(wismo, store_id, "ups", stub)
    numbers = [f"1Z999AA1012346{i:04d}" for i in range(24)]
    for i, number in enumerate(numbers):
        ship(wismo, store_id, f"S{i}", number)
        stub.answer(
            number,
            ups_body(
                number, [ups_scan("I", "AR", "005", "Arrival", clock.now - timedelta(hours=1))]
            ),
        )
    stub.delay = 0.02
    start = threading.Barrier(2)
    reports: dict[int, list[PollReport]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        poller = make_poller(wismo, clock)
        try:
            start.wait(timeout=10)
            for _ in range(20):
                report = poller.run_once(batch=3)
                reports[index].append(report)
                if report.claimed == 0:
                    break
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    fetched = stub.tracking_hits()
    assert sorted(unquote(h.path.rsplit("/", 1)[1]) for h in fetched) == sorted(numbers)
    assert all(sum(r.fetched for r in reports[i]) > 0 for i in (0, 1))
    assert all(row(wismo, f"S{i}").milestone == "in_transit" for i in range(24))


def test_staleness_in_the_api(
    wismo: Wismo, store_id: int, clock: FakeClock, stub: CarrierStub
) -> None:
    """GET /v1/metrics/staleness (read key) gives count, p50, p95 and max per carrier."""
    integrate(wismo, store_id, "ups", stub)
    ship(wismo, store_id, "S1", UPS_NO)
    ship(wismo, store_id, "S2", "771234567890", carrier="fedex")
    stub.answer(UPS_NO, ups_body(UPS_NO, [ups_scan("I", "AR", "005", "Arrival", clock.now)]))
    make_poller(wismo, clock).run_once()
    clock.advance(minutes=10)
    with wismo.engine.begin() as conn:
        token = stores.create_key(conn, store_id, Scope.READ).token
    with TestClient(create_app(wismo)) as client:
        assert client.get("/v1/metrics/staleness").status_code == 401
        resp = client.get("/v1/metrics/staleness", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    data = resp.json()
    by_carrier = {c["carrier"]: c for c in data["carriers"]}
    assert by_carrier["ups"] == {"carrier": "ups", "count": 1, "p50": 600, "p95": 600, "max": 600}
    fedex_age = (timedelta(days=1, minutes=10)).total_seconds()  # never fetched: since creation
    assert by_carrier["fedex"]["max"] == fedex_age
    assert data["all"]["count"] == 2
    assert data["unit"] == "seconds"


def test_cli_poll_once_and_staleness(
    database_url: str, stub: CarrierStub, monkeypatch: pytest.MonkeyPatch, wismo: Wismo
) -> None:
    """`wismo poll --once` polls due shipments; `wismo carriers staleness` reports them."""
    monkeypatch.setenv("WISMO_DATABASE_URL", database_url)
    runner = CliRunner()
    assert runner.invoke(cli_app, ["stores", "create", "shop"]).exit_code == 0
    with wismo.engine.connect() as conn:
        shop = stores.get_store(conn, "shop")
    assert shop is not None
    store_id = int(shop.id)
    now = datetime.now(UTC)
    integrate(wismo, store_id, "ups", stub)
    wismo.ingestor.ingest(
        store_id,
        [
            encode(order_created("1001", placed_at=now - timedelta(hours=5))),
            encode(
                shipment_created(
                    "1001", "S1", created_at=now - timedelta(hours=4), tracking_number=UPS_NO
                )
            ),
        ],
    )
    stub.answer(UPS_NO, ups_body(UPS_NO, [ups_scan("I", "AR", "005", "Arrival", now)]))

    result = runner.invoke(cli_app, ["poll", "--once", "--batch", "10"])
    assert result.exit_code == 0, result.output
    assert "claimed=1 fetched=1 updated=1" in result.output
    assert row(wismo, "S1").milestone == "in_transit"

    result = runner.invoke(cli_app, ["carriers", "staleness", "--store", "shop"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "carrier\tcount\tp50\tp95\tmax"
    assert lines[1].startswith("ups\t1\t")
    result = runner.invoke(cli_app, ["carriers", "staleness", "--json"])
    assert orjson.loads(result.output)["all"]["count"] == 1
    missing = runner.invoke(cli_app, ["carriers", "staleness", "--store", "nope"])
    assert missing.exit_code == 1
