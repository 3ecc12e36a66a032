from app.models.idempotency_key import IdempotencyKey
from app.models.outbox import OUTBOX_STATUSES, DeliveryAttempt, OutboxEvent
from app.models.payment import (
    PAYMENT_STATUSES,
    TERMINAL_STATUSES,
    Payment,
    PaymentStatusHistory,
)
from app.models.provider_record import ProviderRecord
from app.models.refund import REFUND_STATUSES, Refund
from app.models.webhook_event import WebhookEvent

__all__ = [
    "OUTBOX_STATUSES",
    "PAYMENT_STATUSES",
    "REFUND_STATUSES",
    "TERMINAL_STATUSES",
    "DeliveryAttempt",
    "IdempotencyKey",
    "OutboxEvent",
    "Payment",
    "PaymentStatusHistory",
    "ProviderRecord",
    "Refund",
    "WebhookEvent",
]
