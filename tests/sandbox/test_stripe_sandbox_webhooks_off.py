"""`webhooks_enabled`: events are recorded but not delivered; retries still make one object."""

from __future__ import annotations

import asyncio

import pytest
import stripe

from sandbox.runner import ServerThread
from sandbox.stripe import StripeSandboxConfig, create_app
from sandbox.testing import StripeSandboxControl, WebhookReceiver

PARAMS = {"amount": 1000, "currency": "usd", "metadata": {"order_id": "ord_off"}}


class TestWebhooksOff:
    @pytest.mark.asyncio
    async def test_a_retried_request_makes_one_object_and_one_event_and_no_delivery(
        self, sandbox: StripeSandboxControl, registered_receiver: WebhookReceiver
    ) -> None:
        assert sandbox.configure(webhooks_enabled=False)["webhooks_enabled"] is False
        sandbox.configure(lose_response_next=1)
        sdk = sandbox.client(max_network_retries=2)
        pi = await sdk.v1.payment_intents.create_async(PARAMS)
        assert pi.last_response.headers["idempotent-replayed"] == "true"

        stats = sandbox.stats()
        assert stats["objects"]["payment_intents"] == 1
        assert stats["api_calls"]["POST /v1/payment_intents"] == 2
        events = await sdk.v1.events.list_async()
        assert [(e.type, e.data.object.id) for e in events.data] == [
            ("payment_intent.created", pi.id)
        ]
        assert sandbox.drain()
        assert registered_receiver.received == []
        assert sandbox.deliveries() == []
        assert stats["background_tasks"] == 0

    @pytest.mark.asyncio
    async def test_injected_failures_retried_with_webhooks_off_make_one_object_each(
        self,
        sandbox: StripeSandboxControl,
        registered_receiver: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(stripe.HTTPXClient, "_sleep_time_seconds", lambda *args: 0.01)
        sandbox.configure(webhooks_enabled=False, failure_rate=0.5, seed=11)
        sdk = sandbox.client(max_network_retries=10)
        ids = [(await sdk.v1.payment_intents.create_async(PARAMS)).id for _ in range(3)]
        sandbox.configure(failure_rate=0.0)
        assert len(set(ids)) == 3
        assert sandbox.stats()["objects"]["payment_intents"] == 3
        created = await sdk.v1.events.list_async({"type": "payment_intent.created"})
        assert sorted(e.data.object.id for e in created.data) == sorted(ids)
        assert sandbox.drain()
        assert registered_receiver.received == []

    @pytest.mark.asyncio
    async def test_resend_still_delivers_and_turning_them_on_again_delivers_new_events(
        self,
        client: stripe.StripeClient,
        sandbox: StripeSandboxControl,
        registered_receiver: WebhookReceiver,
    ) -> None:
        sandbox.configure(webhooks_enabled=False)
        quiet = await client.v1.payment_intents.create_async(PARAMS)
        event = (await client.v1.events.list_async()).data[0]
        assert event.pending_webhooks == 1
        assert sandbox.resend(event.id) == 1
        resent = await registered_receiver.wait_for(1)
        assert resent[0]["data"]["object"]["id"] == quiet.id

        sandbox.configure(webhooks_enabled=True)
        loud = await client.v1.payment_intents.create_async(PARAMS)
        received = await registered_receiver.wait_for(2)
        assert received[1]["data"]["object"]["id"] == loud.id

    @pytest.mark.asyncio
    async def test_turning_webhooks_off_stops_scheduled_retries(
        self,
        client: stripe.StripeClient,
        sandbox: StripeSandboxControl,
        registered_receiver: WebhookReceiver,
    ) -> None:
        sandbox.configure(webhook_retry_base_seconds=1.0)
        registered_receiver.fail_next = 1
        await client.v1.payment_intents.create_async(PARAMS)
        for _ in range(100):
            if sandbox.deliveries():
                break
            await asyncio.sleep(0.01)
        sandbox.configure(webhooks_enabled=False)
        assert sandbox.drain()
        assert [d["outcome"] for d in sandbox.deliveries()] == ["failed"]
        assert registered_receiver.received == []


def test_webhooks_can_be_off_from_the_start(receiver: WebhookReceiver) -> None:
    config = StripeSandboxConfig(
        secret_key="sk_test_quiet",
        webhook_endpoints=[(receiver.url, "whsec_quiet")],
        webhooks_enabled=False,
    )
    with ServerThread(create_app(config)) as server:
        control = StripeSandboxControl(server.url, secret_key="sk_test_quiet")
        sdk = stripe.StripeClient(
            "sk_test_quiet",
            base_addresses={"api": server.url},
            http_client=stripe.HTTPXClient(allow_sync_methods=True),
        )
        pi = sdk.v1.payment_intents.create(PARAMS)
        assert control.configure()["webhooks_enabled"] is False
        assert [e.data.object.id for e in sdk.v1.events.list().data] == [pi.id]
        assert control.drain()
    assert receiver.received == []
