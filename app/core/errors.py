"""The AppError tree. Each error has a stable `code`; the API renders it as problem+json."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        payment_channel: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.payment_channel = payment_channel
        self.extra = extra or {}
        super().__init__(self.detail)


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "A valid API key is required"


class InvalidClientToken(AppError):
    status = 401
    code = "invalid_client_token"
    title = "A valid X-Client-Token is required for this payment"


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "No such payment"


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"
    title = "The request failed validation"


class UnknownPaymentChannel(ValidationFailed):
    code = "unknown_payment_channel"
    title = "Unknown payment channel"


class PaymentChannelNotEnabled(ValidationFailed):
    code = "payment_channel_not_enabled"
    title = "This payment channel is not enabled"


class UnknownCurrency(ValidationFailed):
    code = "unknown_currency"
    title = "Unknown currency"


class AmountNotRepresentable(ValidationFailed):
    code = "amount_not_representable"
    title = "The payment provider cannot charge this amount in this currency"


class AmountBelowMinimum(ValidationFailed):
    code = "amount_below_minimum"
    title = "The amount is below the payment provider's minimum for this currency"


class AmountAboveMaximum(ValidationFailed):
    code = "amount_above_maximum"
    title = "The amount is above the payment provider's maximum for this currency"


class CurrencyNotSupported(ValidationFailed):
    code = "currency_not_supported"
    title = "The payment channel does not accept this currency"


class MalformedBody(AppError):
    status = 400
    code = "malformed_body"
    title = "A JSON body must be UTF-8 text, without a byte order mark or NUL bytes"


class RequestTooLarge(AppError):
    status = 413
    code = "request_too_large"
    title = "The request body is too large"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "The request conflicts with the current state"


class PaymentProcessing(Conflict):
    code = "payment_processing"
    title = "The order's open payment is processing and cannot be replaced"
    retryable = True


class PaymentNotCancelable(Conflict):
    code = "payment_not_cancelable"
    title = "The payment can no longer be canceled"


class PaymentAlreadySucceeded(Conflict):
    code = "payment_already_succeeded"
    title = "The payment has succeeded; refund it instead"


class OrderAlreadyPaid(Conflict):
    code = "order_already_paid"
    title = "The order already has a successful payment"


class ConcurrentUpdate(Conflict):
    code = "concurrent_update"
    title = "Another request changed this order's payment at the same time; retry"
    retryable = True


class DatabaseUnavailable(AppError):
    status = 503
    code = "database_unavailable"
    title = "The database cannot be reached; retry shortly"
    retryable = True


class ProviderUnavailableError(AppError):
    status = 503
    code = "provider_unavailable"
    title = "The payment provider is unavailable; retry later"
    retryable = True


class ProviderRejectedError(AppError):
    status = 502
    code = "provider_rejected"
    title = "The payment provider rejected the request"


class CardDeclined(AppError):
    status = 402
    code = "card_declined"
    title = "The card was declined"


class WebhookSignatureMissing(AppError):
    status = 400
    code = "webhook_signature_missing"
    title = "The webhook signature header is missing"


class WebhookSignatureInvalid(AppError):
    status = 401
    code = "webhook_signature_invalid"
    title = "The webhook signature is invalid or too old"


class WebhookNotConfigured(AppError):
    status = 404
    code = "webhook_not_configured"
    title = "No webhook secret is configured for this provider"


class WebhookPayloadInvalid(AppError):
    status = 400
    code = "webhook_payload_invalid"
    title = "The webhook body is not a valid event"


class RefundNotFound(NotFound):
    code = "refund_not_found"
    title = "No such refund"


class PaymentNotRefundable(Conflict):
    code = "payment_not_refundable"
    title = "Only a succeeded payment can be refunded"


class RefundExceedsCaptured(Conflict):
    code = "refund_exceeds_captured"
    title = "The refund is larger than what remains of the payment"


class IdempotencyKeyReused(AppError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was already used for a different request"


class IdempotencyRequestInProgress(Conflict):
    code = "idempotency_request_in_progress"
    title = "A request with this Idempotency-Key is still in progress; retry shortly"
    retryable = True


class EventNotFound(NotFound):
    code = "event_not_found"
    title = "No such event"
