"""Behaviours a review found the sandbox got wrong: updates after the end, what a browser may
read, overlong idempotency keys, and 500s saved for their idempotency key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from sandbox.stripe.payment_intents import PUBLISHABLE_FIELDS
from sandbox.testing import StripeSandboxControl

CARD = {"payment_method_types": ["card"], "payment_method": "pm_card_visa", "confirm": True}


def publishable_client(sandbox: StripeSandboxControl) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.publishable_key,
        base_addresses={"api": sandbox.url},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )


class TestUpdatesAfterTheEnd:
    @pytest.mark.asyncio
    async def test_a_canceled_payment_intent_refuses_updates_but_keeps_metadata_writable(
        self, client: stripe.StripeClient
    ) -> None:
        pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        await client.v1.payment_intents.cancel_async(pi.id)
        for params, param in (
            ({"amount": 2000}, "amount"),
            ({"description": "late"}, "description"),
            ({"receipt_email": "a@example.com"}, "receipt_email"),
            ({"payment_method": "pm_card_visa"}, "payment_method"),
        ):
            with pytest.raises(stripe.InvalidRequestError) as caught:
                await client.v1.payment_intents.update_async(pi.id, params)
            error = caught.value
            assert error.http_status == 400
            assert (error.code, error.param) == ("payment_intent_unexpected_state", param)
            assert "status of canceled" in error.user_message
            assert error.error.payment_intent.id == pi.id
            assert error.error.payment_intent.status == "canceled"
        kept = await client.v1.payment_intents.update_async(pi.id, {"metadata": {"n": "1"}})
        assert (kept.status, kept.metadata.to_dict(), kept.amount) == ("canceled", {"n": "1"}, 1000)

    @pytest.mark.asyncio
    async def test_confirming_a_canceled_payment_intent_with_a_card_is_the_updates_refusal(
        self, client: stripe.StripeClient
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", "payment_method_types": ["card"]}
        )
        await client.v1.payment_intents.cancel_async(pi.id)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.confirm_async(pi.id, {"payment_method": "pm_card_visa"})
        assert caught.value.param == "payment_method"
        assert caught.value.user_message.startswith(
            "This PaymentIntent's payment_method could not be updated because it has a status "
            "of canceled."
        )

    @pytest.mark.asyncio
    async def test_a_succeeded_payment_intent_refuses_payment_fields_only(
        self, client: stripe.StripeClient
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", **CARD}
        )
        for params, param in (
            ({"amount": 2000}, "amount"),
            ({"currency": "eur"}, "currency"),
            ({"payment_method": "pm_card_mastercard"}, "payment_method"),
            ({"payment_method_types": ["card"]}, "payment_method_types"),
            ({"setup_future_usage": "off_session"}, "setup_future_usage"),
        ):
            with pytest.raises(stripe.InvalidRequestError) as caught:
                await client.v1.payment_intents.update_async(pi.id, params)
            assert (caught.value.code, caught.value.param) == (
                "payment_intent_unexpected_state",
                param,
            )
            assert caught.value.error.payment_intent.status == "succeeded"
        assert caught.value.user_message == (
            "This PaymentIntent's setup_future_usage could not be updated because it has a "
            "status of succeeded. You may only update the setup_future_usage of a PaymentIntent "
            "with one of the following statuses: requires_payment_method, requires_confirmation, "
            "requires_action."
        )
        described = await client.v1.payment_intents.update_async(
            pi.id, {"description": "Order 9", "metadata": {"shipped": "yes"}}
        )
        assert (described.status, described.description) == ("succeeded", "Order 9")


class TestPublishableKeyView:
    @pytest.mark.asyncio
    async def test_a_browser_reads_only_what_stripe_js_may_see(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 1500,
                "currency": "usd",
                "payment_method_types": ["card"],
                "metadata": {"order_id": "ord_secret"},
                "customer": "cus_secret",
                "statement_descriptor_suffix": "SECRET",
                "description": "Order 7",
            }
        )
        seen = publishable_client(sandbox).v1.payment_intents.retrieve(
            pi.id, {"client_secret": pi.client_secret}
        )
        raw: dict[str, Any] = seen.last_response.data
        assert set(raw) == set(PUBLISHABLE_FIELDS)
        for hidden in ("metadata", "customer", "latest_charge", "statement_descriptor_suffix"):
            assert hidden not in raw
        assert (seen.id, seen.amount, seen.description) == (pi.id, 1500, "Order 7")
        full = await client.v1.payment_intents.retrieve_async(pi.id)
        assert full.metadata["order_id"] == "ord_secret"

    @pytest.mark.asyncio
    async def test_confirm_answers_and_declines_with_the_restricted_object(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 1500,
                "currency": "usd",
                "payment_method_types": ["card"],
                "metadata": {"order_id": "ord_secret"},
            }
        )
        path = f"/v1/payment_intents/{pi.id}/confirm"
        async with httpx.AsyncClient(base_url=sandbox.url) as browser:
            declined = await browser.post(
                path,
                data={
                    "payment_method": "pm_card_visa_chargeDeclined",
                    "client_secret": pi.client_secret,
                    "key": sandbox.publishable_key,
                },
            )
            confirmed = await browser.post(
                path,
                data={
                    "payment_method": "pm_card_visa",
                    "client_secret": pi.client_secret,
                    "key": sandbox.publishable_key,
                },
            )
        assert declined.status_code == 402
        assert set(declined.json()["error"]["payment_intent"]) == set(PUBLISHABLE_FIELDS)
        assert confirmed.status_code == 200, confirmed.text
        assert set(confirmed.json()) == set(PUBLISHABLE_FIELDS)
        assert confirmed.json()["status"] == "succeeded"


class TestIdempotencyKeyLength:
    @pytest.mark.asyncio
    async def test_a_key_longer_than_255_characters_is_refused_before_anything_runs(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        params = {"amount": 1000, "currency": "usd"}
        with pytest.raises(stripe.IdempotencyError) as caught:
            await client.v1.payment_intents.create_async(params, {"idempotency_key": "k" * 256})
        assert caught.value.http_status == 400
        assert caught.value.user_message.startswith(
            "Idempotent key length is 256 characters long, which is outside accepted lengths. "
            "Idempotent Keys must be 1-255 characters long."
        )
        assert sandbox.stats()["objects"]["payment_intents"] == 0
        longest = await client.v1.payment_intents.create_async(
            params, {"idempotency_key": "k" * 255}
        )
        again = await client.v1.payment_intents.create_async(params, {"idempotency_key": "k" * 255})
        assert again.id == longest.id

    def test_an_empty_key_is_refused_too(self, sandbox: StripeSandboxControl) -> None:
        response = httpx.post(
            f"{sandbox.url}/v1/payment_intents",
            data={"amount": "1000", "currency": "usd"},
            headers={"Authorization": f"Bearer {sandbox.secret_key}", "Idempotency-Key": ""},
        )
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "idempotency_error"


class TestServerErrorsReplayed:
    @pytest.mark.asyncio
    async def test_a_saved_500_tells_the_sdk_not_to_retry_and_is_replayed_for_its_key(
        self, sandbox: StripeSandboxControl, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(stripe.HTTPXClient, "_sleep_time_seconds", lambda *args: 0.01)
        sandbox.configure(server_error_next=1)
        sdk = sandbox.client(max_network_retries=3)
        params = {"amount": 1000, "currency": "usd"}
        with pytest.raises(stripe.APIError) as first:
            await sdk.v1.payment_intents.create_async(params, {"idempotency_key": "boom-1"})
        assert first.value.http_status == 500
        assert first.value.headers["stripe-should-retry"] == "false"
        # The SDK read the header and did not retry.
        assert sandbox.stats()["api_calls"]["POST /v1/payment_intents"] == 1

        with pytest.raises(stripe.APIError) as replayed:
            await sdk.v1.payment_intents.create_async(params, {"idempotency_key": "boom-1"})
        assert replayed.value.headers["idempotent-replayed"] == "true"
        assert replayed.value.headers["stripe-should-retry"] == "false"
        assert replayed.value.headers["original-request"] == first.value.request_id
        assert sandbox.stats()["objects"]["payment_intents"] == 0

        fresh = await sdk.v1.payment_intents.create_async(params, {"idempotency_key": "boom-2"})
        assert fresh.status == "requires_payment_method"

    @pytest.mark.asyncio
    async def test_with_replay_off_the_sdk_retries_the_500_and_the_retry_runs(
        self, sandbox: StripeSandboxControl, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(stripe.HTTPXClient, "_sleep_time_seconds", lambda *args: 0.01)
        sandbox.configure(server_error_next=1, replay_server_errors=False)
        sdk = sandbox.client(max_network_retries=3)
        pi = await sdk.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        assert "idempotent-replayed" not in pi.last_response.headers
        stats = sandbox.stats()
        assert stats["api_calls"]["POST /v1/payment_intents"] == 2
        assert stats["objects"]["payment_intents"] == 1

    def test_the_switches_are_runtime_settings(self, sandbox: StripeSandboxControl) -> None:
        settings = sandbox.configure()
        assert (settings["replay_server_errors"], settings["server_error_next"]) == (True, 0)
        response = sandbox.request("POST", "/_sandbox/config", {"server_error_next": -1})
        assert response.status_code == 400
