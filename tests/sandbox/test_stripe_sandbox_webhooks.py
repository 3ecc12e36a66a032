"""Signed webhook delivery, redelivery with backoff, drops and resends."""

from __future__ import annotations

import itertools
import json

import pytest
import stripe

from sandbox.stripe import sign_webhook
from sandbox.testing import StripeSandboxControl, WebhookReceiver


class TestSignature:
    @pytest.mark.asyncio
    async def test_events_arrive_signed_the_way_stripe_signs_them(
        self,
        client: stripe.StripeClient,
        sandbox: StripeSandboxControl,
        registered_receiver: WebhookReceiver,
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 1000,
                "currency": "usd",
                "payment_method_types": ["card"],
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        received = await registered_receiver.wait_for(3)
        assert registered_receiver.rejected == []
        assert sorted(e["type"] for e in received) == [
            "charge.succeeded",
            "payment_intent.created",
            "payment_intent.succeeded",
        ]
        succeeded = next(e for e in received if e["type"] == "payment_intent.succeeded")
        assert succeeded["data"]["object"]["id"] == pi.id
        assert succeeded["data"]["object"]["status"] == "succeeded"
        assert succeeded["request"]["idempotency_key"]
        headers = registered_receiver.headers[0]
        assert headers["user-agent"].startswith("Stripe/1.0")
        assert headers["content-type"].startswith("application/json")
        event = await client.v1.events.retrieve_async(succeeded["id"])
        assert event.type == "payment_intent.succeeded"

    def test_a_changed_body_or_wrong_secret_fails_verification(self) -> None:
        payload = json.dumps({"id": "evt_1", "object": "event", "type": "x"})
        header = sign_webhook(payload, "whsec_right")
        assert stripe.Webhook.construct_event(payload, header, "whsec_right").id == "evt_1"
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload + " ", header, "whsec_right")
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload, header, "whsec_wrong")

    @pytest.mark.asyncio
    async def test_endpoints_only_get_the_events_they_enabled(
        self,
        client: stripe.StripeClient,
        sandbox: StripeSandboxControl,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint = await client.v1.webhook_endpoints.create_async(
            {"url": receiver.url, "enabled_events": ["payment_intent.succeeded"]}
        )
        receiver.secret = endpoint.secret
        await client.v1.payment_intents.create_async(
            {
                "amount": 1000,
                "currency": "usd",
                "payment_method_types": ["card"],
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        assert sandbox.drain()
        assert receiver.types() == ["payment_intent.succeeded"]
        listed = await client.v1.webhook_endpoints.list_async()
        assert [e.id for e in listed.data] == [endpoint.id]
        deleted = await client.v1.webhook_endpoints.delete_async(endpoint.id)
        assert deleted.deleted is True


class TestRedelivery:
    @pytest.mark.asyncio
    async def test_an_endpoint_that_fails_twice_gets_the_event_on_the_third_attempt(
        self,
        client: stripe.StripeClient,
        sandbox: StripeSandboxControl,
        registered_receiver: WebhookReceiver,
    ) -> None:
        registered_receiver.fail_next = 2
        pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        await registered_receiver.wait_for(1)
        assert sandbox.drain()
        event = registered_receiver.received[0]
        assert event["data"]["object"]["id"] == pi.id
        attempts = sandbox.deliveries(event_id=event["id"])
        assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [
            (1, 500, "failed"),
            (2, 500, "failed"),
            (3, 200, "succeeded"),
        ]
        gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(attempts)]
        assert gaps[0] >= 0.15
        assert gaps[1] >= 0.35
        stored = await client.v1.events.retrieve_async(event["id"])
        assert stored.pending_webhooks == 0

    @pytest.mark.asyncio
    async def test_an_unreachable_endpoint_is_retried_up_to_the_limit(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        await client.v1.webhook_endpoints.create_async(
            {"url": "http://127.0.0.1:9/nothing-listens-here", "enabled_events": ["*"]}
        )
        sandbox.configure(webhook_retry_base_seconds=0.05)
        await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        assert sandbox.drain()
        attempts = sandbox.deliveries()
        assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
        assert all(a["status_code"] is None and a["error"] for a in attempts)


class TestDropsAndResends:
    @pytest.mark.asyncio
    async def test_dropped_events_never_arrive(
        self,
        client: stripe.StripeClient,
        sandbox: StripeSandboxControl,
        registered_receiver: WebhookReceiver,
    ) -> None:
        sandbox.configure(webhook_drop_rate=1.0)
        await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        assert sandbox.drain()
        assert registered_receiver.received == []
        assert [d["outcome"] for d in sandbox.deliveries()] == ["dropped"]

    @pytest.mark.asyncio
    async def test_resend_delivers_the_same_event_again(
        self,
        client: stripe.StripeClient,
        sandbox: StripeSandboxControl,
        registered_receiver: WebhookReceiver,
    ) -> None:
        await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        first = (await registered_receiver.wait_for(1))[0]
        assert sandbox.resend(first["id"]) == 1
        second = (await registered_receiver.wait_for(2))[1]
        assert second["id"] == first["id"]
        assert second["data"] == first["data"]
