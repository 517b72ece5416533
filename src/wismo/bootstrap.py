"""Composition root: the only place that picks concrete adapters.

Entry points (web, cli, demo, bench) call `bootstrap()`; tests call it with their own
settings and clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import orjson
from sqlalchemy import Engine, select

from wismo.channels.email import SmtpChannel
from wismo.channels.helpdesk import ZendeskHelpDesk
from wismo.channels.llm import OpenAiCompatibleModel
from wismo.channels.push import WebPushChannel, check_subject, load_vapid, public_key
from wismo.channels.render import TemplateRenderer
from wismo.channels.sms import TwilioSmsChannel, keyword
from wismo.channels.webhook import WebhookChannel
from wismo.config import Settings
from wismo.conversation.agent import Agent, QueueHelpDesk
from wismo.conversation.ports import CodeSender, HelpDesk, LanguageModel
from wismo.domain.exceptions import ThresholdRules
from wismo.domain.promise import parse_preference
from wismo.ingestion.aggregators import aftership, easypost, shippo
from wismo.ingestion.canonical import CanonicalParser
from wismo.ingestion.carriers.clients import HttpTrackingFetcher
from wismo.ingestion.carriers.ingest import CarrierResponseParser
from wismo.ingestion.registry import ParserRegistry
from wismo.ingestion.shopify import OrderClues, ShopifyParser
from wismo.services.ingest import Ingestor
from wismo.services.links import OrderLinks
from wismo.services.notify import Message, NotificationChannel, Relay, UnsubscribeTokens
from wismo.services.polling import Poller, StalenessReport
from wismo.services.ports import Claimed, TrackingFetcher
from wismo.services.sms_inbound import SmsInbound
from wismo.services.status import StatusService
from wismo.services.sweep import Sweeper
from wismo.storage.conversations import SqlConversationStore, SqlOrderDirectory
from wismo.storage.engine import make_engine
from wismo.storage.migrate import upgrade
from wismo.storage.page import link_keys
from wismo.storage.polling import SqlPolling
from wismo.storage.push import SqlPushSubscriptions
from wismo.storage.relay import SqlRelayStore
from wismo.storage.sms_inbound import SqlSmsInbound
from wismo.storage.stores import KeyVerifier
from wismo.storage.sweep import SqlSweepRepository
from wismo.storage.tables import order_lines, orders, returns, stores
from wismo.storage.uow import SqlUnitOfWorkFactory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wismo:
    settings: Settings
    engine: Engine
    uow_factory: SqlUnitOfWorkFactory
    ingestor: Ingestor
    status: StatusService
    keys: KeyVerifier
    clock: Callable[[], datetime]
    parsers: ParserRegistry
    links: OrderLinks  # signs the tracking page's order links

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    migrate: bool = True,
) -> Wismo:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    uow_factory = SqlUnitOfWorkFactory(engine)

    @lru_cache(maxsize=1024)
    def region_of(store_id: int) -> str | None:
        with engine.connect() as conn:
            country = conn.execute(
                select(stores.c.country).where(stores.c.id == store_id)
            ).scalar_one_or_none()
        return str(country) if country else None

    parsers = ParserRegistry({"canonical": CanonicalParser(region_of, clock)})
    parsers.register("carrier", CarrierResponseParser(clock))
    parsers.register("easypost", easypost.EasyPostParser(clock))
    parsers.register("aftership", aftership.AfterShipParser(clock))
    parsers.register("shippo", shippo.ShippoParser(clock))

    def shopify_order(store_id: int, clues: OrderClues) -> str | None:
        """The store's order a Shopify refund or return belongs to (docs/adr/0006)."""
        query = select(orders.c.order_number).where(orders.c.store_id == store_id).limit(1)
        tries = (
            (orders.c.order_number, clues.numbers, query),
            (returns.c.return_ref, clues.return_refs, query.join(returns)),
            (order_lines.c.line_ref, clues.line_refs, query.join(order_lines)),
        )
        with engine.connect() as conn:
            for column, wanted, base in tries:
                found = conn.execute(base.where(column.in_(wanted))).scalar() if wanted else None
                if found is not None:
                    return str(found)
        return None

    parsers.register("shopify", ShopifyParser(region_of, clock, shopify_order))
    return Wismo(
        settings=settings,
        engine=engine,
        uow_factory=uow_factory,
        ingestor=Ingestor(uow_factory, parsers, clock),
        parsers=parsers,
        status=StatusService(uow_factory, clock, parse_preference(settings.estimate_preference)),
        keys=KeyVerifier(engine),
        clock=clock,
        links=OrderLinks(link_keys(engine, settings.link_secret)),
    )


