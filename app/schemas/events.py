from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal[
    "payment.created",
    "payment.requires_action",
    "payment.processing",
    "payment.succeeded",
    "payment.failed",
    "payment.canceled",
    "payment.expired",
    "refund.created",
    "refund.succeeded",
    "refund.failed",
]


class DeliveryAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    attempted_at: datetime
    status_code: int | None = Field(description="the order service's answer; null: no answer")
    latency_ms: int
    error: str | None


class EventRead(BaseModel):
    id: str
    type: EventType
    created_at: datetime
    payment_id: str
    refund_id: str | None
    data: dict[str, Any] = Field(description="the payment or refund as the API shows it")
    delivery_status: Literal["pending", "delivered", "dead"]
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[DeliveryAttemptRead]


class EventList(BaseModel):
    data: list[EventRead]
    has_more: bool
    next_cursor: str | None
