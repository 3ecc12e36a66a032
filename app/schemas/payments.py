"""The payment resources of the API contract (`shared/API.md`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, IPvAnyAddress, StrictInt

from app.core.money import MAX_AMOUNT
from app.core.statuses import PaymentStatus, RefundState
from app.schemas.types import ChannelExtra, CurrencyCode, Description, Metadata, OrderId, Url

if TYPE_CHECKING:
    PaymentStatusName = str
    RefundStateName = str
else:
    # Derived from the one declaration of each set.
    PaymentStatusName = Literal[tuple(status.value for status in PaymentStatus)]
    RefundStateName = Literal[tuple(state.value for state in RefundState)]


Amount = Annotated[
    StrictInt,
    Field(
        gt=0,
        le=MAX_AMOUNT,
        description="integer, ISO-4217 minor units; each channel's own limits apply too",
    ),
]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PaymentCreate(StrictModel):
    order_id: OrderId
    amount: Amount
    currency: CurrencyCode = Field(description="ISO-4217, in capitals: USD, JPY, KWD")
    payment_channel: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z_]+(:[a-z_]+)?$",
        description="`stripe`, `stripe:checkout_session`, `pingxx:alipay_qr`, ...; "
        "default from settings",
    )
    description: Description | None = None
    customer_email: EmailStr | None = None
    metadata: Metadata = Field(default_factory=dict)
    return_url: Url | None = Field(
        default=None,
        description="where the customer returns after paying (3-D Secure, an Alipay page)",
    )
    client_ip: IPvAnyAddress | None = Field(
        default=None, description="the customer's IP address; Ping++ channels need it"
    )
    extra: ChannelExtra = Field(
        default_factory=dict,
        description="channel specifics: `open_id` for `wx_pub` and `wx_lite`, `product_id` "
        "for `wx_pub_qr` (default: the payment), `success_url` for `alipay_wap` and "
        "`alipay_pc_direct` (default: `return_url`)",
    )


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
