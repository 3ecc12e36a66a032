"""Provider webhooks: verified over the raw body, stored once, applied in order of truth."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.pingxx import signing
from sandbox.testing import PingxxSandboxControl
from tests.support.api import signed_stripe_post
from tests.support.providers import Psp
from tests.support.sandbox import Knobs, PingxxKnobs
from tests.support.stripe_js import StripeJs


@pytest.fixture
async def no_webhooks(psp: Psp) -> None:
    """The sandbox keeps its events but delivers none: the test delivers them itself."""
    await psp.knobs.set(webhook_drop_rate=1.0)


@pytest.fixture
async def stripe_quiet(knobs: Knobs) -> None:
    await knobs.set(webhook_drop_rate=1.0)


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


async def psp_payment(api: httpx.AsyncClient, psp: Psp) -> dict[str, Any]:
    response = await api.post("/v1/payments", json=psp.body("wh", 1000))
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def deliver_as(psp: Psp, api: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    body, headers = psp.sign(event)
    return await api.post(psp.webhook_path, content=body, headers=headers)


@pytest.mark.usefixtures("no_webhooks")
class TestDuplicates:
    async def test_one_event_delivered_five_times_at_once_moves_once(
        self, api: httpx.AsyncClient, psp: Psp, db: AsyncEngine
    ) -> None:
        payment = await psp_payment(api, psp)
        await psp.pay(payment)
        event = await psp.event_of(payment["provider_reference"], psp.succeeded_event)

        responses = await asyncio.gather(*(deliver_as(psp, api, event) for _ in range(5)))

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
        succeeded = "SELECT count(*) FROM outbox_events WHERE payment_id = :p AND type = :t"
        assert await count(db, succeeded, p=payment["id"], t="payment.succeeded") == 1

    async def test_a_replay_much_later_changes_nothing(
        self, api: httpx.AsyncClient, psp: Psp, db: AsyncEngine
    ) -> None:
        """Ping++ signs no timestamp: the event id in the inbox is the replay defence."""
        payment = await psp_payment(api, psp)
        await psp.pay(payment)
        event = await psp.event_of(payment["provider_reference"], psp.succeeded_event)
        assert (await deliver_as(psp, api, event)).json()["outcome"] == "applied"
        refunded = await api.post(f"/v1/payments/{payment['id']}/refunds", json={})
        assert refunded.status_code == 201, refunded.text

        replayed = await deliver_as(psp, api, event)
        assert replayed.json()["outcome"] == "duplicate"
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (after["status"], after["refund_status"]) == ("succeeded", "full")

    async def test_an_event_for_an_unknown_payment_is_stored_and_acknowledged(
        self, api: httpx.AsyncClient, psp: Psp, db: AsyncEngine
    ) -> None:
        event = await psp.foreign_event()
        response = await deliver_as(psp, api, event)
        assert response.status_code == 200
        assert response.json()["outcome"] == "unknown_payment"
        stored = "SELECT count(*) FROM webhook_events WHERE event_id = :e AND outcome = :o"
        assert await count(db, stored, e=event["id"], o="unknown_payment") == 1


@pytest.mark.usefixtures("stripe_quiet")
class TestStripeOrder:
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


class TestSignatures:
    EVENTS: dict[str, dict[str, Any]] = {
        "stripe": {
            "id": "evt_signature_test",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": 1_700_000_000,
            "data": {"object": {"id": "pi_x", "object": "payment_intent"}},
        },
        "pingxx": {
            "id": "evt_signature_test",
            "object": "event",
            "type": "charge.succeeded",
            "created": 1_700_000_000,
            "data": {"object": {"id": "ch_x", "object": "charge"}},
        },
    }

    async def assert_nothing_stored(self, db: AsyncEngine) -> None:
        stored = "SELECT count(*) FROM webhook_events WHERE event_id = :e"
        assert await count(db, stored, e="evt_signature_test") == 0

    async def test_missing_signature(
        self, api: httpx.AsyncClient, psp: Psp, db: AsyncEngine
    ) -> None:
        response = await api.post(psp.webhook_path, content=json.dumps(self.EVENTS[psp.name]))
        assert response.status_code == 400
        assert response.json()["code"] == "webhook_signature_missing"
        assert response.json()["payment_channel"] == psp.name
        await self.assert_nothing_stored(db)

    async def test_forged_signature(
        self, api: httpx.AsyncClient, psp: Psp, db: AsyncEngine
    ) -> None:
        body, headers = psp.forge(self.EVENTS[psp.name])
        response = await api.post(psp.webhook_path, content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "webhook_signature_invalid"
        assert "whsec" not in response.text
        await self.assert_nothing_stored(db)

    async def test_changed_body(self, api: httpx.AsyncClient, psp: Psp, db: AsyncEngine) -> None:
        body, headers = psp.sign(self.EVENTS[psp.name])
        tampered = body.replace(b"succeeded", b"reversed0")
        response = await api.post(psp.webhook_path, content=tampered, headers=headers)
        assert response.status_code == 401
        await self.assert_nothing_stored(db)

    async def test_stale_stripe_signature(
        self, api: httpx.AsyncClient, db: AsyncEngine, webhook_secret: str
    ) -> None:
        event = self.EVENTS["stripe"]
        body, headers = signed_stripe_post(event, webhook_secret, int(time.time()) - 600)
        response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 401
        await self.assert_nothing_stored(db)


class TestPingxxEventsAreHints:
    """What Ping++ does not document, or an object contradicting its type, is read again."""

    @pytest.fixture
    async def quiet(self, pingxx_knobs: PingxxKnobs) -> None:
        await pingxx_knobs.set(webhook_drop_rate=1.0)

    async def _paid(self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl) -> dict[str, Any]:
        response = await api.post(
            "/v1/payments",
            json={
                "order_id": f"hint-{time.monotonic_ns()}",
                "amount": 1000,
                "currency": "CNY",
                "payment_channel": "pingxx:alipay_qr",
                "client_ip": "203.0.113.7",
            },
        )
        assert response.status_code == 201, response.text
        payment: dict[str, Any] = response.json()
        return payment

    @pytest.mark.usefixtures("quiet")
    async def test_an_unknown_type_claiming_reversed_does_not_close_a_paid_charge(
        self,
        api: httpx.AsyncClient,
        pingxx: PingxxSandboxControl,
        pingxx_webhook_key: signing.PrivateKey,
    ) -> None:
        payment = await self._paid(api, pingxx)
        await asyncio.to_thread(pingxx.pay, payment["provider_reference"])
        charge = await asyncio.to_thread(pingxx.charge, payment["provider_reference"])
        claimed = {**charge, "paid": False, "reversed": True}
        event = {
            "id": f"evt_hint{time.monotonic_ns()}",
            "object": "event",
            "type": "charge.reversed",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": claimed},
        }
        body = json.dumps(event).encode()
        headers = {"X-Pingplusplus-Signature": signing.sign_webhook(body, pingxx_webhook_key)}
        answered = await api.post("/v1/webhooks/pingxx", content=body, headers=headers)
        assert answered.status_code == 200, answered.text
        assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "succeeded"

    @pytest.mark.usefixtures("quiet")
    async def test_succeeded_for_a_charge_not_paid_is_not_believed(
        self,
        api: httpx.AsyncClient,
        pingxx: PingxxSandboxControl,
        pingxx_webhook_key: signing.PrivateKey,
    ) -> None:
        payment = await self._paid(api, pingxx)
        charge = await asyncio.to_thread(pingxx.charge, payment["provider_reference"])
        event = {
            "id": f"evt_claim{time.monotonic_ns()}",
            "object": "event",
            "type": "charge.succeeded",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": {**charge, "paid": False}},
        }
        body = json.dumps(event).encode()
        headers = {"X-Pingplusplus-Signature": signing.sign_webhook(body, pingxx_webhook_key)}
        answered = await api.post("/v1/webhooks/pingxx", content=body, headers=headers)
        assert answered.status_code == 200, answered.text
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["status"] == "requires_payment_method"
