from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.statuses import RefundStatus
from app.schemas.payments import Amount, StrictModel

RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
if TYPE_CHECKING:
    RefundStatusName = str
else:
    RefundStatusName = Literal[tuple(status.value for status in RefundStatus)]


class RefundCreate(StrictModel):
    amount: Amount | None = Field(
        default=None, description="minor units; omitted: all that remains refundable"
    )
    reason: RefundReason | None = None


class RefundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    payment_id: str
    amount: int
    currency: str
    reason: str | None
    status: RefundStatusName
    provider_reference: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class RefundList(BaseModel):
    data: list[RefundRead]
