"""money invariants: one charge per order, duplicates, disputes, expiry and the janitor's
schedule, client token digests, refund request keys, inbox retries, retention indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status NOT IN ('succeeded', 'failed', 'canceled', 'expired')"
OLD_REFUND_CAP = (
    "amount_refunded >= 0 AND amount_refund_pending >= 0 "
    "AND amount_refunded + amount_refund_pending <= amount"
)
REFUND_CAP = (
    "amount_refunded >= 0 AND amount_refund_pending >= 0 "
    "AND amount_refund_overbooked >= 0 "
    "AND amount_refund_overbooked <= amount_refund_pending "
    "AND amount_refunded + amount_refund_pending - amount_refund_overbooked <= amount"
)


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column("amount_refund_overbooked", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.drop_constraint(op.f("ck_payments_refund_cap"), "payments", type_="check")
    op.create_check_constraint(op.f("ck_payments_refund_cap"), "payments", REFUND_CAP)

    # Client tokens are kept only as sha256 digests from now on.
    op.add_column(
        "payments",
        sa.Column("client_token_digests", postgresql.ARRAY(sa.String(length=64)), nullable=True),
    )
    op.execute(
        "UPDATE payments SET client_token_digests = "
        "ARRAY[encode(sha256(convert_to(client_token, 'UTF8')), 'hex')]"
    )
    op.alter_column("payments", "client_token_digests", nullable=False)
    op.drop_column("payments", "client_token")

    # One charge per order. Orders the old code charged twice keep their first success;
    # the later ones become its duplicates (refund them by hand: nothing was reserved).
    op.add_column(
        "payments",
        sa.Column(
            "duplicate_of",
            sa.String(length=40),
            sa.ForeignKey(
                "payments.id", name=op.f("fk_payments_duplicate_of_payments"), ondelete="RESTRICT"
            ),
            nullable=True,
        ),
    )
    op.execute(
        "UPDATE payments AS later SET duplicate_of = first.id "
        "FROM (SELECT DISTINCT ON (order_id) order_id, id FROM payments "
        "WHERE status = 'succeeded' ORDER BY order_id, created_at, id) AS first "
        "WHERE later.order_id = first.order_id AND later.status = 'succeeded' "
        "AND later.id <> first.id"
    )
    op.create_check_constraint(
        op.f("ck_payments_duplicate_succeeded"),
        "payments",
        "duplicate_of IS NULL OR status = 'succeeded'",
    )
    op.create_index(
        "uq_payments_paid_order",
        "payments",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("status = 'succeeded' AND duplicate_of IS NULL"),
    )
    op.add_column("payments", sa.Column("dispute", postgresql.JSONB(), nullable=True))

    # Expiry and the janitor's per-payment schedule; every open payment is due at once.
    op.add_column("payments", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE payments SET expires_at = created_at + interval '24 hours'")
    op.alter_column("payments", "expires_at", nullable=False)
    op.add_column(
        "payments", sa.Column("next_reconcile_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "payments",
        sa.Column("reconcile_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        "UPDATE payments SET next_reconcile_at = updated_at "
        "WHERE status NOT IN ('succeeded', 'failed', 'canceled', 'expired')"
    )
    op.create_index(
        "ix_payments_reconcile_due",
        "payments",
        ["reconcile_attempts", "next_reconcile_at"],
        unique=False,
        postgresql_where=sa.text(OPEN),
    )

    op.add_column("refunds", sa.Column("request_key", sa.String(length=255), nullable=True))
    op.add_column("refunds", sa.Column("request_fingerprint", sa.String(length=64), nullable=True))

    op.add_column(
        "webhook_events",
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "webhook_events", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE webhook_events SET retry_at = now() WHERE processed_at IS NULL")
    op.create_index(
        "ix_webhook_events_retry_at",
        "webhook_events",
        ["retry_at"],
        unique=False,
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_index(
        "ix_webhook_events_received_at", "webhook_events", ["received_at"], unique=False
    )
    op.create_index("ix_outbox_events_created_at", "outbox_events", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_events_created_at", table_name="outbox_events")
    op.drop_index("ix_webhook_events_received_at", table_name="webhook_events")
    op.drop_index(
        "ix_webhook_events_retry_at",
        table_name="webhook_events",
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.drop_column("webhook_events", "retry_at")
    op.drop_column("webhook_events", "attempts")
    op.drop_column("refunds", "request_fingerprint")
    op.drop_column("refunds", "request_key")
    op.drop_index(
        "ix_payments_reconcile_due", table_name="payments", postgresql_where=sa.text(OPEN)
    )
    op.drop_column("payments", "reconcile_attempts")
    op.drop_column("payments", "next_reconcile_at")
    op.drop_column("payments", "expires_at")
    op.drop_column("payments", "dispute")
    op.drop_index(
        "uq_payments_paid_order",
        table_name="payments",
        postgresql_where=sa.text("status = 'succeeded' AND duplicate_of IS NULL"),
    )
    op.drop_constraint(op.f("ck_payments_duplicate_succeeded"), "payments", type_="check")
    op.drop_column("payments", "duplicate_of")
    # The digests cannot be turned back into tokens: every client token stops working.
    op.add_column(
        "payments",
        sa.Column("client_token", sa.String(length=64), server_default="", nullable=False),
    )
    op.alter_column("payments", "client_token", server_default=None)
    op.drop_column("payments", "client_token_digests")
    op.drop_constraint(op.f("ck_payments_refund_cap"), "payments", type_="check")
    # Overbooked reservations fold back into what the old cap can hold.
    op.execute(
        "UPDATE payments SET amount_refund_pending = amount_refund_pending - "
        "amount_refund_overbooked WHERE amount_refund_overbooked > 0"
    )
    op.create_check_constraint(op.f("ck_payments_refund_cap"), "payments", OLD_REFUND_CAP)
    op.drop_column("payments", "amount_refund_overbooked")
