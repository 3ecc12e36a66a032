from app.models.event import EVENT_STATUSES, DeliveryAttempt, Event
from app.models.idempotency_key import IdempotencyKey
from app.models.payment import OPEN_SQL, Payment, PaymentStatusHistory
from app.models.provider_record import ProviderRecord
from app.models.refund import Refund
from app.models.webhook_event import WebhookEvent

__all__ = [
    "EVENT_STATUSES",
    "OPEN_SQL",
    "DeliveryAttempt",
    "Event",
    "IdempotencyKey",
    "Payment",
    "PaymentStatusHistory",
    "ProviderRecord",
    "Refund",
    "WebhookEvent",
]
