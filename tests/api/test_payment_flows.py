"""End to end: the API, PostgreSQL and the provider sandboxes, over real HTTP, with the
sandboxes delivering signed webhooks to the API. What every provider guarantees runs once
per provider (`psp`); the rest is Stripe's own (cards, 3-D Secure)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import order_id, wait_for, wait_for_status
from tests.support.providers import Psp
from tests.support.stripe_js import StripeJs


async def create_payment(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {"order_id": order_id("order"), "amount": 2000, "currency": "USD", **overrides}
    response = await api.post("/v1/payments", json=body)
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def create(
    api: httpx.AsyncClient, psp: Psp, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await api.post("/v1/payments", json=body or psp.body())
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def history(api: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    detail = (await api.get(f"/v1/payments/{payment_id}/detail")).json()
    changes: list[dict[str, Any]] = detail["status_history"]
    return changes


class TestHappyPath:
    async def test_a_payment_succeeds_by_webhook(self, api: httpx.AsyncClient, psp: Psp) -> None:
        payment = await create(api, psp)
        assert payment["status"] == "requires_payment_method"
        assert payment["provider_reference"].startswith(psp.reference_prefix)
        assert payment["payment_channel"] == psp.name
        assert payment["client_token"].startswith("ct_")

        await psp.pay(payment)

        done = await wait_for_status(api, payment["id"], "succeeded")
        assert done["status"] == "succeeded"
        assert done["last_error"] is None
        changes = await history(api, payment["id"])
        assert [c["to_status"] for c in changes] == ["requires_payment_method", "succeeded"]
        assert changes[-1]["source"] == "webhook"

    async def test_the_card_payload_is_what_stripe_js_needs(self, api: httpx.AsyncClient) -> None:
        payment = await create_payment(api)
        assert payment["payment_payload"]["publishable_key"] == "pk_test_sandbox"
        assert payment["payment_payload"]["client_secret"].startswith(
            payment["provider_reference"] + "_secret_"
        )

    async def test_the_provider_object_is_kept_and_can_be_refreshed(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await create(api, psp)
        detail = (await api.get(f"/v1/payments/{payment['id']}/detail")).json()
        assert detail["provider_object"]["id"] == payment["provider_reference"]
        assert detail["provider_object"]["metadata"]["payment_id"] == payment["id"]
        assert detail["provider_object_refreshed"] is False
        refreshed = (await api.get(f"/v1/payments/{payment['id']}/detail?refresh=true")).json()
        assert refreshed["provider_object_refreshed"] is True


class TestDeclinedCard:
    async def test_decline_keeps_the_payment_payable_then_a_good_card_succeeds(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await create_payment(api)
        secret = payment["payment_payload"]["client_secret"]

        declined = await stripe_js.confirm(secret, "4000000000000002")
        assert declined.status_code == 402
        after = await wait_for(api, payment["id"], lambda p: p["last_error"] is not None)
        assert after["status"] == "requires_payment_method"
        assert after["last_error"]["code"] == "card_declined"
        assert after["last_error"]["decline_code"] == "generic_decline"

        retried = await stripe_js.confirm(secret, "4242424242424242")
        assert retried.status_code == 200, retried.text
        done = await wait_for_status(api, payment["id"], "succeeded")
        assert done["last_error"] is None

    async def test_insufficient_funds_decline_code(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await create_payment(api)
        await stripe_js.confirm(
            payment["payment_payload"]["client_secret"], "pm_card_chargeDeclinedInsufficientFunds"
        )
        after = await wait_for(api, payment["id"], lambda p: p["last_error"] is not None)
        assert after["last_error"]["decline_code"] == "insufficient_funds"


class TestThreeDSecure:
    async def test_passed_challenge_goes_through_requires_action_to_succeeded(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await create_payment(api)
        response = await stripe_js.confirm(
            payment["payment_payload"]["client_secret"], "4000002500003155"
        )
        assert response.json()["status"] == "requires_action"
        assert (await wait_for_status(api, payment["id"], "requires_action"))["status"] == (
            "requires_action"
        )

        await stripe_js.complete_three_d_secure(payment["provider_reference"], passed=True)
        assert (await wait_for_status(api, payment["id"], "succeeded"))["status"] == "succeeded"
        statuses = [c["to_status"] for c in await history(api, payment["id"])]
        assert statuses == ["requires_payment_method", "requires_action", "succeeded"]

    async def test_failed_challenge_returns_the_payment_to_the_customer(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await create_payment(api)
        await stripe_js.confirm(
            payment["payment_payload"]["client_secret"], "pm_card_threeDSecure2Required"
        )
        await wait_for_status(api, payment["id"], "requires_action")

        await stripe_js.complete_three_d_secure(payment["provider_reference"], passed=False)
        after = await wait_for(
            api,
            payment["id"],
            lambda p: p["status"] == "requires_payment_method" and p["last_error"] is not None,
        )
        assert after["status"] == "requires_payment_method"
        assert after["last_error"]["code"] == "payment_intent_authentication_failure"


class TestOnePaymentPerOrder:
    async def test_asking_again_returns_the_open_payment(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        body = psp.body()
        first = await create(api, psp, body)
        again = await api.post("/v1/payments", json=body)
        assert again.status_code == 200
        assert again.json()["id"] == first["id"]
        assert again.json()["provider_reference"] == first["provider_reference"]

    async def test_a_coupon_cancels_the_old_object_and_makes_a_new_one(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        body = psp.body()
        first = await create(api, psp, body)
        discounted = await api.post("/v1/payments", json={**body, "amount": 1500})
        assert discounted.status_code == 201, discounted.text
        second = discounted.json()
        assert second["id"] != first["id"]
        assert second["provider_reference"] != first["provider_reference"]
        assert second["amount"] == 1500

        old = (await api.get(f"/v1/payments/{first['id']}")).json()
        assert old["status"] == "canceled"
        assert await psp.state(first["provider_reference"]) == "closed"
        listed = (await api.get("/v1/payments", params={"order_id": first["order_id"]})).json()
        assert [p["id"] for p in listed["data"]] == [second["id"], first["id"]]

    async def test_a_processing_payment_is_not_replaced(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient
    ) -> None:
        first = await create_payment(api)
        moved = await sandbox_admin.post(
            f"/_sandbox/payment_intents/{first['provider_reference']}/processing"
        )
        assert moved.status_code < 400, moved.text
        await wait_for_status(api, first["id"], "processing")

        refused = await api.post(
            "/v1/payments",
            json={"order_id": first["order_id"], "amount": 1500, "currency": "USD"},
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "payment_processing"
        assert refused.headers["content-type"] == "application/problem+json"

    async def test_a_paid_order_is_not_charged_again(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        body = psp.body()
        first = await create(api, psp, body)
        await psp.pay(first)
        await wait_for_status(api, first["id"], "succeeded")
        again = await api.post("/v1/payments", json=body)
        assert again.status_code == 409, again.text
        assert again.json()["code"] == "order_already_paid"
        assert again.json()["payment_id"] == first["id"]
        assert again.json()["payment_channel"] == psp.name


class TestCancelAndSync:
    async def test_cancel_closes_the_provider_object(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await create(api, psp)
        canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["status"] == "canceled"
        assert await psp.state(payment["provider_reference"]) == "closed"
        again = await api.post(f"/v1/payments/{payment['id']}/cancel")
        assert again.status_code == 200

    async def test_a_succeeded_payment_is_refunded_not_canceled(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await create(api, psp)
        await psp.pay(payment)
        await wait_for_status(api, payment["id"], "succeeded")
        refused = await api.post(f"/v1/payments/{payment['id']}/cancel")
        assert refused.status_code == 409
        assert refused.json()["code"] == "payment_already_succeeded"
        assert refused.json()["payment_channel"] == psp.name

    async def test_sync_pulls_a_change_the_webhook_has_not_brought(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        await psp.knobs.set(webhook_drop_rate=1.0)
        payment = await create(api, psp)
        await psp.pay(payment)
        assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == (
            "requires_payment_method"
        )
        synced = await api.post(f"/v1/payments/{payment['id']}/sync")
        assert synced.json()["status"] == "succeeded"


class TestZeroDecimalCurrency:
    async def test_jpy_is_never_multiplied(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await create_payment(api, amount=500, currency="JPY")
        assert payment["amount"] == 500
        intent = (
            await sandbox_admin.get(f"/v1/payment_intents/{payment['provider_reference']}")
        ).json()
        assert intent["amount"] == 500
        assert intent["currency"] == "jpy"


class TestListing:
    async def test_cursor_pagination_newest_first(self, api: httpx.AsyncClient) -> None:
        created = [await create_payment(api) for _ in range(5)]
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["starting_after"] = cursor
            page = (await api.get("/v1/payments", params=params)).json()
            seen += [p["id"] for p in page["data"]]
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
        assert seen == [p["id"] for p in reversed(created)]

    async def test_status_filter(self, api: httpx.AsyncClient) -> None:
        payment = await create_payment(api)
        await api.post(f"/v1/payments/{payment['id']}/cancel")
        canceled = (await api.get("/v1/payments", params={"status": "canceled"})).json()
        assert [p["id"] for p in canceled["data"]] == [payment["id"]]


class TestPublicRoutes:
    async def test_the_client_token_reads_one_payment(
        self, api: httpx.AsyncClient, api_server: Any
    ) -> None:
        payment = await create_payment(api)
        async with httpx.AsyncClient(base_url=api_server.url) as browser:
            ok = await browser.get(
                f"/v1/public/payments/{payment['id']}",
                headers={"X-Client-Token": payment["client_token"]},
            )
            assert ok.status_code == 200
            assert ok.json()["payment_payload"]["client_secret"].startswith("pi_")
            assert "order_id" not in ok.json()
            wrong = await browser.get(
                f"/v1/public/payments/{payment['id']}", headers={"X-Client-Token": "ct_nope"}
            )
            assert wrong.status_code == 401
            assert wrong.json()["code"] == "invalid_client_token"
            config = (await browser.get("/v1/public/config")).json()
            assert config == {
                "publishable_key": "pk_test_sandbox",
                "enabled_channels": [
                    "pingxx:alipay_pc_direct",
                    "pingxx:alipay_qr",
                    "pingxx:alipay_wap",
                    "pingxx:wx_lite",
                    "pingxx:wx_pub",
                    "pingxx:wx_pub_qr",
                    "pingxx:wx_wap",
                    "stripe:payment_intent",
                ],
                "default_channel": "stripe:payment_intent",
                "livemode": False,
            }

    async def test_health_and_readiness(self, api_server: Any) -> None:
        async with httpx.AsyncClient(base_url=api_server.url) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            assert (await client.get("/readyz")).json() == {"status": "ok"}
