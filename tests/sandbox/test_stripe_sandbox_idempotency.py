"""Idempotency keys as Stripe honours them, and SDK retries that must not double-charge."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import stripe

from sandbox.testing import StripeSandboxControl

PARAMS = {"amount": 1000, "currency": "usd", "metadata": {"order_id": "ord_42"}}


class TestSameKey:
    @pytest.mark.asyncio
    async def test_same_key_and_params_replays_the_first_answer(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        first = await client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-1"})
        again = await client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-1"})
        assert again.id == first.id
        assert again.last_response.headers["idempotent-replayed"] == "true"
        assert sandbox.stats()["objects"]["payment_intents"] == 1

    @pytest.mark.asyncio
    async def test_same_key_with_other_params_is_an_idempotency_error(
        self, client: stripe.StripeClient
    ) -> None:
        await client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-2"})
        with pytest.raises(stripe.IdempotencyError) as caught:
            await client.v1.payment_intents.create_async(
                {**PARAMS, "amount": 2000}, {"idempotency_key": "k-2"}
            )
        assert caught.value.http_status == 400
        assert "same parameters" in str(caught.value)

    @pytest.mark.asyncio
    async def test_declines_are_replayed_too(self, client: stripe.StripeClient) -> None:
        params = {
            **PARAMS,
            "payment_method_types": ["card"],
            "payment_method": "pm_card_visa_chargeDeclined",
            "confirm": True,
        }
        with pytest.raises(stripe.CardError) as first:
            await client.v1.payment_intents.create_async(params, {"idempotency_key": "k-3"})
        with pytest.raises(stripe.CardError) as again:
            await client.v1.payment_intents.create_async(params, {"idempotency_key": "k-3"})
        assert again.value.error.payment_intent.id == first.value.error.payment_intent.id

    @pytest.mark.asyncio
    async def test_validation_errors_are_not_saved(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.payment_intents.create_async(
                {"currency": "usd"}, {"idempotency_key": "k-4"}
            )
        created = await client.v1.payment_intents.create_async(
            {"currency": "usd", "amount": 700}, {"idempotency_key": "k-5"}
        )
        assert created.amount == 700

    @pytest.mark.asyncio
    async def test_concurrent_request_with_a_running_key_is_409(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(latency_ms=300)
        results = await asyncio.gather(
            client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-6"}),
            client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-6"}),
            return_exceptions=True,
        )
        created = [r for r in results if isinstance(r, stripe.PaymentIntent)]
        conflicts = [r for r in results if isinstance(r, stripe.APIError)]
        assert len(created) == 1
        assert len(conflicts) == 1
        assert conflicts[0].http_status == 409
        assert conflicts[0].json_body["error"]["type"] == "idempotency_error"
        later = await client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-6"})
        assert later.id == created[0].id
        assert sandbox.stats()["objects"]["payment_intents"] == 1


class TestRetries:
    @pytest.mark.asyncio
    async def test_a_lost_answer_is_retried_without_a_second_object(
        self, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(lose_response_next=1)
        sdk = sandbox.client(max_network_retries=2)
        pi = await sdk.v1.payment_intents.create_async(PARAMS)
        assert pi.last_response.headers["idempotent-replayed"] == "true"
        stats = sandbox.stats()
        assert stats["objects"]["payment_intents"] == 1
        assert stats["api_calls"]["POST /v1/payment_intents"] == 2

    @pytest.mark.asyncio
    async def test_a_lost_answer_without_retries_surfaces_as_api_error(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(lose_response_next=1)
        with pytest.raises(stripe.APIError) as caught:
            await client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-7"})
        assert caught.value.http_status == 500
        assert sandbox.stats()["objects"]["payment_intents"] == 1
        recovered = await client.v1.payment_intents.create_async(PARAMS, {"idempotency_key": "k-7"})
        assert recovered.amount == 1000

    @pytest.mark.asyncio
    async def test_injected_failures_are_retried_and_create_one_object_each(
        self, sandbox: StripeSandboxControl, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The SDK's own backoff (0.5 s doubling) only slows the test down.
        monkeypatch.setattr(stripe.HTTPXClient, "_sleep_time_seconds", lambda *args: 0.01)
        sandbox.configure(failure_rate=0.5, seed=3)
        sdk = sandbox.client(max_network_retries=10)
        ids = [(await sdk.v1.payment_intents.create_async(PARAMS)).id for _ in range(3)]
        stats = sandbox.stats()
        assert len(set(ids)) == 3
        assert stats["objects"]["payment_intents"] == 3
        assert stats["api_calls"]["POST /v1/payment_intents"] > 3

    @pytest.mark.asyncio
    async def test_failure_status_and_latency(self, sandbox: StripeSandboxControl) -> None:
        sandbox.configure(failure_rate=1.0, failure_status=503)
        auth = {"Authorization": f"Bearer {sandbox.secret_key}"}
        async with httpx.AsyncClient(base_url=sandbox.url, headers=auth) as http:
            failed = await http.get("/v1/payment_intents")
            assert failed.status_code == 503
            assert failed.json()["error"]["type"] == "api_error"
            sandbox.configure(failure_rate=0.0, latency_ms=200)
            started = time.monotonic()
            ok = await http.get("/v1/payment_intents")
            assert ok.status_code == 200
            assert time.monotonic() - started >= 0.2
