"""Stripe objects and errors -> the provider-neutral types of `app.providers.base`.

Pure functions: they take an SDK object or the plain dict of one (a webhook body) and
never call Stripe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import httpx
import stripe

from app.providers.base import (
    ObjectReader,
    PaymentError,
    PaymentStatus,
    ProviderDispute,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    RefundStatus,
    money,
    optional_id,
    our_id,
)

PROVIDER: Final = "stripe"

PAYMENT_INTENT_STATUSES: Final[Mapping[str, PaymentStatus]] = {
    "requires_payment_method": PaymentStatus.REQUIRES_PAYMENT_METHOD,
    # Only reachable with confirmation_method=manual, which we never use; the customer
    # still has to act, so it is the same as waiting for a payment method.
    "requires_confirmation": PaymentStatus.REQUIRES_PAYMENT_METHOD,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PROCESSING,
    # We never create manual-capture intents; if one appears the money is not ours yet.
    "requires_capture": PaymentStatus.PROCESSING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELED,
}

REFUND_STATUSES: Final[Mapping[str, RefundStatus]] = {
    "pending": RefundStatus.PENDING,
    # Some payment methods need the customer to supply bank details before the refund
    # can be paid out; for us that is still an outstanding refund.
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}

# Answers that do not prove a request was refused: a key problem, a timeout, a conflict
# with a concurrent request under the same key, a rate limit.
_UNKNOWN_OUTCOME_STATUSES: Final = frozenset({401, 403, 408, 409, 429})

_SECRET_PATTERN: Final = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9_]+|\bwhsec_[^\s,]+")


class StripeObjectUnreadable(ProviderUnavailable):
    """Stripe answered with an object we cannot interpret (an unknown status, a missing field)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, provider=PROVIDER)


_read = ObjectReader("Stripe", StripeObjectUnreadable)


def to_plain_dict(obj: stripe.StripeObject | Mapping[str, Any]) -> dict[str, Any]:
    """A recursive plain-dict copy of an SDK object or mapping."""
    if isinstance(obj, Mapping):
        return {key: _plain_value(value) for key, value in obj.items()}
    # `to_dict` appeared in stripe 8 (recursive by default since 12); older objects only
    # have the private `_to_dict_recursive`.
    for method_name in ("to_dict", "to_dict_recursive", "_to_dict_recursive"):
        method = getattr(obj, method_name, None)
        if callable(method):
            converted = method()
            if isinstance(converted, Mapping):
                return {key: _plain_value(value) for key, value in converted.items()}
    raise StripeObjectUnreadable(f"cannot convert {type(obj).__name__} to a dict")


def _plain_value(value: Any) -> Any:
    if isinstance(value, stripe.StripeObject | Mapping):
        return to_plain_dict(value)
    if isinstance(value, list | tuple):
        return [_plain_value(item) for item in value]
    return value


def stripe_units(currency: str) -> money.ProviderUnits:
    """Stripe's column of the currency table; CurrencyNotSupported where it has none."""
    entry = money.CURRENCIES.get(currency.upper())
    if entry is None or entry.stripe is None:
        raise money.CurrencyNotSupported(f"Stripe does not take {currency.upper()}")
    return entry.stripe


def check_amount(amount: int, currency: str, *, refund: bool = False) -> None:
    units = stripe_units(currency)
    if refund:
        money.to_provider_units(amount, currency.upper(), units)
    else:
        money.check_chargeable(amount, currency.upper(), units)


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our ISO minor units in Stripe's: ISK 500 -> 50000, MGA 500 -> 5."""
    return money.to_provider_units(amount, currency.upper(), stripe_units(currency))


def from_stripe_amount(value: int, currency: str) -> int:
    """Stripe's units in ISO minor units; an amount with no exact image is unreadable."""
    try:
        return money.from_provider_units(value, currency.upper(), stripe_units(currency))
    except money.AmountOutOfRange as error:
        raise StripeObjectUnreadable(f"Stripe amount {value} {currency}: {error}") from None


def payment_status(stripe_status: object) -> PaymentStatus:
    if not isinstance(stripe_status, str) or stripe_status not in PAYMENT_INTENT_STATUSES:
        raise StripeObjectUnreadable(f"unknown PaymentIntent status {stripe_status!r}")
    return PAYMENT_INTENT_STATUSES[stripe_status]


def payment_from_payment_intent(
    payment_intent: stripe.PaymentIntent | Mapping[str, Any], *, publishable_key: str
) -> ProviderPayment:
    raw = to_plain_dict(payment_intent)
    if raw.get("object", "payment_intent") != "payment_intent":
        raise StripeObjectUnreadable(f"expected a payment_intent, got {raw.get('object')!r}")
    metadata = raw.get("metadata") or {}
    currency = _read.string(raw, "currency").upper()
    return ProviderPayment(
        reference=_read.identifier(raw, "id"),
        status=payment_status(raw.get("status")),
        amount=from_stripe_amount(_read.integer(raw, "amount"), currency),
        currency=currency,
        livemode=bool(raw.get("livemode", False)),
        payment_id=our_id(metadata.get("payment_id")),
        payload={
            "client_secret": raw.get("client_secret"),
            "publishable_key": publishable_key,
        },
        last_error=payment_error(raw.get("last_payment_error")),
        object_type="payment_intent",
        raw=raw,
        amount_received=from_stripe_amount(_optional_int(raw.get("amount_received")), currency),
    )


def payment_error(last_payment_error: object) -> PaymentError | None:
    if not isinstance(last_payment_error, Mapping | stripe.StripeObject):
        return None
    error = to_plain_dict(last_payment_error)
    return PaymentError(
        # `type` (card_error, ...) is always present while `code` is not.
        code=_optional_str(error.get("code")) or _optional_str(error.get("type")),
        message=_optional_str(error.get("message")),
        decline_code=_optional_str(error.get("decline_code")),
    )


