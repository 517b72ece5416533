"""delivery estimates, exception findings and the sweeper's schedule

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wismo.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_INSTANT = wismo.storage.types.UTCDateTime(timezone=True)

_SHIPMENT_COLUMNS = (
    ("next_check_at", _INSTANT),
    ("handed_over_at", _INSTANT),
    ("predicted_from_on", sa.Date()),
    ("predicted_on", sa.Date()),
    ("predicted_to_on", sa.Date()),
    ("predicted_confidence", sa.Float()),
    ("predicted_basis", sa.String(length=32)),
    ("predicted_at", _INSTANT),
    ("carrier_eta_seen_on", sa.Date()),
    ("first_estimate_on", sa.Date()),
    ("first_estimate_source", sa.String(length=24)),
    ("estimate_on", sa.Date()),
    ("estimate_source", sa.String(length=24)),
    ("open_findings", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        for name, type_ in _SHIPMENT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.create_index("ix_shipments_next_check", ["next_check_at"], unique=False)
        batch.create_index(
            "ix_shipments_store_delivered", ["store_id", "delivered_at"], unique=False
        )
    # Open shipments that existed before the sweeper get checked on its first run.
    op.execute(
        "UPDATE shipments SET next_check_at = created_at"
        " WHERE milestone NOT IN ('delivered', 'returned_to_sender', 'cancelled')"
    )
    op.create_table(
        "shipment_timeline",
        sa.Column("id", _ID, nullable=False),
        sa.Column("store_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("shipment_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", _INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_shipment_timeline_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_timeline_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_shipment_timeline_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_timeline")),
        sa.UniqueConstraint("shipment_id", "key", name="uq_shipment_timeline_key"),
    )
    op.create_index("ix_shipment_timeline_order", "shipment_timeline", ["order_id", "id"])
    op.create_index("ix_shipment_timeline_store", "shipment_timeline", ["store_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_shipment_timeline_store", table_name="shipment_timeline")
    op.drop_index("ix_shipment_timeline_order", table_name="shipment_timeline")
    op.drop_table("shipment_timeline")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_index("ix_shipments_store_delivered")
        batch.drop_index("ix_shipments_next_check")
        for name, _ in reversed(_SHIPMENT_COLUMNS):
            batch.drop_column(name)
