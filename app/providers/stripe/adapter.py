"""The Stripe PaymentProvider: one StripeClient, async calls only, no SDK globals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import stripe
from stripe.params import (
    PaymentIntentCancelParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
    RefundListParams,
)

from app.providers.base import (
    CreatePayment,
    CreateRefund,
    OperationNotSupported,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
)
from app.providers.stripe import transformers
from app.providers.stripe.transformers import (
    PROVIDER,
    payment_from_payment_intent,
    provider_error_from_exception,
    refund_from_stripe,
    to_stripe_amount,
)
from app.providers.stripe.webhooks import StripeWebhookVerifier, event_from_dict

_PaymentCreator = Callable[[CreatePayment, str], Awaitable[ProviderPayment]]

_STRIPE_REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


class StripeProvider:
    name = "stripe"
    methods: frozenset[str] = frozenset({"payment_intent"})

    def __init__(
        self,
        *,
        secret_key: str,
        publishable_key: str,
        webhook_secrets: Sequence[str],
        api_base: str,
        webhook_tolerance_seconds: int = 300,
        max_network_retries: int = 2,
        timeout_seconds: float = 20,
    ) -> None:
        if not secret_key:
            raise ValueError("StripeProvider needs a secret key")
        self._publishable_key = publishable_key
        self.livemode = secret_key.startswith(("sk_live_", "rk_live_"))
        self._http_client = stripe.HTTPXClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            http_client=self._http_client,
            max_network_retries=max_network_retries,
        )
        self._webhooks = StripeWebhookVerifier(
            webhook_secrets,
            publishable_key=publishable_key,
            tolerance_seconds=webhook_tolerance_seconds,
        )
        self._creators: Mapping[str, _PaymentCreator] = {
            "payment_intent": self._create_payment_intent,
        }

    def __repr__(self) -> str:
        return f"StripeProvider(publishable_key={self._publishable_key!r})"

    def check_amount(self, amount: int, currency: str, *, refund: bool = False) -> None:
        transformers.check_amount(amount, currency, refund=refund)

    async def create_payment(self, request: CreatePayment, idempotency_key: str) -> ProviderPayment:
        creator = self._creators.get(request.method)
        if creator is None:
            raise OperationNotSupported(
                f"Stripe payment method {request.method!r} is not supported", provider=PROVIDER
            )
        return await creator(request, idempotency_key)

    async def retrieve_payment(self, reference: str) -> ProviderPayment:
        with self._stripe_errors():
            payment_intent = await self._client.v1.payment_intents.retrieve_async(reference)
        return self._payment(payment_intent)

    async def cancel_payment(
        self, reference: str, idempotency_key: str, *, abandoned: bool = False
    ) -> ProviderPayment:
        params: PaymentIntentCancelParams = {}
        if abandoned:
            params["cancellation_reason"] = "abandoned"
        try:
            with self._stripe_errors():
                payment_intent = await self._client.v1.payment_intents.cancel_async(
                    reference, params, options={"idempotency_key": idempotency_key}
                )
        except ProviderRejected as rejected:
            if rejected.code != "payment_intent_unexpected_state" or rejected.payment is not None:
                raise
            raise rejected.about(await self._current_payment_or_none(reference)) from rejected
        return self._payment(payment_intent)

    async def refund(self, request: CreateRefund, idempotency_key: str) -> ProviderRefund:
        metadata = {**request.metadata, "refund_id": request.refund_id}
        params: RefundCreateParams = {
            "payment_intent": request.payment_reference,
            "amount": to_stripe_amount(request.amount, request.currency),
        }
        if request.reason in _STRIPE_REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            # Stripe accepts only its three reasons; ours is kept where it can be read back.
            metadata["reason"] = request.reason
        params["metadata"] = metadata
        with self._stripe_errors():
            refund = await self._client.v1.refunds.create_async(
                params, options={"idempotency_key": idempotency_key}
            )
        return refund_from_stripe(refund)

    def check_request(self, request: CreatePayment) -> None:
        """Stripe takes what the schema lets through; its amount rules are check_amount's."""

    async def retrieve_refund(self, reference: str, payment_reference: str) -> ProviderRefund:
        with self._stripe_errors():
            refund = await self._client.v1.refunds.retrieve_async(reference)
        return refund_from_stripe(refund)

    async def list_refunds(self, payment_reference: str) -> Sequence[ProviderRefund]:
        refunds: list[ProviderRefund] = []
        params: RefundListParams = {"payment_intent": payment_reference, "limit": 100}
        while True:
            with self._stripe_errors():
                page = await self._client.v1.refunds.list_async(params)
            refunds.extend(refund_from_stripe(refund) for refund in page.data)
            if not page.has_more or not page.data:
                return refunds
            params["starting_after"] = page.data[-1].id

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> ProviderEvent:
        return self._webhooks.parse(headers, raw_body)

    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        return event_from_dict(payload, publishable_key=self._publishable_key)

    async def aclose(self) -> None:
        await self._http_client.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe 16

    async def _create_payment_intent(
        self, request: CreatePayment, idempotency_key: str
    ) -> ProviderPayment:
        params: PaymentIntentCreateParams = {
            "amount": to_stripe_amount(request.amount, request.currency),
            "currency": request.currency.lower(),
            # The Payment Element offers whatever the dashboard enables; redirect-based
            # methods get their return_url from the browser's confirmPayment call.
            "automatic_payment_methods": {"enabled": True},
            "metadata": {
                **request.metadata,
                "payment_id": request.payment_id,
                "order_id": request.order_id,
            },
        }
        if request.description:
            params["description"] = request.description
        if request.customer_email:
            params["receipt_email"] = request.customer_email
        with self._stripe_errors():
            payment_intent = await self._client.v1.payment_intents.create_async(
                params, options={"idempotency_key": idempotency_key}
            )
        return self._payment(payment_intent)

    async def _current_payment_or_none(self, reference: str) -> ProviderPayment | None:
        try:
            return await self.retrieve_payment(reference)
        except ProviderError:
            return None

    def _payment(self, payment_intent: stripe.PaymentIntent) -> ProviderPayment:
        return payment_from_payment_intent(payment_intent, publishable_key=self._publishable_key)

    @contextmanager
    def _stripe_errors(self) -> Iterator[None]:
        try:
            yield
        except Exception as error:
            translated = provider_error_from_exception(error, publishable_key=self._publishable_key)
            if translated is None:
                raise
            raise translated from error