def refund_from_stripe(refund: stripe.Refund | Mapping[str, Any]) -> ProviderRefund:
    raw = to_plain_dict(refund)
    stripe_status = raw.get("status")
    if not isinstance(stripe_status, str) or stripe_status not in REFUND_STATUSES:
        raise StripeObjectUnreadable(f"unknown Refund status {stripe_status!r}")
    currency = _read.string(raw, "currency").upper()
    return ProviderRefund(
        reference=_read.identifier(raw, "id"),
        status=REFUND_STATUSES[stripe_status],
        amount=from_stripe_amount(_read.integer(raw, "amount"), currency),
        currency=currency,
        failure_reason=_optional_str(raw.get("failure_reason")),
        raw=raw,
        refund_id=our_id((raw.get("metadata") or {}).get("refund_id")),
        payment_reference=optional_id(raw.get("payment_intent")) or optional_id(raw.get("charge")),
    )


def dispute_from_stripe(dispute: stripe.Dispute | Mapping[str, Any]) -> ProviderDispute:
    raw = to_plain_dict(dispute)
    currency = _read.string(raw, "currency").upper()
    payment_reference = optional_id(raw.get("payment_intent")) or _read.identifier(raw, "charge")
    return ProviderDispute(
        reference=_read.identifier(raw, "id"),
        payment_reference=payment_reference,
        status=_read.string(raw, "status"),
        amount=from_stripe_amount(_read.integer(raw, "amount"), currency),
        currency=currency,
        reason=_optional_str(raw.get("reason")),
        raw=raw,
    )


def ensure_matches(payment: ProviderPayment, amount: int, currency: str) -> None:
    """Refuse a provider object whose amount or currency is not what we asked for."""
    if payment.amount != amount or payment.currency.upper() != currency.upper():
        raise ProviderRejected(
            f"Stripe echoed {payment.amount} {payment.currency} for {payment.reference}, "
            f"expected {amount} {currency.upper()}",
            provider=PROVIDER,
            code="amount_mismatch",
            payment=payment,
        )


def provider_error_from_exception(
    error: Exception, *, publishable_key: str
) -> ProviderError | None:
    """The neutral error for an exception raised by a Stripe call; None if it is not one."""
    if isinstance(error, stripe.CardError):
        return ProviderRejected(
            _message(error, "the card was declined"),
            provider=PROVIDER,
            code=error.code or "card_declined",
            decline_code=_optional_str(_error_body(error).get("decline_code")),
            http_status=error.http_status or 402,
            payment=_payment_in_error(error, publishable_key),
        )
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        # A rotated, revoked or restricted key says nothing about the operation itself:
        # it may well have been done under the previous key. Stripe's own message quotes
        # (part of) the key, so it is not passed on.
        return ProviderUnavailable(
            "Stripe refused the configured API key",
            provider=PROVIDER,
            code=error.code or _default_code(error),
        )
    if isinstance(error, stripe.RateLimitError):
        return ProviderUnavailable(
            _message(error, "rate limited by Stripe"), provider=PROVIDER, code="rate_limited"
        )
    if isinstance(error, stripe.IdempotencyError):
        # Our key was first used with other parameters: whatever that first request did
        # stands, so nothing here proves the operation was not done.
        return ProviderUnavailable(
            _message(error, "Stripe refused the idempotency key"),
            provider=PROVIDER,
            code="idempotency_error",
        )
    if isinstance(error, stripe.InvalidRequestError):
        return ProviderRejected(
            _message(error, "Stripe rejected the request"),
            provider=PROVIDER,
            code=error.code or _error_type(error) or _default_code(error),
            http_status=error.http_status,
            payment=_payment_in_error(error, publishable_key),
        )
    if isinstance(error, stripe.APIConnectionError | stripe.APIError):
        return ProviderUnavailable(_message(error, "Stripe is unavailable"), provider=PROVIDER)
    if isinstance(error, stripe.StripeError):
        status = error.http_status
        if status is not None and 400 <= status < 500 and status not in _UNKNOWN_OUTCOME_STATUSES:
            return ProviderRejected(
                _message(error, "Stripe rejected the request"),
                provider=PROVIDER,
                code=error.code or _error_type(error),
                http_status=status,
            )
        return ProviderUnavailable(_message(error, "Stripe is unavailable"), provider=PROVIDER)
    if isinstance(error, httpx.HTTPError | TimeoutError | ConnectionError):
        return ProviderUnavailable(
            f"network error talking to Stripe ({type(error).__name__})", provider=PROVIDER
        )
    return None


def redact(text: str) -> str:
    return _SECRET_PATTERN.sub("[redacted]", text)


def _message(error: stripe.StripeError, fallback: str) -> str:
    text = error.user_message
    return redact(text) if isinstance(text, str) and text else fallback


def _error_body(error: stripe.StripeError) -> dict[str, Any]:
    return to_plain_dict(error.error) if error.error is not None else {}


def _error_type(error: stripe.StripeError) -> str | None:
    return _optional_str(_error_body(error).get("type"))


def _default_code(error: stripe.StripeError) -> str:
    if isinstance(error, stripe.AuthenticationError):
        return "authentication_failed"
    if isinstance(error, stripe.PermissionError):
        return "permission_denied"
    return "invalid_request"


def _payment_in_error(error: stripe.StripeError, publishable_key: str) -> ProviderPayment | None:
    payment_intent = _error_body(error).get("payment_intent")
    if not isinstance(payment_intent, Mapping):
        return None
    try:
        return payment_from_payment_intent(payment_intent, publishable_key=publishable_key)
    except StripeObjectUnreadable:
        return None


def _optional_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
