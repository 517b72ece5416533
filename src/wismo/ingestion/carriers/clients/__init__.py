"""HTTP clients that pull tracking from carriers' APIs, and the `TrackingFetcher` adapter
the poller uses (`wismo.services.polling`).

One small module per carrier (the documented endpoints and authentication, nothing else);
each returns the raw response for the carrier's parser, or raises `CarrierError`
(`clients.base`). Base URL and credentials come from the store's `carrier:<name>`
integration: `credentials` (client_id / client_secret, or api_key) and `settings`
(base_url, requests_per_second, timeout, locale). docs/adr/0008-carrier-connectors.md says
why these are ours and not a connector library's.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import httpx

from wismo.ingestion.carriers import registry
from wismo.ingestion.carriers.base import CarrierError, Tracking
from wismo.ingestion.carriers.clients.australiapost import AustraliaPostClient
from wismo.ingestion.carriers.clients.base import CarrierClient, HttpCarrierError
from wismo.ingestion.carriers.clients.canadapost import CanadaPostClient
from wismo.ingestion.carriers.clients.dhl_express import DhlExpressClient
from wismo.ingestion.carriers.clients.dhl_universal import DhlUnifiedClient
from wismo.ingestion.carriers.clients.dpd import DpdClient
from wismo.ingestion.carriers.clients.fedex import FedexClient
from wismo.ingestion.carriers.clients.gls import GlsClient
from wismo.ingestion.carriers.clients.laposte import LaPosteClient
from wismo.ingestion.carriers.clients.royalmail import RoyalMailClient
from wismo.ingestion.carriers.clients.ups import UpsClient
from wismo.ingestion.carriers.clients.usps import UspsClient
from wismo.services.ports import CarrierAccount, Fetched, FetchFailed

__all__ = ["CLIENTS", "CarrierClient", "HttpCarrierError", "HttpTrackingFetcher", "content_key"]

# By the carrier name shipments and integrations use (the parser's NAME).
CLIENTS: dict[str, type[CarrierClient]] = {
    c.NAME: c
    for c in (
        UpsClient,
        FedexClient,
        UspsClient,
        DhlUnifiedClient,
        DhlExpressClient,
        CanadaPostClient,
        RoyalMailClient,
        AustraliaPostClient,
        LaPosteClient,
        GlsClient,
        DpdClient,
    )
}


def content_key(carrier: str, tracking_number: str, body: bytes) -> str | None:
    """A dedup key for what a response says, not how it is wrapped: two polls that found
    the same scans are one inbox item even when the carrier stamps each answer with a new
    transaction id. None when the body cannot be read (the body hash is used then)."""
    try:
        trackings = registry.parse(carrier, body)
    except Exception:  # unreadable: the parser will say why when it is ingested
        return None
    digest = hashlib.sha256(f"{carrier}\x1f{tracking_number}".encode())
    for tracking in sorted(trackings, key=lambda t: t.tracking_number):
        digest.update(_describe(tracking).encode())
    return "poll:" + digest.hexdigest()


def _describe(tracking: Tracking) -> str:
    parts = [
        tracking.carrier,
        tracking.tracking_number,
        tracking.estimated_delivery_at.isoformat() if tracking.estimated_delivery_at else "",
        tracking.service or "",
    ]
    for scan in sorted(tracking.scans, key=lambda s: (s.occurred_at, s.codes, s.description or "")):
        parts.extend(
            (
                scan.occurred_at.isoformat(),
                scan.occurred_tz or "",
                "|".join(scan.codes),
                scan.raw_code or "",
                scan.description or "",
                (scan.location.describe() or "") if scan.location else "",
            )
        )
    return "\x1e".join(parts)


class HttpTrackingFetcher:
    """The `TrackingFetcher` port over the carrier clients, one client per account (each
    keeps its own token), sharing one connection pool."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "wismo"},
            follow_redirects=False,
        )
        self._monotonic = monotonic
        self._clients: dict[int, tuple[object, CarrierClient]] = {}
        self._lock = threading.Lock()

    def carriers(self) -> frozenset[str]:
        return frozenset(CLIENTS)

    def client(self, account: CarrierAccount) -> CarrierClient:
        """The account's client; a new one (and token) when its integration changed."""
        cls = CLIENTS.get(account.carrier)
        if cls is None:
            raise FetchFailed("unsupported", f"no tracking client for carrier {account.carrier}")
        version = (
            repr(sorted(account.credentials.items())),
            repr(sorted(account.settings.items())),
        )
        with self._lock:
            cached = self._clients.get(account.id)
            if cached is not None and cached[0] == version:
                return cached[1]
            try:
                client = cls(
                    self._http, account.credentials, account.settings, monotonic=self._monotonic
                )
            except CarrierError as exc:
                raise FetchFailed(exc.kind, exc.message) from None
            self._clients[account.id] = (version, client)
            return client

    def fetch(self, account: CarrierAccount, tracking_number: str) -> Fetched:
        client = self.client(account)
        try:
            body = client.track(tracking_number)
        except CarrierError as exc:
            raise FetchFailed(exc.kind, exc.message, getattr(exc, "retry_after", None)) from None
        return Fetched(body, content_key(account.carrier, tracking_number, body))

    def close(self) -> None:
        self._http.close()
