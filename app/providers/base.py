"""The provider interface: the only thing services know about Stripe or Ping++.

Adapters turn their SDK's objects and errors into these neutral types at the boundary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.core import money
from app.core.ids import ID_BODY_PATTERN
from app.core.money import AmountOutOfRange
from app.core.statuses import PaymentStatus, RefundStatus

__all__ = [
    "AmountOutOfRange",
    "CreatePayment",
    "CreateRefund",
    "OperationNotSupported",
    "PaymentError",
    "PaymentProvider",
    "PaymentStatus",
    "ProviderDispute",
    "ProviderError",
    "ProviderEvent",
    "ProviderPayment",
    "ProviderRefund",
    "ProviderRejected",
    "ProviderUnavailable",
    "RefundStatus",
    "WebhookMalformed",
    "WebhookSignatureMissing",
    "WebhookVerificationFailed",
    "check_storable",
    "money",
    "our_id",
]


@dataclass(frozen=True, slots=True)
class PaymentError:
    code: str | None
    message: str | None
    decline_code: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "decline_code": self.decline_code}


@dataclass(frozen=True, slots=True)
class CreatePayment:
    """What an adapter needs to open a payment at its provider."""

    payment_id: str
    order_id: str
    amount: int
    currency: str  # ISO-4217, upper case
    method: str
    description: str | None = None
    customer_email: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    return_url: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """A provider's payment object (PaymentIntent, Checkout Session, charge), neutral."""

    reference: str
    status: PaymentStatus
    amount: int
    currency: str  # upper case
    livemode: bool
    payment_id: str | None  # ours, read back from the provider object's metadata
    payload: Mapping[str, Any]  # what a client needs to pay: client_secret, checkout_url, ...
    last_error: PaymentError | None
    object_type: str
    raw: Mapping[str, Any]
    amount_received: int = 0


@dataclass(frozen=True, slots=True)
class CreateRefund:
    refund_id: str
    payment_reference: str
    amount: int
    currency: str
    reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    reference: str
    status: RefundStatus
    amount: int
    currency: str
    failure_reason: str | None
    raw: Mapping[str, Any]
    refund_id: str | None = None  # ours, read back from the provider object's metadata
    payment_reference: str | None = None  # the provider payment it refunds (pi_..., ch_...)


@dataclass(frozen=True, slots=True)
class ProviderDispute:
    """A chargeback opened by the customer's bank against a payment."""

    reference: str
    payment_reference: str  # the provider payment disputed (pi_..., ch_...)
    status: str  # the provider's word: needs_response, under_review, won, lost, ...
    amount: int  # ISO minor units
    currency: str
    reason: str | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified provider notification: at most one of `payment`, `refund`, `dispute`
    is its subject; `refunds_of` asks for the refunds of a payment to be read again."""

    event_id: str
    event_type: str
    created_at: datetime
    object_id: str | None
    payment: ProviderPayment | None  # the object's state at the time of the event
    raw: Mapping[str, Any]
    refund: ProviderRefund | None = None
    # The payment an event concerns when its object is neither (a charge): a hint to refresh.
    payment_reference: str | None = None
    dispute: ProviderDispute | None = None
    refunds_of: str | None = None
    livemode: bool = False


# One rule for the ids a provider sends us (events, objects): what Stripe and Ping++ use,
# and what fits the columns that keep them; anything else is a malformed event.
PROVIDER_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,128}")
# Deeper than any real event; JSON nested 100,000 deep would exhaust the recursion limit.
MAX_EVENT_DEPTH = 64
_OUR_ID = re.compile(rf"[a-z]{{2,4}}_{ID_BODY_PATTERN}")


def our_id(value: object) -> str | None:
    """An id of ours read back from a provider object's metadata, or None."""
    return value if isinstance(value, str) and _OUR_ID.fullmatch(value) else None


def check_storable(value: object, depth: int = 0) -> None:
    """ValueError unless `value` (decoded JSON) can be kept as it is: no NUL, no lone
    surrogate (PostgreSQL's JSONB takes neither), at most MAX_EVENT_DEPTH deep."""
    if depth > MAX_EVENT_DEPTH:
        raise ValueError(f"nested more than {MAX_EVENT_DEPTH} deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a string holds a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds a lone surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, depth + 1)
            check_storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_storable(item, depth + 1)


class ProviderError(Exception):
    def __init__(self, message: str, *, provider: str) -> None:
        self.message = message
        self.provider = provider
        super().__init__(message)


class ProviderUnavailable(ProviderError):
    """The outcome is unknown: 5xx, timeout, connection failure, rate limit, a refused or
    restricted API key, an answer we cannot read. Nothing may be failed on this; retry
    with the same key, or leave it to the janitor."""

    def __init__(self, message: str, *, provider: str, code: str | None = None) -> None:
        super().__init__(message, provider=provider)
        self.code = code


class ProviderRejected(ProviderError):
    """Proof that the operation was not done and never will be: a declined card, an
    amount or state the provider refused. Only this may fail a payment or a refund."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        decline_code: str | None = None,
        http_status: int | None = None,
        payment: ProviderPayment | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.code = code
        self.decline_code = decline_code
        self.http_status = http_status
        self.payment = payment


class OperationNotSupported(ProviderError):
    """This adapter cannot do that (yet)."""


class WebhookVerificationFailed(ProviderError):
    """A forged, stale or malformed signature; nothing from the body may be trusted."""


class WebhookSignatureMissing(WebhookVerificationFailed):
    pass


class WebhookMalformed(ProviderError):
    """The signature checked out but the body is not an event we can read."""


class PaymentProvider(Protocol):
    name: str
    # Whether this deployment's credentials are live ones: an event from the other mode is
    # kept and acknowledged, never applied.
    livemode: bool
    # What `CreatePayment.method` may be (`payment_intent`, `alipay_qr`, ...).
    methods: frozenset[str]

    def check_amount(self, amount: int, currency: str, *, refund: bool = False) -> None:
        """Raise AmountOutOfRange unless the provider can charge this amount (a refund: can
        write it at all). Pure, no call: a request is refused before anything is stored."""
        ...

    async def create_payment(
        self, request: CreatePayment, idempotency_key: str
    ) -> ProviderPayment: ...

    async def retrieve_payment(self, reference: str) -> ProviderPayment: ...

    async def cancel_payment(
        self, reference: str, idempotency_key: str, *, abandoned: bool = False
    ) -> ProviderPayment: ...

    async def refund(self, request: CreateRefund, idempotency_key: str) -> ProviderRefund: ...

    async def retrieve_refund(self, reference: str) -> ProviderRefund: ...

    async def list_refunds(self, payment_reference: str) -> Sequence[ProviderRefund]: ...

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> ProviderEvent: ...

    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        """An event from a payload verified earlier (the inbox keeps it)."""
        ...

    async def aclose(self) -> None: ...
