"""StripeProvider against the offline Stripe sandbox, over real HTTP with the real SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import sandbox.runner as runner
import sandbox.stripe as sandbox_stripe
from app.core.ids import new_id
from app.providers.base import (
    CreatePayment,
    PaymentStatus,
    ProviderEvent,
    ProviderRejected,
    ProviderUnavailable,
    WebhookVerificationFailed,
)
from app.providers.stripe import StripeProvider, ensure_matches
from app.providers.stripe.transformers import provider_error_from_exception

SANDBOX_SECRET_KEY = "sk_test_sandbox"
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox"
SANDBOX_WEBHOOK_SECRET = "whsec_sandbox_adapter_tests"
RETURN_URL = "https://shop.example/return"


@dataclass
class RawWebhookReceiver:
    """Keeps each delivery's headers and raw bytes, so the adapter verifies them itself."""

    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.deliveries.append((dict(request.headers), await request.body()))
        return Response(status_code=200)


@dataclass
class Sandbox:
    url: str
    receiver: RawWebhookReceiver


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    receiver = RawWebhookReceiver()
    receiver_app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    with runner.ServerThread(receiver_app) as receiver_server:
        config = sandbox_stripe.StripeSandboxConfig(
            secret_key=SANDBOX_SECRET_KEY,
            publishable_key=SANDBOX_PUBLISHABLE_KEY,
            webhook_endpoints=[(f"{receiver_server.url}/hook", SANDBOX_WEBHOOK_SECRET)],
        )
        with runner.ServerThread(sandbox_stripe.create_app(config)) as server:
            yield Sandbox(url=server.url, receiver=receiver)


@pytest.fixture
async def provider(sandbox: Sandbox) -> AsyncIterator[StripeProvider]:
    stripe_provider = StripeProvider(
        secret_key=SANDBOX_SECRET_KEY,
        publishable_key=SANDBOX_PUBLISHABLE_KEY,
        webhook_secrets=["whsec_an_older_secret", SANDBOX_WEBHOOK_SECRET],
        api_base=sandbox.url,
        max_network_retries=1,
        timeout_seconds=10,
    )
    yield stripe_provider
    await stripe_provider.aclose()


@pytest.fixture
async def browser(sandbox: Sandbox) -> AsyncIterator[stripe.StripeClient]:
    """Stands in for Stripe.js confirming the PaymentIntent in the customer's browser."""
    http_client = stripe.HTTPXClient(timeout=10)
    yield stripe.StripeClient(
        SANDBOX_SECRET_KEY, base_addresses={"api": sandbox.url}, http_client=http_client
    )
    await http_client.close_async()  # type: ignore[no-untyped-call]


def _request(amount: int = 1099, currency: str = "EUR") -> CreatePayment:
    payment_id = new_id("pay")
    return CreatePayment(
        payment_id=payment_id,
        order_id=f"order_{payment_id}",
        amount=amount,
        currency=currency,
        method="payment_intent",
        description="Sandbox order",
        customer_email="buyer@example.com",
        metadata={"cart": "c_1"},
    )


async def _confirm(
    browser: stripe.StripeClient, reference: str, payment_method: str
) -> stripe.PaymentIntent:
    return await browser.v1.payment_intents.confirm_async(
        reference, {"payment_method": payment_method, "return_url": RETURN_URL}
    )


