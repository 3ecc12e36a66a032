"""refunds and idempotency keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_method", sa.String(length=8), nullable=False),
        sa.Column("request_path", sa.String(length=512), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("owner", "key", name=op.f("uq_idempotency_keys_owner_key")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_refunds_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_refunds_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("provider_reference", name=op.f("uq_refunds_provider_reference")),
    )
    op.create_index(
        "ix_refunds_payment_id_created_at", "refunds", ["payment_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_refunds_status_updated_at", "refunds", ["status", "updated_at"], unique=False
    )
    op.add_column(
        "payments",
        sa.Column("amount_refund_pending", sa.BigInteger(), server_default="0", nullable=False),
    )
    # Pending refunds count against the cap too.
    op.drop_constraint(op.f("ck_payments_refund_cap"), "payments", type_="check")
    op.create_check_constraint(
        op.f("ck_payments_refund_cap"),
        "payments",
        "amount_refunded >= 0 AND amount_refund_pending >= 0 "
        "AND amount_refunded + amount_refund_pending <= amount",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_payments_refund_cap"), "payments", type_="check")
    op.create_check_constraint(
        op.f("ck_payments_refund_cap"),
        "payments",
        "amount_refunded >= 0 AND amount_refunded <= amount",
    )
    op.drop_column("payments", "amount_refund_pending")
    op.drop_index("ix_refunds_status_updated_at", table_name="refunds")
    op.drop_index("ix_refunds_payment_id_created_at", table_name="refunds")
    op.drop_table("refunds")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
