"""Database tables (SQLAlchemy Core). Alembic migrations under `migrations/` create them;
a test checks the two agree.

Instants are stored in UTC (`UTCDateTime`); the zone an event happened in is kept in a
`*_tz` column beside it. Money is stored in minor units (cents) with its currency.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from wismo.storage.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (auto-increment); BigInteger
# would not be. PostgreSQL gets a BIGINT identity either way.
Id = BigInteger().with_variant(Integer(), "sqlite")

stores = Table(
    "stores",
    metadata,
    Column("id", Id, primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The tracking page's look: logo URL, colours, custom domain, support links (issue 5).
    Column("branding", JSON),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("secret_hash", String(128), nullable=False),
    Column("scope", String(16), nullable=False),  # read | write
    Column("label", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("name", String(400)),
    Column("emails", JSON, nullable=False),
    Column("phones", JSON, nullable=False),
    Column("language", String(35)),
    Column("time_zone", String(64)),
    Column("consent", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("store_id", "external_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("order_number", String(100), nullable=False),
    Column("customer_id", ForeignKey("customers.id")),
    Column("customer_external_id", String(200)),
    Column("email", String(320)),  # lower-cased
    Column("phone", String(20)),  # E.164
    Column("postal_code", String(20)),  # normalised: upper case, no spaces
    Column("shipping_address", JSON),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger),
    Column("stage", String(32), nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("promised_from_on", Date),
    Column("promised_to_on", Date),
    Column("cancelled_at", UTCDateTime),
    Column("cancel_reason", Text),
    Column("source_updated_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("store_id", "order_number"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("line_ref", String(100), nullable=False),
    Column("sku", String(100)),
    Column("title", String(500), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", BigInteger),
    Column("image_url", Text),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("shipment_ref", String(200), nullable=False),
    Column("carrier", String(64), nullable=False),
    Column("service_level", String(100)),
    Column("tracking_number", String(64)),
    Column("origin_region", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    # The state machine's state (wismo.domain.status.ShipmentState), kept current.
    Column("milestone", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("status_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("last_event_at", UTCDateTime),
    Column("last_event_tz", String(64)),
    Column("last_location", String(300)),
    Column("last_description", Text),
    Column("carrier_eta_at", UTCDateTime),
    Column("carrier_eta_set_at", UTCDateTime),
    Column("event_count", Integer, nullable=False),
    # Carrier polling (wismo.ingestion.carriers): when to ask next, and how fresh we are.
    Column("next_poll_at", UTCDateTime),
    Column("refreshed_at", UTCDateTime),  # last successful fetch or push from the carrier
    Column("poll_failures", Integer, nullable=False, server_default="0"),
    Column("last_poll_error", Text),
    # When the sweeper must look at the shipment again (time-based checks, a re-forecast
    # after a new scan); NULL when nothing can happen to it any more.
    Column("next_check_at", UTCDateTime),
    Column("handed_over_at", UTCDateTime),  # first carrier scan after the label
    # First scan at the facility that delivers it (`domain.arrival`), as the sweeper saw it.
    Column("arrived_at", UTCDateTime),
    # Wismo's own forecast (window at `predicted_confidence`), as of `predicted_at`.
    Column("predicted_from_on", Date),
    Column("predicted_on", Date),
    Column("predicted_to_on", Date),
    Column("predicted_confidence", Float),
    Column("predicted_basis", String(32)),
    Column("predicted_at", UTCDateTime),
    # The carrier's estimate as last reviewed, so a change is found even without a scan.
    Column("carrier_eta_seen_on", Date),
    # The date shown to the customer (by the configured rule): the first, and the latest.
    Column("first_estimate_on", Date),
    Column("first_estimate_source", String(24)),
    Column("estimate_on", Date),
    Column("estimate_source", String(24)),
    Column("open_findings", JSON),  # codes found at the last check, still current
    UniqueConstraint("store_id", "shipment_ref"),
    Index("ix_shipments_tracking", "store_id", "tracking_number"),
    Index("ix_shipments_next_poll", "next_poll_at"),
    Index("ix_shipments_next_check", "next_check_at"),
    Index("ix_shipments_store_delivered", "store_id", "delivered_at"),
)

shipment_lines = Table(
    "shipment_lines",
    metadata,
    Column("shipment_id", ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True),
    Column("line_ref", String(100), primary_key=True),
    Column("quantity", Integer, nullable=False),
)

tracking_events = Table(
    "tracking_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shipment_id", ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(200), nullable=False),
    Column("milestone", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("raw_code", String(64)),
    Column("mapped_by", String(16), nullable=False, server_default="source"),
    Column("description", Text),
    Column("location", JSON),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("occurred_tz", String(64)),
    Column("estimated_delivery_at", UTCDateTime),
    Column("source", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("shipment_id", "fingerprint", name="uq_tracking_events_scan"),
)

# What Wismo found out about a shipment on its own: exceptions and estimate revisions.
# Each row is one occurrence (`key`), so two sweepers can never record the same one twice.
shipment_timeline = Table(
    "shipment_timeline",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("shipment_id", ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),  # exception | estimate_revised
    Column("code", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("key", String(200), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    UniqueConstraint("shipment_id", "key", name="uq_shipment_timeline_key"),
    Index("ix_shipment_timeline_order", "order_id", "id"),
    Index("ix_shipment_timeline_store", "store_id", "id"),
)

returns = Table(
    "returns",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("return_ref", String(200), nullable=False),
    Column("state", String(32), nullable=False),
    Column("reason", Text),
    Column("lines", JSON, nullable=False),
    Column("carrier", String(64)),
    Column("tracking_number", String(64)),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("order_id", "return_ref"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("refund_ref", String(200), nullable=False),
    Column("return_ref", String(200)),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("processed_at", UTCDateTime),
    Column("expected_by_on", Date),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("order_id", "refund_ref"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("source", String(64), nullable=False),
    # NULL for payloads that could not be parsed: they are kept but never deduplicated.
    Column("event_id", String(200)),
    # Which parser reads the body ("canonical", "shopify:orders/create", "carrier:ups", ...).
    Column("format", String(100), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # received|processed|parked|dead
    Column("waiting_for", String(300)),
    Column("error", JSON),
    Column("attempts", Integer, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),
    UniqueConstraint("store_id", "source", "event_id", name="uq_inbox_dedup"),
    Index("ix_inbox_waiting", "store_id", "waiting_for"),
    Index("ix_inbox_status", "status", "id"),
)

integrations = Table(
    "integrations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    # "shopify", "easypost", "aftership", "shippo", "carrier:ups", ...
    Column("provider", String(64), nullable=False),
    # Whose account: the shop domain, the aggregator account, the carrier account number.
    Column("account", String(200), nullable=False),
    # Webhook signing secret; needed in clear to compute HMACs. Never logged.
    Column("secret", Text),
    Column("credentials", JSON, nullable=False),  # API credentials for pulling
    Column("settings", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("provider", "account", name="uq_integrations_provider_account"),
)

unmapped_codes = Table(
    "unmapped_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("carrier", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("message", Text),  # the latest message seen with the code
    Column("count", BigInteger, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("carrier", "code", name="uq_unmapped_codes_carrier_code"),
)

# Outbound messages (docs/notifications.md): written in the same transaction as the change
# that caused them, sent later by the relay. The idempotency key makes planning the same
# fact twice (a replayed batch, a second sweeper) a no-op and is what providers are given.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("shipment_id", ForeignKey("shipments.id", ondelete="CASCADE")),
    Column("customer_id", ForeignKey("customers.id")),
    Column("trigger", String(40), nullable=False),
    Column("channel", String(16), nullable=False),  # email | sms | webhook
    Column("recipient", String(2000), nullable=False),  # lower-cased email, E.164, URL
    Column("language", String(35), nullable=False),
    Column("template", String(64), nullable=False),
    Column("payload", JSON, nullable=False),  # the facts the message is rendered from
    Column("idempotency_key", String(300), nullable=False, unique=True),
    # pending|held|sending|sent|failed|suppressed|cancelled
    Column("status", String(16), nullable=False),
    Column("not_before", UTCDateTime),  # quiet hours: held until then
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("claimed_by", String(100)),
    Column("provider_message_id", String(200)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_notifications_due", "status", "next_attempt_at"),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "notification_id",
        ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempt", Integer, nullable=False),
    Column("worker", String(100)),
    Column("outcome", String(16), nullable=False),  # sent | retry | failed | superseded
    Column("provider_status", String(64)),  # HTTP status, SMTP code, provider state
    Column("provider_message_id", String(200)),
    Column("detail", Text),  # the provider's answer, trimmed
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
)

# SMS STOP and email unsubscribes: honoured for every order of the store at once.
channel_optouts = Table(
    "channel_optouts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(320), nullable=False),
    Column("source", String(32), nullable=False),  # sms_stop | unsubscribe | bounce
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("store_id", "channel", "address", name="uq_channel_optouts_address"),
)

# A browser's Web Push subscription, made on one order's tracking page (RFC 8030/8291):
# the endpoint is the push service's URL for that browser, p256dh and auth its keys.
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", ForeignKey("customers.id")),
    Column("endpoint", String(2000), nullable=False),
    Column("p256dh", String(200), nullable=False),
    Column("auth", String(100), nullable=False),
    Column("language", String(35)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    UniqueConstraint("order_id", "endpoint", name="uq_push_subscriptions_order_endpoint"),
)

# -- the order-status agent (docs/agent.md) ----------------------------------------------
# A conversation's public id is a random token (its owner's only credential); the client
# (IP, caller phone) is kept as a keyed hash, for lockouts, never in clear.
conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("public_id", String(64), nullable=False, unique=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("client_hash", String(64)),
    Column("customer_id", ForeignKey("customers.id")),
    Column("order_id", ForeignKey("orders.id", ondelete="SET NULL")),
    Column("level", String(16), nullable=False),  # anonymous | identified | verified
    Column("method", String(16)),  # postal_code | email | phone | otp | link
    Column("language", String(35), nullable=False),
    Column("state", JSON, nullable=False),  # wismo.conversation.dialogue.State
    Column("status", String(16), nullable=False),  # open | handed_over | closed
    Column("turn_count", Integer, nullable=False),
    Column("prior_contacts", Integer, nullable=False),  # repeat contacts about the order
    Column("ticket_provider", String(64)),
    Column("ticket_id", String(200)),
    Column("ticket_url", Text),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_conversations_order", "order_id", "started_at"),
    Index("ix_conversations_store", "store_id", "started_at"),
)

conversation_turns = Table(
    "conversation_turns",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),  # customer | agent
    Column("text", Text, nullable=False),  # as written: for the help desk only
    Column("redacted", Text, nullable=False),  # contacts and numbers masked: logs, the API
    Column("intent", String(64)),
    Column("confidence", Float),
    Column("grounded", Boolean),
    Column("violations", JSON),
    Column("latency_ms", Float),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_conversation_turns_seq"),
)

# One-time codes: only a hash is kept; 10 minutes, 3 tries.
verification_codes = Table(
    "verification_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("code_hash", String(128), nullable=False),
    Column("channel", String(16), nullable=False),  # email | sms
    Column("address", String(320), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Failed verifications, one row per (scope, key): scope conversation | client | order; the
# key is a keyed hash. Counted over a window to lock out guessing.
verification_failures = Table(
    "verification_failures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Index("ix_verification_failures_key", "store_id", "scope", "key_hash", "failed_at"),
)

# Every handoff, with its summary: sent (a ticket exists), queued (Wismo's own queue: no
# help desk configured) or pending (the help desk failed; retried).
conversation_handoffs = Table(
    "conversation_handoffs",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("payload", JSON, nullable=False),  # the Handoff, as sent to the help desk
    Column("status", String(16), nullable=False),  # sent | queued | pending
    Column("attempts", Integer, nullable=False),
    Column("ticket_provider", String(64)),
    Column("ticket_id", String(200)),
    Column("ticket_url", Text),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_conversation_handoffs_status", "status", "id"),
)

# A contact given at the start of a chat is looked up among the store's orders.
Index("ix_orders_store_email", orders.c.store_id, orders.c.email)
Index("ix_orders_store_phone", orders.c.store_id, orders.c.phone)

ALL_TABLES = (
    stores,
    api_keys,
    customers,
    orders,
    order_lines,
    shipments,
    shipment_lines,
    tracking_events,
    shipment_timeline,
    returns,
    refunds,
    inbox,
    integrations,
    unmapped_codes,
    notifications,
    notification_attempts,
    channel_optouts,
    push_subscriptions,
    conversations,
    conversation_turns,
    verification_codes,
    verification_failures,
    conversation_handoffs,
)
