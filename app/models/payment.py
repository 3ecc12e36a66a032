from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow
from app.core.statuses import (
    TERMINAL_PAYMENT_STATUSES,
    PaymentStatus,
    RefundState,
    sql_in,
)

_TERMINAL_SQL = sql_in(TERMINAL_PAYMENT_STATUSES)
OPEN_SQL = f"status NOT IN ({_TERMINAL_SQL})"


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_channel: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Reserved by refunds the provider has not settled yet; counts against what remains.
    amount_refund_pending: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The part of the pending reservations a refund made at the provider directly (its
    # dashboard) took the room of: the provider will refuse that much of them.
    amount_refund_overbooked: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refund_status: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    description: Mapped[str | None] = mapped_column(Text)
    customer_email: Mapped[str | None] = mapped_column(String(320))
    metadata_: Mapped[dict[str, str]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    return_url: Mapped[str | None] = mapped_column(Text)
    # What a provider needs to open (and re-open under the same key) its object: the
    # customer's IP and the channel's extra fields (Ping++).
    client_ip: Mapped[str | None] = mapped_column(String(64))
    provider_extra: Mapped[dict[str, str]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    payment_payload: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    provider_reference: Mapped[str | None] = mapped_column(String(255), unique=True)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # When the last applied provider read began (database clock). A read that began
    # earlier may carry an older state and must not overwrite a newer one.
    provider_observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # sha256 hex digests of the client tokens handed out for this payment (the newest
    # few): the browser's capability to read it, never stored in the clear.
    client_token_digests: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    # The order's first successful payment, when this one succeeded too.
    duplicate_of: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("payments.id", ondelete="RESTRICT")
    )
    dispute: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # An open payment lapses then: the janitor cancels it at the provider (`expired`).
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The janitor's schedule for this open payment (NULL once terminal): checks back off
    # with its age and with the number of checks that found nothing new.
    next_reconcile_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reconcile_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "amount_refunded >= 0 AND amount_refund_pending >= 0 "
            "AND amount_refund_overbooked >= 0 "
            "AND amount_refund_overbooked <= amount_refund_pending "
            "AND amount_refunded + amount_refund_pending - amount_refund_overbooked <= amount",
            name="refund_cap",
        ),
        CheckConstraint(f"status IN ({sql_in(PaymentStatus)})", name="status_known"),
        CheckConstraint(f"refund_status IN ({sql_in(RefundState)})", name="refund_status_known"),
        CheckConstraint("duplicate_of IS NULL OR status = 'succeeded'", name="duplicate_succeeded"),
        # One open payment per order: a concurrent second create loses on this index.
        Index("uq_payments_open_order", "order_id", unique=True, postgresql_where=text(OPEN_SQL)),
        # One charge per order: a second success is recorded only as a duplicate of the first.
        Index(
            "uq_payments_paid_order",
            "order_id",
            unique=True,
            postgresql_where=text("status = 'succeeded' AND duplicate_of IS NULL"),
        ),
        Index("ix_payments_order_id_id", "order_id", "id"),
        Index("ix_payments_status_updated_at", "status", "updated_at"),
        # The janitor's queue: never-checked payments first, then by when they are due.
        Index(
            "ix_payments_reconcile_due",
            "reconcile_attempts",
            "next_reconcile_at",
            postgresql_where=text(OPEN_SQL),
        ),
    )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_PAYMENT_STATUSES

    @property
    def amount_refundable(self) -> int:
        return self.amount - self.amount_refunded - self.amount_refund_pending


class PaymentStatusHistory(Base):
    __tablename__ = "payment_status_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    provider_event_id: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
