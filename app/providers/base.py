"""The provider interface: the only thing services know about Stripe or Ping++.

Adapters turn their SDK's objects and errors into these neutral types at the boundary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from app.core import money
from app.core.ids import ID_BODY_PATTERN
from app.core.money import AmountOutOfRange
from app.core.statuses import PaymentStatus, RefundStatus

__all__ = [
    "AmountOutOfRange",
    "CreatePayment",
    "CreateRefund",
    "EventEnvelope",
    "ObjectReader",
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
    "RequestNotAccepted",
    "WebhookMalformed",
    "WebhookSignatureMissing",
    "WebhookVerificationFailed",
    "check_storable",
    "money",
    "optional_id",
    "our_id",
    "read_envelope",
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
    created_at: datetime | None = None
    client_ip: str | None = None  # the customer's, where the provider wants it (Ping++)
    extra: Mapping[str, str] = field(default_factory=dict)  # channel specifics (open_id, ...)


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
    # False when the adapter does not vouch for the snapshot (an event type it does not
    # know, a type its object contradicts): the payment's current object is read instead.
    believed: bool = True


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


@dataclass(frozen=True, slots=True)
class ObjectReader:
    """Typed reads from a provider's JSON: what is required raises `unreadable` (an
    adapter's ProviderUnavailable: an object we cannot interpret proves nothing)."""

    label: str  # "Stripe", "Ping++"
    unreadable: Callable[[str], ProviderError]

    def string(self, raw: Mapping[str, Any], key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise self.unreadable(f"{self.label} object without a string {key!r}")
        return value

    def integer(self, raw: Mapping[str, Any], key: str) -> int:
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.unreadable(f"{self.label} object without an integer {key!r}")
        return value

    def identifier(self, raw: Mapping[str, Any], key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not PROVIDER_ID.fullmatch(value):
            raise self.unreadable(f"{self.label} object without a well-formed {key!r}")
        return value


def optional_id(value: object) -> str | None:
    return value if isinstance(value, str) and PROVIDER_ID.fullmatch(value) else None


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """What every provider's event has: an id, a type, a time and the object it is about."""

    event_id: str
    event_type: str
    created_at: datetime
    obj: Mapping[str, Any]
    object_id: str | None


def read_envelope(
    event: Mapping[str, Any], *, provider: str, label: str, object_id_required: bool
) -> EventEnvelope:
    """WebhookMalformed unless `event` is `{id, object: "event", type, created, data:
    {object}}` with ids and a type of the shapes we keep."""
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    if event.get("object", "event") != "event":
        raise WebhookMalformed(f"not an event (object={event.get('object')!r})", provider=provider)
    if not isinstance(event_id, str) or not PROVIDER_ID.fullmatch(event_id):
        raise WebhookMalformed(f"{label} event without a well-formed id", provider=provider)
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
        raise WebhookMalformed(
            f"{label} event {event_id} without a well-formed type", provider=provider
        )
    if not isinstance(created, int) or isinstance(created, bool):
        raise WebhookMalformed(
            f"{label} event {event_id} without a created time", provider=provider
        )
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise WebhookMalformed(f"{label} event {event_id} without data.object", provider=provider)
    obj: Mapping[str, Any] = data["object"]
    object_id = obj.get("id")
    if (object_id is not None or object_id_required) and optional_id(object_id) is None:
        raise WebhookMalformed(
            f"{label} event {event_id}: a malformed object id", provider=provider
        )
    return EventEnvelope(
        event_id=event_id,
        event_type=event_type,
        created_at=datetime.fromtimestamp(created, tz=UTC),
        obj=obj,
        object_id=optional_id(object_id),
    )


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

    def about(self, payment: ProviderPayment | None) -> ProviderRejected:
        """The same refusal, saying what the payment is now."""
        return ProviderRejected(
            self.message,
            provider=self.provider,
            code=self.code,
            decline_code=self.decline_code,
            http_status=self.http_status,
            payment=payment,
        )


class RequestNotAccepted(ValueError):
    """A create the provider would refuse for what it lacks (Ping++'s client_ip, a WeChat
    open_id): a 422 naming `field`, before anything is stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


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

    def check_request(self, request: CreatePayment) -> None:
        """Raise RequestNotAccepted for what the provider would refuse; pure, no call."""
        ...

    async def create_payment(
        self, request: CreatePayment, idempotency_key: str
    ) -> ProviderPayment: ...

    async def retrieve_payment(self, reference: str) -> ProviderPayment: ...

    async def cancel_payment(
        self, reference: str, idempotency_key: str, *, abandoned: bool = False
    ) -> ProviderPayment: ...

    async def refund(self, request: CreateRefund, idempotency_key: str) -> ProviderRefund: ...

    async def retrieve_refund(self, reference: str, payment_reference: str) -> ProviderRefund: ...

    async def list_refunds(self, payment_reference: str) -> Sequence[ProviderRefund]: ...

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> ProviderEvent: ...

    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        """An event from a payload verified earlier (the inbox keeps it)."""
        ...

    async def aclose(self) -> None: ...
