from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.event_types import EVENT_TYPES

if TYPE_CHECKING:
    EventType = str
else:
    EventType = Literal[EVENT_TYPES]


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
