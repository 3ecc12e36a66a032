from __future__ import annotations

import httpx
import pytest
import stripe

from app.providers.base import PaymentStatus, ProviderRejected, ProviderUnavailable
from app.providers.stripe.transformers import provider_error_from_exception

from .support import PUBLISHABLE_KEY, SECRET_KEY, payment_intent_fixture, stripe_error_body


def _translate(error: Exception) -> object:
    return provider_error_from_exception(error, publishable_key=PUBLISHABLE_KEY)


class TestCardError:
    def test_declined_card_with_payment_intent(self) -> None:
        body = stripe_error_body(
            "card_error",
            "Your card was declined.",
            code="card_declined",
            decline_code="generic_decline",
            payment_intent=payment_intent_fixture(
                last_payment_error={"type": "card_error", "code": "card_declined"}
            ),
        )
        error = stripe.CardError(
            "Your card was declined.", None, "card_declined", None, 402, body, {}
        )

        translated = _translate(error)

        assert isinstance(translated, ProviderRejected)
        assert translated.provider == "stripe"
        assert translated.code == "card_declined"
        assert translated.decline_code == "generic_decline"
        assert translated.http_status == 402
        assert translated.payment is not None
        assert translated.payment.reference == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
        assert translated.payment.status is PaymentStatus.REQUIRES_PAYMENT_METHOD
        assert translated.payment.last_error is not None
        assert translated.payment.last_error.code == "card_declined"

    def test_without_code_or_body(self) -> None:
        translated = _translate(stripe.CardError("declined", None, None))
        assert isinstance(translated, ProviderRejected)
        assert translated.code == "card_declined"
        assert translated.decline_code is None
        assert translated.http_status == 402
        assert translated.payment is None


class TestRejected:
    def test_invalid_request_keeps_code_and_status(self) -> None:
        body = stripe_error_body(
            "invalid_request_error", "No such payment_intent: 'pi_x'", code="resource_missing"
        )
        error = stripe.InvalidRequestError(
            "No such payment_intent: 'pi_x'", "intent", "resource_missing", None, 404, body, {}
        )
        translated = _translate(error)
        assert isinstance(translated, ProviderRejected)
        assert translated.code == "resource_missing"
        assert translated.http_status == 404
        assert translated.payment is None

    def test_unexpected_state_carries_the_payment_intent(self) -> None:
        body = stripe_error_body(
            "invalid_request_error",
            "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            code="payment_intent_unexpected_state",
            payment_intent=payment_intent_fixture(status="succeeded"),
        )
        error = stripe.InvalidRequestError(
            "cannot cancel", None, "payment_intent_unexpected_state", None, 400, body, {}
        )
        translated = _translate(error)
        assert isinstance(translated, ProviderRejected)
        assert translated.code == "payment_intent_unexpected_state"
        assert translated.payment is not None
        assert translated.payment.status is PaymentStatus.SUCCEEDED

    def test_keys_in_other_messages_are_redacted(self) -> None:
        error = stripe.InvalidRequestError(f"bad key {SECRET_KEY} and whsec_abc", None)
        translated = _translate(error)
        assert isinstance(translated, ProviderRejected)
        assert SECRET_KEY not in translated.message
        assert "whsec_abc" not in translated.message


class TestOutcomeUnknown:
    """Answers that prove nothing about the operation: never a reason to fail it."""

    def test_idempotency_error(self) -> None:
        body = stripe_error_body("idempotency_error", "Keys for idempotent requests ...")
        error = stripe.IdempotencyError("Keys for idempotent requests ...", None, 400, body, {})
        translated = _translate(error)
        assert isinstance(translated, ProviderUnavailable)
        assert translated.code == "idempotency_error"

    def test_permission_error(self) -> None:
        """A restricted key may lack this permission now and have had it before."""
        translated = _translate(stripe.PermissionError("no", None, 403))
        assert isinstance(translated, ProviderUnavailable)
        assert translated.code == "permission_denied"

    def test_authentication_error_never_repeats_the_key(self) -> None:
        """A rotated key: the operation may well have been done under the previous one."""
        message = f"Invalid API Key provided: {SECRET_KEY}"
        translated = _translate(stripe.AuthenticationError(message, None, 401))
        assert isinstance(translated, ProviderUnavailable)
        assert translated.code == "authentication_failed"
        assert SECRET_KEY not in str(translated)
        assert SECRET_KEY not in translated.message

    @pytest.mark.parametrize("status", [401, 403, 408, 409, 429])
    def test_generic_errors_with_an_unknown_outcome(self, status: int) -> None:
        translated = _translate(stripe.StripeError("odd", None, status))
        assert isinstance(translated, ProviderUnavailable)

    def test_a_generic_client_error_is_a_refusal(self) -> None:
        translated = _translate(stripe.StripeError("odd", None, 400))
        assert isinstance(translated, ProviderRejected)


class TestUnavailable:
    @pytest.mark.parametrize(
        "error",
        [
            stripe.RateLimitError("Too many requests", None, 429),
            stripe.APIConnectionError("Network error: ConnectTimeout", should_retry=True),
            stripe.APIError("Something went wrong", None, 500),
            stripe.APIError("Conflict", None, 409),
            stripe.StripeError("odd", None, 503),
            httpx.ReadTimeout("timed out"),
            httpx.ConnectError("refused"),
            TimeoutError(),
            ConnectionResetError(),
        ],
        ids=lambda error: type(error).__name__,
    )
    def test_maps_to_unavailable(self, error: Exception) -> None:
        translated = _translate(error)
        assert isinstance(translated, ProviderUnavailable)
        assert translated.provider == "stripe"

    def test_rate_limit_is_not_a_rejection_even_as_400(self) -> None:
        body = stripe_error_body("invalid_request_error", "slow down", code="rate_limit")
        translated = _translate(stripe.RateLimitError("slow down", None, 400, body, {}))
        assert isinstance(translated, ProviderUnavailable)


class TestNotOurs:
    def test_other_exceptions_are_left_alone(self) -> None:
        assert _translate(KeyError("x")) is None
        assert _translate(ValueError("x")) is None
