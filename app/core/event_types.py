"""What we tell the order service: every event type, declared once."""

from __future__ import annotations

from app.core.statuses import PaymentStatus, RefundStatus

PAYMENT_CREATED = "payment.created"
PAYMENT_STATUS_EVENTS: dict[PaymentStatus, str] = {
    # Back to the customer after a declined attempt or a failed 3-D Secure challenge.
    PaymentStatus.REQUIRES_PAYMENT_METHOD: "payment.failed",
    PaymentStatus.REQUIRES_ACTION: "payment.requires_action",
    PaymentStatus.PROCESSING: "payment.processing",
    PaymentStatus.SUCCEEDED: "payment.succeeded",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.CANCELED: "payment.canceled",
    PaymentStatus.EXPIRED: "payment.expired",
}
# Not status changes: a second success of a paid order, a chargeback opened or closed.
PAYMENT_DUPLICATE_DETECTED = "payment.duplicate_detected"
PAYMENT_DISPUTED = "payment.disputed"
REFUND_STATUS_EVENTS: dict[RefundStatus, str] = {
    RefundStatus.PENDING: "refund.created",
    RefundStatus.SUCCEEDED: "refund.succeeded",
    RefundStatus.FAILED: "refund.failed",
    RefundStatus.CANCELED: "refund.failed",
}

EVENT_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            PAYMENT_CREATED,
            *PAYMENT_STATUS_EVENTS.values(),
            PAYMENT_DUPLICATE_DETECTED,
            PAYMENT_DISPUTED,
            *REFUND_STATUS_EVENTS.values(),
        )
    )
)
