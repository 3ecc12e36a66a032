"""The payment resources of the API contract (`shared/API.md`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    StringConstraints,
)

from app.core.money import MAX_AMOUNT, is_known_currency
from app.core.statuses import PaymentStatus, RefundState

if TYPE_CHECKING:
    PaymentStatusName = str
    RefundStateName = str
else:
    # Derived from the one declaration of each set.
    PaymentStatusName = Literal[tuple(status.value for status in PaymentStatus)]
    RefundStateName = Literal[tuple(state.value for state in RefundState)]


def _currency(value: str) -> str:
    # ASCII letters only: str.upper() turns the long s and the dotless i into S and I,
    # so "u\u017fd" would become USD.
    if not (value.isascii() and value.isalpha()):
        raise ValueError(f"{value!r} is not an ISO-4217 currency code")
    code = value.upper()
    if not is_known_currency(code):
        raise ValueError(f"unknown ISO-4217 currency {value!r}")
    return code


def _metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 40:
        raise ValueError("at most 40 metadata keys")
    for key, item in value.items():
        if not key or len(key) > 40 or key.startswith("payments_"):
            raise ValueError(f"metadata key {key!r}: 1-40 characters, not starting with payments_")
        if len(item) > 500:
            raise ValueError(f"metadata value for {key!r} is longer than 500 characters")
    return value


Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency)]
Amount = Annotated[
    StrictInt,
    Field(
        gt=0,
        le=MAX_AMOUNT,
        description="integer, ISO-4217 minor units; each channel's own limits apply too",
    ),
]
Metadata = Annotated[dict[str, str], AfterValidator(_metadata)]
Url = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PaymentCreate(StrictModel):
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    amount: Amount
    currency: Currency = Field(description="ISO-4217, e.g. USD, JPY")
    payment_channel: str | None = Field(
        default=None,
        max_length=64,
        description="`stripe`, `stripe:checkout_session`, `pingxx:alipay_qr`, ...; "
        "default from settings",
    )
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    customer_email: EmailStr | None = None
    metadata: Metadata = Field(default_factory=dict)
    return_url: Url | None = None


class PaymentError(BaseModel):
    code: str | None
    message: str | None
    decline_code: str | None = None


class PaymentDispute(BaseModel):
    id: str
    status: str = Field(description="the provider's: needs_response, under_review, won, lost...")
    amount: int
    currency: str
    reason: str | None


class PaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    amount: int
    currency: str
    payment_channel: str
    method: str
    status: PaymentStatusName
    amount_refunded: int = Field(description="settled refunds, minor units")
    amount_refund_pending: int = Field(description="refunds the provider has not settled yet")
    refund_status: RefundStateName
    description: str | None
    customer_email: str | None
    metadata: dict[str, str] = Field(validation_alias="metadata_")
    livemode: bool
    payment_payload: dict[str, Any]
    provider_reference: str | None
    last_error: PaymentError | None
    duplicate_of: str | None = Field(
        description="the order's first successful payment, when this one succeeded too"
    )
    dispute: PaymentDispute | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime = Field(description="an open payment lapses then (`expired`)")


class PaymentCreated(PaymentRead):
    client_token: str = Field(
        description="Give this to the browser: it reads this payment at /v1/public/payments/{id}. "
        "Only this answer carries it; asking again for the same open payment gives a new one"
    )


class PaymentList(BaseModel):
    data: list[PaymentRead]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `starting_after` for the next page")


class PaymentStatusChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    source: str
    provider_event_id: str | None
    created_at: datetime


class PaymentDetail(BaseModel):
    payment: PaymentRead
    provider_object: dict[str, Any] | None = Field(
        description="the provider's object for this payment (a Stripe PaymentIntent)"
    )
    provider_object_refreshed: bool
    status_history: list[PaymentStatusChange]


class PublicPayment(BaseModel):
    """What a checkout page may know about one payment."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: PaymentStatusName
    amount: int
    currency: str
    payment_channel: str
    method: str
    payment_payload: dict[str, Any]
    last_error: PaymentError | None
    return_url: str | None


class PublicConfig(BaseModel):
    publishable_key: str | None
    enabled_channels: list[str]
    default_channel: str
    livemode: bool