def make_poller(w: Wismo, fetcher: TrackingFetcher | None = None) -> Poller:
    """The carrier poller over this Wismo's database, pulling with the HTTP clients."""
    return Poller(
        SqlPolling(w.engine),
        fetcher or HttpTrackingFetcher(),
        w.ingestor,
        w.uow_factory,
        w.clock,
    )


def exception_thresholds(text: str) -> ThresholdRules:
    """Thresholds from a JSON object or the path of a JSON file; ValueError says what is
    wrong (a bad key, an unreadable file) so entry points can print it."""
    text = text.strip()
    if not text:
        return ThresholdRules.from_config({})
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"WISMO_EXCEPTION_THRESHOLDS: cannot read {text}: {exc}") from None
    try:
        config = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"WISMO_EXCEPTION_THRESHOLDS: not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError("WISMO_EXCEPTION_THRESHOLDS: must be a JSON object")
    return ThresholdRules.from_config(config)


def make_sweeper(w: Wismo, *, batch_size: int = 2_000) -> Sweeper:
    """The sweeper over this Wismo's database, with the configured rules."""
    return Sweeper(
        SqlSweepRepository(w.engine),
        w.clock,
        thresholds=exception_thresholds(w.settings.exception_thresholds),
        preference=parse_preference(w.settings.estimate_preference),
        batch_size=batch_size,
    )


def staleness_report(w: Wismo) -> StalenessReport:
    """How old open shipments' carrier data is, per carrier (CLI and API)."""
    return StalenessReport(SqlPolling(w.engine), w.clock)


# -- notifications (docs/notifications.md) ----------------------------------------------


def sms_inbound(w: Wismo) -> SmsInbound:
    """Inbound SMS keywords and delivery reports over this Wismo's database (web, CLI)."""
    return SmsInbound(SqlSmsInbound(w.engine), keyword, w.clock)


def unsubscribe_tokens(w: Wismo) -> UnsubscribeTokens:
    return UnsubscribeTokens(link_keys(w.engine, w.settings.link_secret))


def notification_channels(
    settings: Settings, engine: Engine | None = None
) -> dict[str, NotificationChannel]:
    """The channels whose settings are present; the others are absent, and their messages
    fail with that reason rather than silently waiting. Push also needs the database (the
    subscriptions' keys); a VAPID key that does not load is a ValueError, not a silent
    absence."""
    channels: dict[str, NotificationChannel] = {}
    if settings.smtp_host and settings.smtp_from:
        channels["email"] = SmtpChannel(settings.smtp_host, settings.smtp_port, settings.smtp_from)
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from:
        channels["sms"] = TwilioSmsChannel(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            base_url=settings.twilio_base_url or None,
            status_callback=settings.public_url.rstrip("/") + "/webhooks/twilio/status",
        )
    if settings.webhook_secret:
        channels["webhook"] = WebhookChannel(settings.webhook_secret)
    if engine is not None and push_public_key(settings):
        channels["push"] = WebPushChannel(
            settings.vapid_private_key,
            settings.vapid_subject,
            SqlPushSubscriptions(engine).keys_for,
        )
    return channels


@lru_cache(maxsize=8)
def push_public_key(settings: Settings) -> str | None:
    """The VAPID public key browsers subscribe with; None when push is not configured
    (it needs the private key and the subject). ValueError when the private key does not
    load, the subject is not a contact, or `vapid_public_key` is not the key's public half."""
    if not (settings.vapid_private_key and settings.vapid_subject):
        return None
    vapid = load_vapid(settings.vapid_private_key)
    check_subject(vapid, settings.vapid_subject)
    derived = public_key(vapid)
    if settings.vapid_public_key and settings.vapid_public_key.strip() != derived:
        raise ValueError("WISMO_VAPID_PUBLIC_KEY does not match WISMO_VAPID_PRIVATE_KEY")
    return derived


