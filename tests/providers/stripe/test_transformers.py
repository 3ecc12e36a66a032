from __future__ import annotations

import typing

import pytest
import stripe

from app.providers.base import PaymentError, PaymentStatus, ProviderRejected
from app.providers.stripe.transformers import (
    PAYMENT_INTENT_STATUSES,
    REFUND_STATUSES,
    StripeObjectUnreadable,
    ensure_matches,
    payment_from_payment_intent,
    refund_from_stripe,
    to_plain_dict,
)

from .support import PUBLISHABLE_KEY, payment_intent_fixture, refund_fixture


def _sdk_literals(annotation: object) -> set[str]:
    literals: set[str] = set()
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            literals.update(typing.get_args(arg))
    return literals


class TestPaymentIntentStatusMap:
    def test_covers_every_status_the_sdk_declares(self) -> None:
        declared = _sdk_literals(stripe.PaymentIntent.__annotations__["status"])
        assert declared, "stripe.PaymentIntent.status is no longer a Literal union"
        assert declared == set(PAYMENT_INTENT_STATUSES)

    @pytest.mark.parametrize(
        ("stripe_status", "expected"),
        [
            ("requires_payment_method", PaymentStatus.REQUIRES_PAYMENT_METHOD),
            ("requires_confirmation", PaymentStatus.REQUIRES_PAYMENT_METHOD),
            ("requires_action", PaymentStatus.REQUIRES_ACTION),
            ("processing", PaymentStatus.PROCESSING),
            ("requires_capture", PaymentStatus.PROCESSING),
            ("succeeded", PaymentStatus.SUCCEEDED),
            ("canceled", PaymentStatus.CANCELED),
        ],
    )
    def test_maps(self, stripe_status: str, expected: PaymentStatus) -> None:
        payment = payment_from_payment_intent(
            payment_intent_fixture(status=stripe_status), publishable_key=PUBLISHABLE_KEY
        )
        assert payment.status is expected

    def test_unknown_status_is_unreadable(self) -> None:
        with pytest.raises(StripeObjectUnreadable, match="requires_magic"):
            payment_from_payment_intent(
                payment_intent_fixture(status="requires_magic"), publishable_key=PUBLISHABLE_KEY
            )


class TestPaymentFromPaymentIntent:
    def test_fixture_dict(self) -> None:
        source = payment_intent_fixture()
        payment = payment_from_payment_intent(source, publishable_key=PUBLISHABLE_KEY)

        assert payment.reference == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
        assert payment.status is PaymentStatus.REQUIRES_PAYMENT_METHOD
        assert payment.amount == 1099
        assert payment.currency == "USD"
        assert payment.livemode is False
        assert payment.payment_id == "pay_01m8sva1cet3z4x9k2d7w5q8rb"
        assert payment.object_type == "payment_intent"
        assert payment.amount_received == 0
        assert payment.payload == {
            "client_secret": source["client_secret"],
            "publishable_key": PUBLISHABLE_KEY,
        }
        # The fixture's last_payment_error carries only a type.
        assert payment.last_error == PaymentError(code="idempotency_error", message=None)
        assert payment.raw == source
        assert payment.raw is not source

    def test_sdk_object_gives_the_same_result_and_a_plain_raw(self) -> None:
        source = payment_intent_fixture()
        sdk_object = stripe.PaymentIntent.construct_from(source, "sk_test_unused")

        from_sdk = payment_from_payment_intent(sdk_object, publishable_key=PUBLISHABLE_KEY)
        from_dict = payment_from_payment_intent(source, publishable_key=PUBLISHABLE_KEY)

        assert from_sdk == from_dict
        assert type(from_sdk.raw) is dict
        assert type(from_sdk.raw["metadata"]) is dict
        assert type(from_sdk.raw["transfer_data"]["destination"]) is dict

    def test_declined_attempt(self) -> None:
        payment = payment_from_payment_intent(
            payment_intent_fixture(
                last_payment_error={
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                }
            ),
            publishable_key=PUBLISHABLE_KEY,
        )
        assert payment.last_error == PaymentError(
            code="card_declined",
            message="Your card has insufficient funds.",
            decline_code="insufficient_funds",
        )

    def test_succeeded(self) -> None:
        payment = payment_from_payment_intent(
            payment_intent_fixture(
                status="succeeded", amount_received=1099, last_payment_error=None, currency="jpy"
            ),
            publishable_key=PUBLISHABLE_KEY,
        )
        assert payment.status is PaymentStatus.SUCCEEDED
        assert payment.amount_received == 1099
        assert payment.last_error is None
        assert payment.currency == "JPY"

    def test_without_our_metadata(self) -> None:
        payment = payment_from_payment_intent(
            payment_intent_fixture(metadata={}), publishable_key=PUBLISHABLE_KEY
        )
        assert payment.payment_id is None

    def test_wrong_object(self) -> None:
        with pytest.raises(StripeObjectUnreadable):
            payment_from_payment_intent(refund_fixture(), publishable_key=PUBLISHABLE_KEY)

    @pytest.mark.parametrize("missing", ["id", "amount", "currency"])
    def test_missing_field(self, missing: str) -> None:
        source = payment_intent_fixture()
        del source[missing]
        with pytest.raises(StripeObjectUnreadable, match=missing):
            payment_from_payment_intent(source, publishable_key=PUBLISHABLE_KEY)


class TestToPlainDict:
    def test_nested_lists_of_objects(self) -> None:
        obj = stripe.StripeObject.construct_from(
            {"items": [{"id": "a", "object": "thing"}], "inner": {"x": 1}}, "sk_test_unused"
        )
        plain = to_plain_dict(obj)
        assert plain == {"items": [{"id": "a", "object": "thing"}], "inner": {"x": 1}}
        assert type(plain["items"][0]) is dict


class TestRefundFromStripe:
    def test_fixture(self) -> None:
        refund = refund_from_stripe(refund_fixture())
        assert refund.reference == "re_1Pgc72B7WZ01zgkWqPvrRrPE"
        assert refund.status == "succeeded"
        assert refund.amount == 100
        assert refund.currency == "USD"
        assert refund.failure_reason is None

    def test_covers_every_documented_status(self) -> None:
        assert set(REFUND_STATUSES) == {
            "pending",
            "requires_action",
            "succeeded",
            "failed",
            "canceled",
        }
        assert set(REFUND_STATUSES.values()) <= {"pending", "succeeded", "failed", "canceled"}

    def test_failed(self) -> None:
        refund = refund_from_stripe(
            refund_fixture(status="failed", failure_reason="expired_or_canceled_card")
        )
        assert refund.status == "failed"
        assert refund.failure_reason == "expired_or_canceled_card"


class TestEnsureMatches:
    def test_same_amount_and_currency(self) -> None:
        payment = payment_from_payment_intent(
            payment_intent_fixture(), publishable_key=PUBLISHABLE_KEY
        )
        ensure_matches(payment, 1099, "usd")
        ensure_matches(payment, 1099, "USD")

    @pytest.mark.parametrize(("amount", "currency"), [(1098, "USD"), (1099, "EUR")])
    def test_mismatch(self, amount: int, currency: str) -> None:
        payment = payment_from_payment_intent(
            payment_intent_fixture(), publishable_key=PUBLISHABLE_KEY
        )
        with pytest.raises(ProviderRejected) as raised:
            ensure_matches(payment, amount, currency)
        assert raised.value.code == "amount_mismatch"
        assert raised.value.payment is payment
