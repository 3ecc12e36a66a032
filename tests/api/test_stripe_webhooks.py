"""Stripe webhooks: verified over the raw body, stored once, applied in order of truth."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.api import signed_stripe_post, wait_for_status
from tests.support.stripe_js import StripeJs


@pytest.fixture
async def no_webhooks(sandbox_admin: httpx.AsyncClient) -> AsyncIterator[None]:
    """The sandbox keeps its events but delivers none: the test delivers them itself."""
    await sandbox_admin.post("/_sandbox/config", json={"webhook_drop_rate": 1.0})
    yield
    await sandbox_admin.post("/_sandbox/config", json={"webhook_drop_rate": 0.0})


async def sandbox_event(
    sandbox_admin: httpx.AsyncClient, intent_id: str, event_type: str
) -> dict[str, Any]:
    events = (
        await sandbox_admin.get("/v1/events", params={"type": event_type, "limit": 100})
    ).json()
    for event in events["data"]:
        if event["data"]["object"]["id"] == intent_id:
            found: dict[str, Any] = event
            return found
    raise AssertionError(f"no {event_type} event for {intent_id}")


async def deliver(api: httpx.AsyncClient, event: dict[str, Any], secret: str) -> httpx.Response:
    body, headers = signed_stripe_post(event, secret)
    return await api.post("/v1/webhooks/stripe", content=body, headers=headers)


async def count(engine: AsyncEngine, sql: str, **params: Any) -> int:
    async with engine.connect() as connection:
        value = (await connection.execute(text(sql), params)).scalar_one()
        return int(value)


async def new_payment(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.post(
        "/v1/payments",
        json={"order_id": f"wh-{time.monotonic_ns()}", "amount": 1000, "currency": "EUR"},
    )
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


@pytest.mark.usefixtures("no_webhooks")
class TestDuplicatesAndOrder:
    async def test_one_event_delivered_five_times_at_once_moves_once(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        webhook_secret: str,
        db: AsyncEngine,
    ) -> None:
        payment = await new_payment(api)
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")
        event = await sandbox_event(
            sandbox_admin, payment["provider_reference"], "payment_intent.succeeded"
        )

        responses = await asyncio.gather(*(deliver(api, event, webhook_secret) for _ in range(5)))

        assert [r.status_code for r in responses] == [200] * 5
        outcomes = sorted(r.json()["outcome"] for r in responses)
        assert outcomes == ["applied"] + ["duplicate"] * 4
        assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "succeeded"
        moves = await count(
            db,
            "SELECT count(*) FROM payment_status_history WHERE payment_id = :p "
            "AND to_status = 'succeeded'",
            p=payment["id"],
        )
        assert moves == 1
        stored = await count(
            db, "SELECT count(*) FROM webhook_events WHERE event_id = :e", e=event["id"]
        )
        assert stored == 1

    async def test_succeeded_arriving_before_processing_stays_succeeded(
        self,
        api: httpx.AsyncClient,
        sandbox_admin: httpx.AsyncClient,
        webhook_secret: str,
    ) -> None:
        payment = await new_payment(api)
        intent = payment["provider_reference"]
        await sandbox_admin.post(f"/_sandbox/payment_intents/{intent}/processing")
        await sandbox_admin.post(f"/_sandbox/payment_intents/{intent}/succeed")
        processing = await sandbox_event(sandbox_admin, intent, "payment_intent.processing")
        succeeded = await sandbox_event(sandbox_admin, intent, "payment_intent.succeeded")

        assert (await deliver(api, succeeded, webhook_secret)).json()["outcome"] == "applied"
        late = await deliver(api, processing, webhook_secret)
        assert late.status_code == 200
        assert late.json()["outcome"] in ("ignored", "unchanged")
        assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "succeeded"

    async def test_a_stale_non_final_event_is_resolved_by_the_current_object(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        webhook_secret: str,
    ) -> None:
        """requires_action arrives after the 3-D Secure failure: the payment stays payable."""
        payment = await new_payment(api)
        intent = payment["provider_reference"]
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "4000002500003155")
        await stripe_js.complete_three_d_secure(intent, passed=False)
        failed = await sandbox_event(sandbox_admin, intent, "payment_intent.payment_failed")
        action = await sandbox_event(sandbox_admin, intent, "payment_intent.requires_action")

        await deliver(api, failed, webhook_secret)
        await deliver(api, action, webhook_secret)

        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["status"] == "requires_payment_method"
        assert after["last_error"]["code"] == "payment_intent_authentication_failure"

    async def test_an_event_for_an_unknown_payment_is_stored_and_acknowledged(
        self,
        api: httpx.AsyncClient,
        sandbox_admin: httpx.AsyncClient,
        webhook_secret: str,
        db: AsyncEngine,
    ) -> None:
        foreign = await sandbox_admin.post(
            "/v1/payment_intents", data={"amount": "700", "currency": "usd"}
        )
        event = await sandbox_event(sandbox_admin, foreign.json()["id"], "payment_intent.created")
        response = await deliver(api, event, webhook_secret)
        assert response.status_code == 200
        assert response.json()["outcome"] == "unknown_payment"
        stored = "SELECT count(*) FROM webhook_events WHERE event_id = :e AND outcome = :o"
        assert await count(db, stored, e=event["id"], o="unknown_payment") == 1


class TestSignatures:
    EVENT: dict[str, Any] = {
        "id": "evt_signature_test",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1_700_000_000,
        "data": {"object": {"id": "pi_x", "object": "payment_intent"}},
    }

    async def assert_nothing_stored(self, db: AsyncEngine) -> None:
        stored = "SELECT count(*) FROM webhook_events WHERE event_id = :e"
        assert await count(db, stored, e=self.EVENT["id"]) == 0

    async def test_missing_signature(self, api: httpx.AsyncClient, db: AsyncEngine) -> None:
        response = await api.post("/v1/webhooks/stripe", content=json.dumps(self.EVENT))
        assert response.status_code == 400
        assert response.json()["code"] == "webhook_signature_missing"
        await self.assert_nothing_stored(db)

    async def test_forged_signature(self, api: httpx.AsyncClient, db: AsyncEngine) -> None:
        body, headers = signed_stripe_post(self.EVENT, "whsec_not_the_secret")
        response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "webhook_signature_invalid"
        assert "whsec" not in response.text
        await self.assert_nothing_stored(db)

    async def test_stale_signature(
        self, api: httpx.AsyncClient, db: AsyncEngine, webhook_secret: str
    ) -> None:
        body, headers = signed_stripe_post(self.EVENT, webhook_secret, int(time.time()) - 600)
        response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 401
        await self.assert_nothing_stored(db)

    async def test_changed_body(
        self, api: httpx.AsyncClient, db: AsyncEngine, webhook_secret: str
    ) -> None:
        body, headers = signed_stripe_post(self.EVENT, webhook_secret)
        tampered = body.replace(b"succeeded", b"canceled")
        response = await api.post("/v1/webhooks/stripe", content=tampered, headers=headers)
        assert response.status_code == 401
        await self.assert_nothing_stored(db)

    async def test_a_real_delivery_from_the_sandbox_verifies(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await new_payment(api)
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")
        assert (await wait_for_status(api, payment["id"], "succeeded"))["status"] == "succeeded"
