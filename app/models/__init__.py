from app.models.idempotency_key import IdempotencyKey
from app.models.outbox import OUTBOX_STATUSES, DeliveryAttempt, OutboxEvent
from app.models.payment import OPEN_SQL, Payment, PaymentStatusHistory
from app.models.provider_record import ProviderRecord
from app.models.refund import Refund
from app.models.webhook_event import WebhookEvent

__all__ = [
    "OPEN_SQL",
    "OUTBOX_STATUSES",
    "DeliveryAttempt",
    "IdempotencyKey",
    "OutboxEvent",
    "Payment",
    "PaymentStatusHistory",
    "ProviderRecord",
    "Refund",
    "WebhookEvent",
]
