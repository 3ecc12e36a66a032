from app.models.payment import (
    PAYMENT_STATUSES,
    TERMINAL_STATUSES,
    Payment,
    PaymentStatusHistory,
)
from app.models.provider_record import ProviderRecord
from app.models.webhook_event import WebhookEvent

__all__ = [
    "PAYMENT_STATUSES",
    "TERMINAL_STATUSES",
    "Payment",
    "PaymentStatusHistory",
    "ProviderRecord",
    "WebhookEvent",
]