class TestCreateRetrieveCancel:
    async def test_create(self, provider: StripeProvider) -> None:
        request = _request()
        payment = await provider.create_payment(request, f"create:{request.payment_id}")

        ensure_matches(payment, request.amount, request.currency)
        assert payment.reference.startswith("pi_")
        assert payment.status is PaymentStatus.REQUIRES_PAYMENT_METHOD
        assert payment.payment_id == request.payment_id
        assert payment.raw["metadata"] == {
            "cart": "c_1",
            "payment_id": request.payment_id,
            "order_id": request.order_id,
        }
        assert payment.raw["automatic_payment_methods"]["enabled"] is True
        assert payment.raw["receipt_email"] == "buyer@example.com"
        assert payment.payload["client_secret"].startswith(f"{payment.reference}_secret_")
        assert payment.payload["publishable_key"] == SANDBOX_PUBLISHABLE_KEY
        assert payment.livemode is False

    async def test_same_idempotency_key_gives_the_same_payment_intent(
        self, provider: StripeProvider
    ) -> None:
        request = _request()
        key = f"create:{request.payment_id}"
        first = await provider.create_payment(request, key)
        second = await provider.create_payment(request, key)
        other = await provider.create_payment(request, f"{key}:again")

        assert second.reference == first.reference
        assert other.reference != first.reference

    async def test_same_key_with_other_parameters_leaves_the_outcome_unknown(
        self, provider: StripeProvider
    ) -> None:
        """Whatever the first request with the key did stands: nothing proves "not done"."""
        request = _request()
        key = f"create:{request.payment_id}"
        await provider.create_payment(request, key)
        with pytest.raises(ProviderUnavailable) as raised:
            await provider.create_payment(_request(amount=2000), key)
        assert raised.value.code == "idempotency_error"

    async def test_retrieve(self, provider: StripeProvider) -> None:
        request = _request(amount=500, currency="JPY")
        created = await provider.create_payment(request, f"create:{request.payment_id}")
        retrieved = await provider.retrieve_payment(created.reference)
        assert retrieved.reference == created.reference
        assert (retrieved.amount, retrieved.currency) == (500, "JPY")
        assert retrieved.status is PaymentStatus.REQUIRES_PAYMENT_METHOD

    async def test_retrieve_unknown(self, provider: StripeProvider) -> None:
        with pytest.raises(ProviderRejected) as raised:
            await provider.retrieve_payment("pi_does_not_exist")
        assert raised.value.code == "resource_missing"
        assert raised.value.http_status == 404

    async def test_cancel(self, provider: StripeProvider) -> None:
        request = _request()
        created = await provider.create_payment(request, f"create:{request.payment_id}")
        canceled = await provider.cancel_payment(created.reference, f"cancel:{request.payment_id}")
        assert canceled.status is PaymentStatus.CANCELED
        again = await provider.cancel_payment(created.reference, f"cancel:{request.payment_id}")
        assert again.status is PaymentStatus.CANCELED

    async def test_cancel_after_success_shows_the_succeeded_payment(
        self, provider: StripeProvider, browser: stripe.StripeClient
    ) -> None:
        request = _request()
        created = await provider.create_payment(request, f"create:{request.payment_id}")
        await _confirm(browser, created.reference, "pm_card_visa")

        with pytest.raises(ProviderRejected) as raised:
            await provider.cancel_payment(created.reference, f"cancel:{request.payment_id}")

        assert raised.value.code == "payment_intent_unexpected_state"
        assert raised.value.payment is not None
        assert raised.value.payment.status is PaymentStatus.SUCCEEDED
        assert raised.value.payment.amount_received == request.amount


class TestDeclinedConfirm:
    async def test_declined_card(
        self, provider: StripeProvider, browser: stripe.StripeClient
    ) -> None:
        request = _request()
        created = await provider.create_payment(request, f"create:{request.payment_id}")

        with pytest.raises(stripe.CardError) as raised:
            await _confirm(browser, created.reference, "pm_card_visa_chargeDeclined")

        translated = provider_error_from_exception(
            raised.value, publishable_key=SANDBOX_PUBLISHABLE_KEY
        )
        assert isinstance(translated, ProviderRejected)
        assert translated.code == "card_declined"
        assert translated.decline_code == "generic_decline"
        assert translated.http_status == 402
        assert translated.payment is not None
        assert translated.payment.reference == created.reference
        assert translated.payment.status is PaymentStatus.REQUIRES_PAYMENT_METHOD

        current = await provider.retrieve_payment(created.reference)
        assert current.status is PaymentStatus.REQUIRES_PAYMENT_METHOD
        assert current.last_error is not None
        assert current.last_error.code == "card_declined"
        assert current.last_error.decline_code == "generic_decline"


class TestWebhooksFromTheSandbox:
    async def test_sandbox_signatures_verify_and_parse(
        self, provider: StripeProvider, browser: stripe.StripeClient, sandbox: Sandbox
    ) -> None:
        request = _request()
        created = await provider.create_payment(request, f"create:{request.payment_id}")
        await _confirm(browser, created.reference, "pm_card_visa")

        events = await _events_for(provider, sandbox, created.reference, "payment_intent.succeeded")

        succeeded = next(e for e in events if e.event_type == "payment_intent.succeeded")
        assert succeeded.payment is not None
        assert succeeded.payment.status is PaymentStatus.SUCCEEDED
        assert succeeded.payment.payment_id == request.payment_id
        assert succeeded.created_at.tzinfo is not None

    async def test_a_changed_delivery_is_refused(
        self, provider: StripeProvider, sandbox: Sandbox
    ) -> None:
        request = _request()
        created = await provider.create_payment(request, f"create:{request.payment_id}")
        await _events_for(provider, sandbox, created.reference, "payment_intent.created")
        headers, body = next(
            (h, b) for h, b in sandbox.receiver.deliveries if created.reference.encode() in b
        )
        with pytest.raises(WebhookVerificationFailed):
            provider.parse_webhook(headers, body.replace(b"1099", b"1"))


async def _events_for(
    provider: StripeProvider, sandbox: Sandbox, reference: str, wanted_type: str
) -> list[ProviderEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        events = [
            provider.parse_webhook(headers, body)
            for headers, body in list(sandbox.receiver.deliveries)
            if reference.encode() in body
        ]
        events = [e for e in events if e.object_id == reference]
        if any(e.event_type == wanted_type for e in events):
            return events
        if loop.time() > deadline:
            raise TimeoutError(
                f"no {wanted_type} for {reference}: {[e.event_type for e in events]}"
            )
        await asyncio.sleep(0.05)
