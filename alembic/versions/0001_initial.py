"""payments, status history, provider records, webhook inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_channel", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refund_status", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("customer_email", sa.String(length=320), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column(
            "payment_payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("last_error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("provider_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "refund_status IN ('none', 'partial', 'full')",
            name=op.f("ck_payments_refund_status_known"),
        ),
        sa.CheckConstraint(
            "status IN ('requires_payment_method', 'requires_action', 'processing', "
            "'succeeded', 'failed', 'canceled', 'expired')",
            name=op.f("ck_payments_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "amount_refunded >= 0 AND amount_refunded <= amount",
            name=op.f("ck_payments_refund_cap"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("provider_reference", name=op.f("uq_payments_provider_reference")),
    )
    op.create_index("ix_payments_order_id_id", "payments", ["order_id", "id"], unique=False)
    op.create_index(
        "ix_payments_status_updated_at", "payments", ["status", "updated_at"], unique=False
    )
    op.create_index(
        "uq_payments_open_order",
        "payments",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("status NOT IN ('succeeded', 'failed', 'canceled', 'expired')"),
    )
    op.create_table(
        "payment_status_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "payment_id",
            sa.String(length=40),
            sa.ForeignKey(
                "payments.id",
                name=op.f("fk_payment_status_history_payment_id_payments"),
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("provider_event_id", sa.String(length=255), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_status_history")),
    )
    op.create_index(
        op.f("ix_payment_status_history_payment_id"),
        "payment_status_history",
        ["payment_id"],
        unique=False,
    )
    op.create_table(
        "provider_records",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_records")),
        sa.UniqueConstraint(
            "provider", "object_id", name=op.f("uq_provider_records_provider_object_id")
        ),
    )
    op.create_index(
        op.f("ix_provider_records_payment_id"), "provider_records", ["payment_id"], unique=False
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("provider_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_webhook_events_provider_event_id")
        ),
    )
    op.create_index(
        op.f("ix_webhook_events_payment_id"), "webhook_events", ["payment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_status_history_payment_id"), table_name="payment_status_history")
    op.drop_table("payment_status_history")
    op.drop_index(op.f("ix_webhook_events_payment_id"), table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index(op.f("ix_provider_records_payment_id"), table_name="provider_records")
    op.drop_table("provider_records")
    op.drop_index(
        "uq_payments_open_order",
        table_name="payments",
        postgresql_where=sa.text("status NOT IN ('succeeded', 'failed', 'canceled', 'expired')"),
    )
    op.drop_index("ix_payments_status_updated_at", table_name="payments")
    op.drop_index("ix_payments_order_id_id", table_name="payments")
    op.drop_table("payments")
