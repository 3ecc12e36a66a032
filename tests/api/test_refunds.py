"""Refunds over real HTTP against PostgreSQL and the sandbox: never more than was paid."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.main import create_app
from sandbox.runner import ServerThread
from tests.conftest import API_KEY, make_settings
from tests.support.api import order_id, wait_for, wait_for_status
from tests.support.providers import Psp
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


async def paid(api: httpx.AsyncClient, psp: Psp, amount: int = 2000) -> dict[str, Any]:
    created = await api.post("/v1/payments", json=psp.body("refund", amount))
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    await psp.pay(payment)
    return await wait_for_status(api, payment["id"], "succeeded")


class TestRefundAmounts:
    async def test_partial_then_the_rest_then_nothing_more(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await paid(api, psp)
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
        assert one["currency"] == psp.currency
        at_provider = await psp.refunds(payment["provider_reference"])
        assert sorted(r["amount"] for r in at_provider) == [500, 1500]

    async def test_full_then_partial_is_refused(self, api: httpx.AsyncClient, psp: Psp) -> None:
        payment = await paid(api, psp, amount=900)
        full = await api.post(f"/v1/payments/{payment['id']}/refunds", json={})
        assert full.json()["amount"] == 900
        partial = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 100})
        assert partial.status_code == 409
        assert partial.json()["code"] == "refund_exceeds_captured"

    async def test_more_than_the_payment_is_refused_up_front(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await paid(api, psp, amount=1000)
        over = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 1001})
        assert over.status_code == 409
        assert over.json()["amount_refundable"] == 1000
        assert over.json()["payment_channel"] == psp.name
        assert await psp.refunds(payment["provider_reference"]) == []

    async def test_only_a_succeeded_payment_is_refunded(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        created = await api.post("/v1/payments", json=psp.body("unpaid", 700))
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
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await paid(api, psp, amount=2000)

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
        at_provider = await psp.refunds(payment["provider_reference"])
        assert sum(r["amount"] for r in at_provider) == 1950


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

    @pytest.mark.parametrize("settles", ["succeeded", "failed"])
    async def test_a_pending_refund_reserves_then_settles_by_webhook(
        self, api: httpx.AsyncClient, psp: Psp, settles: str
    ) -> None:
        payment = await paid(api, psp, amount=1000)
        await psp.knobs.set(refunds_pending=True)
        pending = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 600})
        assert pending.json()["status"] == "pending"
        reserved = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (reserved["amount_refunded"], reserved["amount_refund_pending"]) == (0, 600)
        over = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 500})
        assert over.status_code == 409

        reference = pending.json()["provider_reference"]
        await psp.settle_refund(reference, succeeded=settles == "succeeded")
        settled = await wait_for(api, payment["id"], lambda p: p["amount_refund_pending"] == 0)
        assert settled["amount_refunded"] == (600 if settles == "succeeded" else 0)
        refund = (await api.get(f"/v1/refunds/{pending.json()['id']}")).json()
        assert refund["status"] == settles

    async def test_provider_rejection_releases_the_reservation(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await paid(api, psp, amount=1000)
        # Refunded at the provider behind our back: it refuses the next refund.
        await psp.refund_outside(payment["provider_reference"], 1000)
        refused = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 400})
        assert refused.status_code in (409, 502)
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["amount_refund_pending"] == 0


class TestRefundRetries:
    async def test_a_lost_answer_then_a_retry_makes_one_refund_at_the_provider(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        payment = await paid(api, psp, amount=1500)
        headers = {"Idempotency-Key": "refund-retry-1"}
        await psp.knobs.set(lose_response_next=1)

        first = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": 700}, headers=headers
        )
        assert first.status_code == 503
        assert first.json()["code"] == "provider_unavailable"
        assert first.json()["retryable"] is True
        assert first.json()["payment_channel"] == psp.name

        retry = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": 700}, headers=headers
        )
        assert retry.status_code == 201, retry.text
        assert len(await psp.refunds(payment["provider_reference"])) == 1
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (after["amount_refunded"], after["amount_refund_pending"]) == (700, 0)

        replay = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": 700}, headers=headers
        )
        assert replay.content == retry.content
        assert replay.headers["Idempotent-Replayed"] == "true"

    async def test_a_real_timeout_then_a_retry_makes_one_refund_at_the_provider(
        self,
        api: httpx.AsyncClient,
        psp: Psp,
        database_url: str,
        stripe_sandbox: ServerThread,
        webhook_secret: str,
    ) -> None:
        """The provider is slower than our timeout: the refund is made, the answer is lost."""
        payment = await paid(api, psp, amount=1500)
        impatient = create_app(
            make_settings(
                database_url,
                stripe_sandbox.url,
                webhook_secret,
                **{**psp.settings, psp.timeout_setting: 0.3},
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
            await psp.knobs.set(latency_ms=1000)
            first = await client.post(url, json={"amount": 600})
            await psp.knobs.set(latency_ms=0)
            assert first.status_code == 503
            assert first.json()["code"] == "provider_unavailable"

            # The provider finishes the slow call on its own; the retry gets its stored answer.
            retry = await wait_for_response(
                client, url, {"amount": 600}, lambda r: r.status_code == 201
            )
        assert retry.json()["amount"] == 600
        assert len(await psp.refunds(payment["provider_reference"])) == 1
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
    """Retry as a caller would (the first is still running there: 503 or 409 meanwhile)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.post(url, json=body)
        if until(response) or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.2)
