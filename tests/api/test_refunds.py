"""Refunds over real HTTP against PostgreSQL and the sandbox: never more than was paid."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from app.main import create_app
from sandbox.runner import ServerThread
from tests.conftest import API_KEY, make_settings
from tests.support.api import order_id, wait_for, wait_for_status
from tests.support.stripe_js import StripeJs


async def paid_payment(
    api: httpx.AsyncClient, stripe_js: StripeJs, *, amount: int = 2000, card: str = "pm_card_visa"
) -> dict[str, Any]:
    created = await api.post(
        "/v1/payments", json={"order_id": order_id("refund"), "amount": amount, "currency": "USD"}
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    confirmed = await stripe_js.confirm(payment["payment_payload"]["client_secret"], card)
    assert confirmed.status_code == 200, confirmed.text
    return await wait_for_status(api, payment["id"], "succeeded")


async def sandbox_refunds(sandbox_admin: httpx.AsyncClient, intent: str) -> list[dict[str, Any]]:
    listed = (
        await sandbox_admin.get("/v1/refunds", params={"payment_intent": intent, "limit": 100})
    ).json()
    refunds: list[dict[str, Any]] = listed["data"]
    return refunds


class TestRefundAmounts:
    async def test_partial_then_the_rest_then_nothing_more(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await paid_payment(api, stripe_js)
        pay = payment["id"]

        partial = await api.post(f"/v1/payments/{pay}/refunds", json={"amount": 500})
        assert partial.status_code == 201, partial.text
        assert partial.json()["status"] == "succeeded"
        after = (await api.get(f"/v1/payments/{pay}")).json()
        assert (after["amount_refunded"], after["refund_status"]) == (500, "partial")

        rest = await api.post(
            f"/v1/payments/{pay}/refunds", json={"reason": "requested_by_customer"}
        )
        assert rest.status_code == 201, rest.text
        assert rest.json()["amount"] == 1500
        after = (await api.get(f"/v1/payments/{pay}")).json()
        assert (after["amount_refunded"], after["refund_status"]) == (2000, "full")

        over = await api.post(f"/v1/payments/{pay}/refunds", json={"amount": 1})
        assert over.status_code == 409
        assert over.json()["code"] == "refund_exceeds_captured"
        listed = (await api.get(f"/v1/payments/{pay}/refunds")).json()["data"]
        assert sorted(r["amount"] for r in listed) == [500, 1500]
        one = (await api.get(f"/v1/refunds/{listed[0]['id']}")).json()
        assert one["payment_id"] == pay

    async def test_full_then_partial_is_refused(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await paid_payment(api, stripe_js, amount=900)
        full = await api.post(f"/v1/payments/{payment['id']}/refunds", json={})
        assert full.json()["amount"] == 900
        partial = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 100})
        assert partial.status_code == 409
        assert partial.json()["code"] == "refund_exceeds_captured"

    async def test_more_than_the_payment_is_refused_up_front(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid_payment(api, stripe_js, amount=1000)
        over = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 1001})
        assert over.status_code == 409
        assert over.json()["amount_refundable"] == 1000
        assert await sandbox_refunds(sandbox_admin, payment["provider_reference"]) == []

    async def test_only_a_succeeded_payment_is_refunded(self, api: httpx.AsyncClient) -> None:
        created = await api.post(
            "/v1/payments", json={"order_id": order_id("unpaid"), "amount": 700, "currency": "USD"}
        )
        refused = await api.post(f"/v1/payments/{created.json()['id']}/refunds", json={})
        assert refused.status_code == 409
        assert refused.json()["code"] == "payment_not_refundable"

    async def test_bad_amounts_are_422(self, api: httpx.AsyncClient, stripe_js: StripeJs) -> None:
        payment = await paid_payment(api, stripe_js, amount=1000)
        for amount in (0, -5, 1.5, "10"):
            response = await api.post(
                f"/v1/payments/{payment['id']}/refunds", json={"amount": amount}
            )
            assert response.status_code == 422, amount
        unknown_reason = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"reason": "because"}
        )
        assert unknown_reason.status_code == 422


class TestConcurrentRefunds:
    async def test_twenty_concurrent_partials_never_exceed_the_payment(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid_payment(api, stripe_js, amount=2000)

        responses = await asyncio.gather(
            *(
                api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 150})
                for _ in range(20)
            )
        )

        accepted = [r for r in responses if r.status_code == 201]
        refused = [r for r in responses if r.status_code != 201]
        assert len(accepted) == 13  # 13 x 150 = 1950; a 14th would make 2100
        assert {r.status_code for r in refused} == {409}
        assert {r.json()["code"] for r in refused} == {"refund_exceeds_captured"}
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["amount_refunded"] == 1950
        at_stripe = await sandbox_refunds(sandbox_admin, payment["provider_reference"])
        assert sum(r["amount"] for r in at_stripe) == 1950


class TestRefundFailures:
    async def test_a_refund_that_fails_after_acceptance_releases_its_amount(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        # Stripe's test card whose refunds succeed, then fail asynchronously.
        payment = await paid_payment(api, stripe_js, amount=1200, card="4000000000005126")
        refund = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 1200})
        assert refund.status_code == 201, refund.text

        after = await wait_for(
            api,
            payment["id"],
            lambda p: p["amount_refunded"] == 0 and p["amount_refund_pending"] == 0,
        )
        assert after["refund_status"] == "none"
        failed = (await api.get(f"/v1/refunds/{refund.json()['id']}")).json()
        assert failed["status"] == "failed"
        again = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 1200})
        assert again.status_code == 201

    async def test_a_pending_refund_reserves_then_settles_by_webhook(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid_payment(api, stripe_js, amount=1000)
        await sandbox_admin.post("/_sandbox/config", json={"refunds_pending": True})
        try:
            pending = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 600})
        finally:
            await sandbox_admin.post("/_sandbox/config", json={"refunds_pending": False})
        assert pending.json()["status"] == "pending"
        reserved = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (reserved["amount_refunded"], reserved["amount_refund_pending"]) == (0, 600)
        over = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 500})
        assert over.status_code == 409

        reference = pending.json()["provider_reference"]
        await sandbox_admin.post(f"/_sandbox/refunds/{reference}/fail")
        released = await wait_for(api, payment["id"], lambda p: p["amount_refund_pending"] == 0)
        assert released["amount_refunded"] == 0
        assert (await api.get(f"/v1/refunds/{pending.json()['id']}")).json()["status"] == "failed"

    async def test_provider_rejection_releases_the_reservation(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid_payment(api, stripe_js, amount=1000)
        # Refunded at Stripe behind our back: Stripe refuses the next refund.
        outside = await sandbox_admin.post(
            "/v1/refunds", data={"payment_intent": payment["provider_reference"]}
        )
        assert outside.status_code == 200, outside.text
        refused = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 400})
        assert refused.status_code in (409, 502)
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["amount_refund_pending"] == 0


class TestRefundRetries:
    async def test_a_lost_answer_then_a_retry_makes_one_refund_at_stripe(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid_payment(api, stripe_js, amount=1500)
        headers = {"Idempotency-Key": "refund-retry-1"}
        await sandbox_admin.post("/_sandbox/config", json={"lose_response_next": 1})

        first = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": 700}, headers=headers
        )
        assert first.status_code == 503
        assert first.json()["code"] == "provider_unavailable"
        assert first.json()["retryable"] is True

        retry = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": 700}, headers=headers
        )
        assert retry.status_code == 201, retry.text
        assert len(await sandbox_refunds(sandbox_admin, payment["provider_reference"])) == 1
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (after["amount_refunded"], after["amount_refund_pending"]) == (700, 0)

        replay = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": 700}, headers=headers
        )
        assert replay.content == retry.content
        assert replay.headers["Idempotent-Replayed"] == "true"

    async def test_a_real_timeout_then_a_retry_makes_one_refund_at_stripe(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        database_url: str,
        stripe_sandbox: ServerThread,
        webhook_secret: str,
    ) -> None:
        """Stripe is slower than our timeout: the refund is made there, the answer is lost."""
        payment = await paid_payment(api, stripe_js, amount=1500)
        impatient = create_app(
            make_settings(
                database_url, stripe_sandbox.url, webhook_secret, stripe_timeout_seconds=0.3
            )
        )
        headers = {"Idempotency-Key": "refund-timeout-1", "Authorization": f"Bearer {API_KEY}"}
        url = f"/v1/payments/{payment['id']}/refunds"
        async with (
            impatient.router.lifespan_context(impatient),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(impatient), base_url="http://api", headers=headers
            ) as client,
        ):
            await sandbox_admin.post("/_sandbox/config", json={"latency_ms": 1000})
            try:
                first = await client.post(url, json={"amount": 600})
            finally:
                await sandbox_admin.post("/_sandbox/config", json={"latency_ms": 0})
            assert first.status_code == 503
            assert first.json()["code"] == "provider_unavailable"

            # Stripe finishes the slow call on its own; the retry gets its stored answer.
            retry = await wait_for_response(
                client, url, {"amount": 600}, lambda r: r.status_code == 201
            )
        assert retry.json()["amount"] == 600
        assert len(await sandbox_refunds(sandbox_admin, payment["provider_reference"])) == 1
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (after["amount_refunded"], after["amount_refund_pending"]) == (600, 0)


async def wait_for_response(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    until: Callable[[httpx.Response], bool],
    *,
    seconds: float = 10,
) -> httpx.Response:
    """Retry as a caller would (the first is still running at Stripe: 503 or 409 meanwhile)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.post(url, json=body)
        if until(response) or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.2)
