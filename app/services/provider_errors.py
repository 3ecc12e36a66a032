"""Provider errors stay apart from API errors until this boundary, where each becomes the
problem the caller sees. What an answer proves was decided by the adapter already:
ProviderRejected (not done, never will be) or ProviderUnavailable (outcome unknown)."""

from __future__ import annotations

from app.core import errors
from app.core.money import (
    AmountAboveMaximum,
    AmountBelowMinimum,
    AmountOutOfRange,
    CurrencyNotSupported,
)
from app.providers.base import ProviderRejected, ProviderUnavailable


def provider_error(exc: ProviderUnavailable | ProviderRejected, channel: str) -> errors.AppError:
    if isinstance(exc, ProviderUnavailable):
        extra = {"provider_code": exc.code} if exc.code else {}
        return errors.ProviderUnavailableError(payment_channel=channel, extra=extra)
    extra = {"provider_code": exc.code} if exc.code else {}
    if exc.code == "card_declined" or exc.decline_code:
        return errors.CardDeclined(
            exc.message, payment_channel=channel, extra={**extra, "decline_code": exc.decline_code}
        )
    return errors.ProviderRejectedError(exc.message, payment_channel=channel, extra=extra)


def amount_error(exc: AmountOutOfRange, channel: str) -> errors.AppError:
    """422 before anything is stored or sent: the provider could not take this amount."""
    extra = {
        key: value
        for key, value in (("amount_minimum", exc.minimum), ("amount_maximum", exc.maximum))
        if value is not None
    }
    error_type: type[errors.AppError]
    if isinstance(exc, AmountBelowMinimum):
        error_type = errors.AmountBelowMinimum
    elif isinstance(exc, AmountAboveMaximum):
        error_type = errors.AmountAboveMaximum
    elif isinstance(exc, CurrencyNotSupported):
        error_type = errors.CurrencyNotSupported
    else:
        error_type = errors.AmountNotRepresentable
    return error_type(str(exc), payment_channel=channel, extra=extra)
