"""the order-status agent: conversations, turns, one-time codes, failed verifications,
handoffs; orders looked up by contact

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wismo.storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_INSTANT = UTCDateTime()


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("client_hash", sa.String(length=64), nullable=True),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("turn_count", sa.Integer(), nullable=False),
        sa.Column("prior_contacts", sa.Integer(), nullable=False),
        sa.Column("ticket_provider", sa.String(length=64), nullable=True),
        sa.Column("ticket_id", sa.String(length=200), nullable=True),
        sa.Column("ticket_url", sa.Text(), nullable=True),
        sa.Column("started_at", _INSTANT, nullable=False),
        sa.Column("updated_at", _INSTANT, nullable=False),
        _fk("conversations", "store_id", "stores"),
        _fk("conversations", "customer_id", "customers"),
        _fk("conversations", "order_id", "orders", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("public_id", name=op.f("uq_conversations_public_id")),
    )
    op.create_index("ix_conversations_order", "conversations", ["order_id", "started_at"])
    op.create_index("ix_conversations_store", "conversations", ["store_id", "started_at"])
    op.create_table(
        "conversation_turns",
        sa.Column("id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("redacted", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("grounded", sa.Boolean(), nullable=True),
        sa.Column("violations", sa.JSON(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("created_at", _INSTANT, nullable=False),
        _fk("conversation_turns", "conversation_id", "conversations", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_turns")),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_conversation_turns_seq"),
    )
    op.create_table(
        "verification_codes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("expires_at", _INSTANT, nullable=False),
        _fk("verification_codes", "conversation_id", "conversations", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
    )
    op.create_index(
        op.f("ix_verification_codes_conversation_id"), "verification_codes", ["conversation_id"]
    )
    op.create_table(
        "verification_failures",
        sa.Column("id", _ID, nullable=False),
        sa.Column("store_id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", _INSTANT, nullable=False),
        _fk("verification_failures", "store_id", "stores"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_failures")),
    )
    op.create_index(
        "ix_verification_failures_key",
        "verification_failures",
        ["store_id", "scope", "key_hash", "failed_at"],
    )
    op.create_table(
        "conversation_handoffs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("store_id", _ID, nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ticket_provider", sa.String(length=64), nullable=True),
        sa.Column("ticket_id", sa.String(length=200), nullable=True),
        sa.Column("ticket_url", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("updated_at", _INSTANT, nullable=False),
        _fk("conversation_handoffs", "conversation_id", "conversations", ondelete="CASCADE"),
        _fk("conversation_handoffs", "store_id", "stores"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_handoffs")),
    )
    op.create_index(
        op.f("ix_conversation_handoffs_conversation_id"),
        "conversation_handoffs",
        ["conversation_id"],
    )
    op.create_index("ix_conversation_handoffs_status", "conversation_handoffs", ["status", "id"])
    op.create_index("ix_orders_store_email", "orders", ["store_id", "email"])
    op.create_index("ix_orders_store_phone", "orders", ["store_id", "phone"])


def downgrade() -> None:
    op.drop_index("ix_orders_store_phone", table_name="orders")
    op.drop_index("ix_orders_store_email", table_name="orders")
    op.drop_table("conversation_handoffs")
    op.drop_table("verification_failures")
    op.drop_table("verification_codes")
    op.drop_table("conversation_turns")
    op.drop_table("conversations")
