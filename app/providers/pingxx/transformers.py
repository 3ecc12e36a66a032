"""Ping++ wire objects and errors -> the provider-neutral types of `app.providers.base`.

Pure functions over the JSON Ping++ sends; nothing here calls Ping++.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

import httpx

from app.providers.base import (
    ObjectReader,
    PaymentError,
    PaymentStatus,
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

PROVIDER: Final = "pingxx"
CURRENCY: Final = "CNY"

# What each channel needs in `extra`, and whether an unpaid charge can be closed
# (`reverse`); Alipay's wap and desktop pages can only be left to `time_expire`.
CHANNELS: Final[Mapping[str, tuple[frozenset[str], bool]]] = {
    "alipay_qr": (frozenset(), True),
    "alipay_wap": (frozenset({"success_url"}), False),
    "alipay_pc_direct": (frozenset({"success_url"}), False),
    "wx_pub_qr": (frozenset({"product_id"}), True),
    "wx_pub": (frozenset({"open_id"}), True),
    "wx_wap": (frozenset(), True),
    "wx_lite": (frozenset({"open_id"}), True),
}
# The longest a charge may stay payable, per channel family (Ping++'s `time_expire` window).
MAX_OPEN_SECONDS: Final = {"alipay": 15 * 86400, "wx": 7 * 86400}
MIN_OPEN_SECONDS: Final = 60

REFUND_STATUSES: Final[Mapping[str, RefundStatus]] = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
}


class PingxxObjectUnreadable(ProviderUnavailable):
    """Ping++ answered with an object we cannot interpret."""

    def __init__(self, message: str) -> None:
        super().__init__(message, provider=PROVIDER)


_read = ObjectReader("Ping++", PingxxObjectUnreadable)


def order_no(payment_id: str) -> str:
    """Our payment id without its prefix: 26 letters and digits, within every channel's
    rule (WeChat's are the strictest: 2 to 32 letters or digits), and the same on a retry."""
    body = payment_id.partition("_")[2]
    if not (body.isascii() and body.isalnum() and 2 <= len(body) <= 32):
        raise ValueError(f"no Ping++ order_no can be made of {payment_id!r}")
    return body


def units() -> money.ProviderUnits:
    entry = money.CURRENCIES[CURRENCY].pingxx
    assert entry is not None
    return entry


def check_amount(amount: int, currency: str, *, refund: bool = False) -> None:
    entry = money.CURRENCIES.get(currency.upper())
    provider_units = entry.pingxx if entry is not None else None
    if provider_units is None:
        raise money.CurrencyNotSupported(f"Ping++ takes only CNY, not {currency.upper()}")
    if refund:
        money.to_provider_units(amount, currency.upper(), provider_units)
    else:
        money.check_chargeable(amount, currency.upper(), provider_units)


def payment_status(charge: Mapping[str, Any], now: float | None = None) -> PaymentStatus:
    """Ping++ shows flags and times, not a status."""
    if charge.get("paid") is True:
        return PaymentStatus.SUCCEEDED
    if charge.get("reversed") is True:
        return PaymentStatus.CANCELED
    if charge.get("failure_code"):
        return PaymentStatus.FAILED
    expires = charge.get("time_expire")
    if isinstance(expires, int) and expires <= (time.time() if now is None else now):
        return PaymentStatus.EXPIRED
    return PaymentStatus.REQUIRES_PAYMENT_METHOD


def payment_from_charge(charge: Mapping[str, Any]) -> ProviderPayment:
    if charge.get("object") != "charge":
        raise PingxxObjectUnreadable(f"expected a charge, got {charge.get('object')!r}")
    reference = _read.identifier(charge, "id")
    currency = _read.string(charge, "currency").upper()
    amount = _from_units(_read.integer(charge, "amount"), currency)
    channel = _read.string(charge, "channel")
    metadata = _mapping(charge.get("metadata"))
    credential = charge.get("credential")
    payload: dict[str, Any] = {"channel": channel, "charge_id": reference}
    # Ping++ fills the credential in the create answer only; a later read carries `{}`,
    # which must not erase the one the client was given.
    if isinstance(credential, Mapping) and credential.get(channel):
        payload["credential"] = {channel: credential[channel]}
    failure = charge.get("failure_code")
    status = payment_status(charge)
    return ProviderPayment(
        reference=reference,
        status=status,
        amount=amount,
        currency=currency,
        livemode=charge.get("livemode") is True,
        payment_id=our_id(metadata.get("payment_id")),
        payload=payload,
        last_error=(
            PaymentError(code=str(failure), message=_optional_str(charge.get("failure_msg")))
            if failure
            else None
        ),
        object_type="charge",
        raw=dict(charge),
        amount_received=amount if status is PaymentStatus.SUCCEEDED else 0,
    )


def refund_from_pingxx(refund: Mapping[str, Any]) -> ProviderRefund:
    if refund.get("object") != "refund":
        raise PingxxObjectUnreadable(f"expected a refund, got {refund.get('object')!r}")
    status = refund.get("status")
    if not isinstance(status, str) or status not in REFUND_STATUSES:
        raise PingxxObjectUnreadable(f"unknown Ping++ refund status {status!r}")
    metadata = _mapping(refund.get("metadata"))
    return ProviderRefund(
        reference=_read.identifier(refund, "id"),
        status=REFUND_STATUSES[status],
        # A Ping++ refund names no currency: it is the charge's, and Ping++ charges CNY.
        amount=_from_units(_read.integer(refund, "amount"), CURRENCY),
        currency=CURRENCY,
        failure_reason=_optional_str(refund.get("failure_msg"))
        or _optional_str(refund.get("failure_code")),
        raw=dict(refund),
        refund_id=our_id(metadata.get("refund_id")),
        payment_reference=optional_id(refund.get("charge")),
    )


def error_from_response(response: httpx.Response) -> ProviderError:
    """What a non-2xx Ping++ answer proves (Ping++'s SDK picks its classes by status)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code = _optional_str(error.get("code"))
    message = _optional_str(error.get("message")) or f"Ping++ answered {response.status_code}"
    status = response.status_code
    if status == 400 and not error.get("param") and _about_the_signature(message):
        # Our request signature was refused: a key problem, not the operation's.
        return ProviderUnavailable(
            "Ping++ refused the request signature", provider=PROVIDER, code="signature_refused"
        )
    if status in (400, 402, 404):
        return ProviderRejected(
            message,
            provider=PROVIDER,
            code=code or _optional_str(error.get("type")),
            http_status=status,
        )
    if status == 401:
        return ProviderUnavailable(
            "Ping++ refused the configured secret key",
            provider=PROVIDER,
            code="authentication_failed",
        )
    # 403 (Ping++'s rate limit), 5xx, anything else: nothing is proved.
    return ProviderUnavailable(message, provider=PROVIDER, code=code)


def network_error(error: Exception) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"network error talking to Ping++ ({type(error).__name__})", provider=PROVIDER
    )


def _about_the_signature(message: str) -> bool:
    return "签名" in message or "signature" in message.lower()


def _from_units(value: int, currency: str) -> int:
    entry = money.CURRENCIES.get(currency)
    if entry is None or entry.pingxx is None:
        raise PingxxObjectUnreadable(f"Ping++ object in {currency}")
    try:
        return money.from_provider_units(value, currency, entry.pingxx)
    except money.AmountOutOfRange as error:
        raise PingxxObjectUnreadable(str(error)) from None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