def make_relay(
    w: Wismo,
    *,
    worker: str = "relay",
    channels: dict[str, NotificationChannel] | None = None,
    batch_size: int = 100,
    lease_seconds: float = 60.0,
) -> Relay:
    """A relay over this Wismo's outbox; `channels` defaults to the configured ones."""
    tokens = unsubscribe_tokens(w)

    def link_for(n: Claimed) -> str:
        # A signed link opens the order directly; it outlives the parcel's journey. Its
        # expiry comes from the notification, not the clock, so a resend after a crash is
        # the same text (the SMS channel's lookup matches on it).
        return w.links.sign_order_link(n.store_id, n.order_id, n.created_at + timedelta(days=60))

    def unsubscribe_for(n: Claimed) -> str:
        return f"/notifications/unsubscribe?t={tokens.sign(n.store_id, n.id)}"

    return Relay(
        SqlRelayStore(w.engine),
        channels if channels is not None else notification_channels(w.settings, w.engine),
        TemplateRenderer(w.settings.public_url, link_for, unsubscribe_for),
        w.clock,
        worker=worker,
        batch_size=batch_size,
        lease_seconds=lease_seconds,
    )


# -- the order-status agent (docs/agent.md) ---------------------------------------------


class ChannelCodeSender:
    """`CodeSender` over the notification channels: a one-time code by email (SMTP) or SMS
    (Twilio), whichever the contact on file is. A channel not configured raises, and the
    agent then asks for the order number instead."""

    TEXTS: ClassVar[dict[str, tuple[str, str]]] = {
        "en": ("Your verification code", "Your verification code is {code}. It expires in 10"
               " minutes. If you did not ask for it, you can ignore this message."),
        "es": ("Tu código de verificación", "Tu código de verificación es {code}. Caduca en"
               " 10 minutos. Si no lo has pedido, ignora este mensaje."),
    }  # fmt: skip

    def __init__(self, channels: dict[str, NotificationChannel]) -> None:
        self._channels = channels

    def send_code(
        self, store_id: int, channel: str, address: str, code: str, language: str
    ) -> None:
        sender = self._channels.get(channel)
        if sender is None:
            raise LookupError(f"no {channel} channel configured for one-time codes")
        subject, text = self.TEXTS.get(language[:2], self.TEXTS["en"])
        key = hashlib.sha256(f"{store_id}:{address}:{code}".encode()).hexdigest()[:32]
        sender.send(Message(f"otp:{key}", channel, address, subject, text.format(code=code)))


def configured_code_sender(settings: Settings) -> ChannelCodeSender | None:
    """Codes go out through email and SMS as configured; None when neither is."""
    channels = {k: v for k, v in notification_channels(settings).items() if k in ("email", "sms")}
    return ChannelCodeSender(channels) if channels else None


def make_agent(
    w: Wismo,
    *,
    help_desk: HelpDesk | None = None,
    code_sender: CodeSender | None = None,
    language_model: LanguageModel | None = None,
) -> Agent:
    """The agent over this Wismo's database. Defaults: the Zendesk-compatible help desk
    when `WISMO_HELPDESK_URL` is set, else Wismo's own queue (handoffs wait in the
    `conversation_handoffs` table, nothing is lost); codes by email/SMS as configured (none:
    the agent asks for order number and contact instead); the language model only when
    `WISMO_LLM_BASE_URL` is set."""
    s = w.settings
    if help_desk is None:
        help_desk = (
            ZendeskHelpDesk(s.helpdesk_url, s.helpdesk_email, s.helpdesk_token)
            if s.helpdesk_url
            else QueueHelpDesk()
        )
    if code_sender is None:
        code_sender = configured_code_sender(s)
    if language_model is None and s.llm_base_url:
        language_model = OpenAiCompatibleModel(
            s.llm_base_url,
            s.llm_model,
            s.llm_api_key or None,
            timeout_seconds=s.llm_timeout_seconds,
        )
    return Agent(
        SqlConversationStore(w.engine),
        SqlOrderDirectory(w.engine, w.status),
        help_desk,
        code_sender,
        w.clock,
        language_model=language_model,
        key_for=link_keys(w.engine, s.link_secret),
    )
