"""StripeProvider over real HTTP against a stub that answers with canned Stripe bodies."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.providers.base import (
    CreatePayment,
    CreateRefund,
    OperationNotSupported,
    PaymentProvider,
    PaymentStatus,
    ProviderRejected,
    ProviderUnavailable,
)
from app.providers.stripe import StripeProvider

from .support import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    RecordedRequest,
    StubStripeServer,
    payment_intent_fixture,
    refund_fixture,
    stripe_error_body,
    stripe_signature,
)


def _provider(api_base: str, *, retries: int = 0) -> StripeProvider:
    return StripeProvider(
        secret_key=SECRET_KEY,
        publishable_key=PUBLISHABLE_KEY,
        webhook_secrets=[WEBHOOK_SECRET],
        api_base=api_base,
        max_network_retries=retries,
        timeout_seconds=5,
    )


@pytest.fixture
async def provider(stub_stripe: StubStripeServer) -> AsyncIterator[StripeProvider]:
    stripe_provider = _provider(stub_stripe.base_url)
    yield stripe_provider
    await stripe_provider.aclose()


def _create_request(**overrides: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "payment_id": "pay_01m8sva1cet3z4x9k2d7w5q8rb",
        "order_id": "order_9",
        "amount": 1099,
        "currency": "USD",
        "method": "payment_intent",
        "description": "Order 9",
        "customer_email": "buyer@example.com",
        "metadata": {"cart": "c_1", "payment_id": "spoofed"},
    }
    values.update(overrides)
    return CreatePayment(**values)


class TestProtocol:
    def test_is_a_payment_provider(self, provider: StripeProvider) -> None:
        as_protocol: PaymentProvider = provider
        assert as_protocol.name == "stripe"

    def test_repr_hides_the_secret_key(self, provider: StripeProvider) -> None:
        assert SECRET_KEY not in repr(provider)

    def test_empty_secret_key_is_refused(self) -> None:
        with pytest.raises(ValueError, match="secret key"):
            StripeProvider(
                secret_key="",
                publishable_key=PUBLISHABLE_KEY,
                webhook_secrets=[WEBHOOK_SECRET],
                api_base="http://127.0.0.1:1",
            )


class TestCreatePayment:
    async def test_sends_a_payment_intent_create(
        self, provider: StripeProvider, stub_stripe: StubStripeServer
    ) -> None:
        stub_stripe.responder = lambda request: (
            200,
            payment_intent_fixture(metadata=dict(_metadata(request))),
        )

        payment = await provider.create_payment(_create_request(), "idem-create-1")

        [request] = stub_stripe.requests
        assert (request.method, request.path) == ("POST", "/v1/payment_intents")
        assert request.headers["idempotency-key"] == "idem-create-1"
        assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"
        assert request.form["amount"] == "1099"
        assert request.form["currency"] == "usd"
        assert request.form["automatic_payment_methods[enabled]"] == "true"
        assert request.form["description"] == "Order 9"
        assert request.form["receipt_email"] == "buyer@example.com"
        assert _metadata(request) == {
            "cart": "c_1",
            "payment_id": "pay_01m8sva1cet3z4x9k2d7w5q8rb",
            "order_id": "order_9",
        }
        assert payment.reference == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
        assert payment.payment_id == "pay_01m8sva1cet3z4x9k2d7w5q8rb"
        assert payment.status is PaymentStatus.REQUIRES_PAYMENT_METHOD
        assert payment.payload["publishable_key"] == PUBLISHABLE_KEY
        assert payment.payload["client_secret"].startswith("pi_1PgafyB7WZ01zgkWSjxsAJo3_secret_")

    async def test_optional_fields_are_left_out(
        self, provider: StripeProvider, stub_stripe: StubStripeServer
    ) -> None:
        stub_stripe.responder = lambda request: (200, payment_intent_fixture())
        await provider.create_payment(
            _create_request(description=None, customer_email=None, metadata={}), "k"
        )
        [request] = stub_stripe.requests
        assert "description" not in request.form
        assert "receipt_email" not in request.form

    @pytest.mark.parametrize("method", ["checkout_session", "alipay_qr"])
    async def test_other_methods_are_not_supported_yet(
        self, provider: StripeProvider, stub_stripe: StubStripeServer, method: str
    ) -> None:
        with pytest.raises(OperationNotSupported):
            await provider.create_payment(_create_request(method=method), "k")
        assert stub_stripe.requests == []

    async def test_invalid_request(
        self, provider: StripeProvider, stub_stripe: StubStripeServer
    ) -> None:
        stub_stripe.responder = lambda request: (
            400,
            stripe_error_body(
                "invalid_request_error",
                "Amount must be at least $0.50 usd",
                code="amount_too_small",
            ),
        )
        with pytest.raises(ProviderRejected) as raised:
            await provider.create_payment(_create_request(), "k")
        assert raised.value.code == "amount_too_small"
        assert raised.value.http_status == 400

    async def test_server_error_is_unavailable(
        self, provider: StripeProvider, stub_stripe: StubStripeServer
    ) -> None:
        stub_stripe.responder = lambda request: (500, stripe_error_body("api_error", "boom"))
        with pytest.raises(ProviderUnavailable):
            await provider.create_payment(_create_request(), "k")

    async def test_retries_reuse_the_idempotency_key(self, stub_stripe: StubStripeServer) -> None:
        answers = iter(
            [(500, stripe_error_body("api_error", "boom")), (200, payment_intent_fixture())]
        )
        stub_stripe.responder = lambda request: next(answers)
        stripe_provider = _provider(stub_stripe.base_url, retries=1)
        try:
            await stripe_provider.create_payment(_create_request(), "idem-retry")
        finally:
            await stripe_provider.aclose()
        assert [r.headers["idempotency-key"] for r in stub_stripe.requests] == [
            "idem-retry",
            "idem-retry",
        ]

    async def test_unreachable_stripe_is_unavailable(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        stripe_provider = _provider(f"http://127.0.0.1:{port}")
        try:
            with pytest.raises(ProviderUnavailable) as raised:
                await stripe_provider.create_payment(_create_request(), "k")
        finally:
            await stripe_provider.aclose()
        assert SECRET_KEY not in str(raised.value)


class TestRetrieveAndCancel:
    async def test_retrieve(self, provider: StripeProvider, stub_stripe: StubStripeServer) -> None:
        stub_stripe.responder = lambda request: (200, payment_intent_fixture(status="processing"))
        payment = await provider.retrieve_payment("pi_1PgafyB7WZ01zgkWSjxsAJo3")
        [request] = stub_stripe.requests
        assert (request.method, request.path) == (
            "GET",
            "/v1/payment_intents/pi_1PgafyB7WZ01zgkWSjxsAJo3",
        )
        assert payment.status is PaymentStatus.PROCESSING

    async def test_cancel(self, provider: StripeProvider, stub_stripe: StubStripeServer) -> None:
        stub_stripe.responder = lambda request: (200, payment_intent_fixture(status="canceled"))
        payment = await provider.cancel_payment("pi_1", "idem-cancel")
        [request] = stub_stripe.requests
        assert (request.method, request.path) == ("POST", "/v1/payment_intents/pi_1/cancel")
        assert request.headers["idempotency-key"] == "idem-cancel"
        assert payment.status is PaymentStatus.CANCELED

    async def test_cancel_too_late_fetches_the_current_state(
        self, provider: StripeProvider, stub_stripe: StubStripeServer
    ) -> None:
        def respond(request: RecordedRequest) -> tuple[int, dict[str, Any]]:
            if request.method == "POST":
                return 400, stripe_error_body(
                    "invalid_request_error",
                    "This PaymentIntent's status is succeeded.",
                    code="payment_intent_unexpected_state",
                )
            return 200, payment_intent_fixture(status="succeeded", amount_received=1099)

        stub_stripe.responder = respond
        with pytest.raises(ProviderRejected) as raised:
            await provider.cancel_payment("pi_1", "idem-cancel")
        assert raised.value.code == "payment_intent_unexpected_state"
        assert raised.value.payment is not None
        assert raised.value.payment.status is PaymentStatus.SUCCEEDED
        assert [r.method for r in stub_stripe.requests] == ["POST", "GET"]

    async def test_cancel_too_late_uses_the_payment_intent_in_the_error(
        self, provider: StripeProvider, stub_stripe: StubStripeServer
    ) -> None:
        stub_stripe.responder = lambda request: (
            400,
            stripe_error_body(
                "invalid_request_error",
                "This PaymentIntent's status is processing.",
                code="payment_intent_unexpected_state",
                payment_intent=payment_intent_fixture(status="processing"),
            ),
        )
        with pytest.raises(ProviderRejected) as raised:
            await provider.cancel_payment("pi_1", "idem-cancel")
        assert raised.value.payment is not None
        assert raised.value.payment.status is PaymentStatus.PROCESSING
        assert len(stub_stripe.requests) == 1


class TestRefund:
    async def test_refund(self, provider: StripeProvider, stub_stripe: StubStripeServer) -> None:
        stub_stripe.responder = lambda request: (200, refund_fixture(status="pending"))
        refund = await provider.refund(
            CreateRefund(
                refund_id="rf_1",
                payment_reference="pi_1",
                amount=100,
                currency="USD",
                reason="requested_by_customer",
            ),
            "idem-refund",
        )
        [request] = stub_stripe.requests
        assert (request.method, request.path) == ("POST", "/v1/refunds")
        assert request.headers["idempotency-key"] == "idem-refund"
        assert request.form["payment_intent"] == "pi_1"
        assert request.form["amount"] == "100"
        assert request.form["reason"] == "requested_by_customer"
        assert request.form["metadata[refund_id]"] == "rf_1"
        assert refund.status == "pending"
        assert refund.currency == "USD"

    async def test_our_own_reason_goes_to_metadata(
        self, provider: StripeProvider, stub_stripe: StubStripeServer
    ) -> None:
        stub_stripe.responder = lambda request: (200, refund_fixture())
        await provider.refund(
            CreateRefund(
                refund_id="rf_1",
                payment_reference="pi_1",
                amount=100,
                currency="USD",
                reason="coupon applied",
            ),
            "k",
        )
        [request] = stub_stripe.requests
        assert "reason" not in request.form
        assert request.form["metadata[reason]"] == "coupon applied"


class TestParseWebhook:
    def test_delegates_to_the_verifier(self, provider: StripeProvider) -> None:
        body = json.dumps(
            {
                "id": "evt_1",
                "object": "event",
                "type": "payment_intent.processing",
                "created": 1,
                "data": {"object": payment_intent_fixture(status="processing")},
            }
        ).encode()
        event = provider.parse_webhook(
            {"stripe-signature": stripe_signature(body, WEBHOOK_SECRET)}, body
        )
        assert event.payment is not None
        assert event.payment.status is PaymentStatus.PROCESSING
        assert event.payment.payload["publishable_key"] == PUBLISHABLE_KEY


def _metadata(request: RecordedRequest) -> dict[str, str]:
    return {
        key[len("metadata[") : -1]: value
        for key, value in request.form.items()
        if key.startswith("metadata[")
    }
