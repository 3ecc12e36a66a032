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
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow

PAYMENT_STATUSES = (
    "requires_payment_method",
    "requires_action",
    "processing",
    "succeeded",
    "failed",
    "canceled",
    "expired",
)
TERMINAL_STATUSES = ("succeeded", "failed", "canceled", "expired")
_TERMINAL_SQL = ", ".join(f"'{s}'" for s in TERMINAL_STATUSES)
_STATUS_SQL = ", ".join(f"'{s}'" for s in PAYMENT_STATUSES)


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
    refund_status: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    description: Mapped[str | None] = mapped_column(Text)
    customer_email: Mapped[str | None] = mapped_column(String(320))
    metadata_: Mapped[dict[str, str]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    return_url: Mapped[str | None] = mapped_column(Text)
    payment_payload: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    provider_reference: Mapped[str | None] = mapped_column(String(255), unique=True)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # When the last applied provider read began (database clock). A read that began
    # earlier may carry an older state and must not overwrite a newer one.
    provider_observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A capability for one payment's public view, handed to the browser; compared in constant time.
    client_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "amount_refunded >= 0 AND amount_refund_pending >= 0 "
            "AND amount_refunded + amount_refund_pending <= amount",
            name="refund_cap",
        ),
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status_known"),
        CheckConstraint("refund_status IN ('none', 'partial', 'full')", name="refund_status_known"),
        # One open payment per order: a concurrent second create loses on this index.
        Index(
            "uq_payments_open_order",
            "order_id",
            unique=True,
            postgresql_where=text(f"status NOT IN ({_TERMINAL_SQL})"),
        ),
        Index("ix_payments_order_id_id", "order_id", "id"),
        Index("ix_payments_status_updated_at", "status", "updated_at"),
    )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


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
