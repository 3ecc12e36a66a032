"""The status sets of payments and refunds, declared once: the database CHECKs, the API
schemas and the transition table are all derived from these."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


TERMINAL_PAYMENT_STATUSES: frozenset[PaymentStatus] = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED, PaymentStatus.EXPIRED}
)
OPEN_PAYMENT_STATUSES: frozenset[PaymentStatus] = (
    frozenset(PaymentStatus) - TERMINAL_PAYMENT_STATUSES
)


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundState(StrEnum):
    """A payment's `refund_status`."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


def sql_in(values: frozenset[StrEnum] | type[StrEnum]) -> str:
    """`'a', 'b'` in declaration order, for CHECK constraints and partial indexes."""
    members = list(values) if isinstance(values, type) else sorted(values, key=_order)
    return ", ".join(f"'{member.value}'" for member in members)


def _order(member: StrEnum) -> int:
    return list(type(member)).index(member)
