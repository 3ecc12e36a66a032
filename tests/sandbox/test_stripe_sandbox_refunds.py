"""Refunds: full, partial, over-refunds, pending and failed refunds, and their events."""

from __future__ import annotations

import asyncio

import pytest
import stripe

from sandbox.testing import StripeSandboxControl


async def paid_intent(
    client: stripe.StripeClient, amount: int = 5000, payment_method: str = "pm_card_visa"
) -> stripe.PaymentIntent:
    return await client.v1.payment_intents.create_async(
        {
            "amount": amount,
            "currency": "usd",
            "payment_method_types": ["card"],
            "payment_method": payment_method,
            "confirm": True,
        }
    )


class TestRefunds:
    @pytest.mark.asyncio
    async def test_full_refund_by_payment_intent(self, client: stripe.StripeClient) -> None:
        pi = await paid_intent(client)
        refund = await client.v1.refunds.create_async(
            {"payment_intent": pi.id, "reason": "requested_by_customer", "metadata": {"r": "1"}}
        )
        assert (refund.status, refund.amount, refund.charge) == (
            "succeeded",
            5000,
            pi.latest_charge,
        )
        assert refund.payment_intent == pi.id
        charge = await client.v1.charges.retrieve_async(pi.latest_charge)
        assert (charge.amount_refunded, charge.refunded) == (5000, True)
        assert [r.id for r in charge.refunds.data] == [refund.id]
        types = [e.type for e in (await client.v1.events.list_async({"limit": 3})).data]
        assert types[:2] == ["charge.refunded", "refund.created"]

    @pytest.mark.asyncio
    async def test_partial_refunds_up_to_the_captured_amount(
        self, client: stripe.StripeClient
    ) -> None:
        pi = await paid_intent(client)
        first = await client.v1.refunds.create_async({"charge": pi.latest_charge, "amount": 2000})
        with pytest.raises(stripe.InvalidRequestError) as too_much:
            await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 3001})
        assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
        rest = await client.v1.refunds.create_async({"payment_intent": pi.id})
        assert rest.amount == 3000
        with pytest.raises(stripe.InvalidRequestError) as again:
            await client.v1.refunds.create_async({"payment_intent": pi.id})
        assert again.value.code == "charge_already_refunded"
        listed = await client.v1.refunds.list_async({"payment_intent": pi.id})
        assert [r.id for r in listed.data] == [rest.id, first.id]
        fetched = await client.v1.refunds.retrieve_async(first.id)
        assert fetched.amount == 2000

    @pytest.mark.asyncio
    async def test_an_unpaid_intent_cannot_be_refunded(self, client: stripe.StripeClient) -> None:
        pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.refunds.create_async({"payment_intent": pi.id})


class TestRefundOutcomes:
    @pytest.mark.asyncio
    async def test_pending_refund_then_succeeded(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(refunds_pending=True)
        pi = await paid_intent(client)
        refund = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 1000})
        assert refund.status == "pending"
        done = sandbox.request("POST", f"/_sandbox/refunds/{refund.id}/succeed").json()
        assert done["status"] == "succeeded"
        events = await client.v1.events.list_async({"type": "refund.updated"})
        assert events.data[0].data.object.status == "succeeded"
        assert events.data[0].data.previous_attributes.status == "pending"

    @pytest.mark.asyncio
    async def test_pending_refund_then_failed_gives_the_amount_back(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(refunds_pending=True)
        pi = await paid_intent(client)
        refund = await client.v1.refunds.create_async({"payment_intent": pi.id})
        sandbox.request("POST", f"/_sandbox/refunds/{refund.id}/fail")
        failed = await client.v1.refunds.retrieve_async(refund.id)
        assert (failed.status, failed.failure_reason) == ("failed", "unknown")
        charge = await client.v1.charges.retrieve_async(pi.latest_charge)
        assert (charge.amount_refunded, charge.refunded) == (0, False)
        failed_events = await client.v1.events.list_async({"type": "refund.failed"})
        assert [e.data.object.id for e in failed_events.data] == [refund.id]

    @pytest.mark.asyncio
    async def test_refund_fail_card_fails_after_succeeding(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await paid_intent(client, payment_method="pm_card_refundFail")
        refund = await client.v1.refunds.create_async({"payment_intent": pi.id})
        assert refund.status == "succeeded"
        for _ in range(50):
            refund = await client.v1.refunds.retrieve_async(refund.id)
            if refund.status == "failed":
                break
            await asyncio.sleep(0.05)
        assert (refund.status, refund.failure_reason) == ("failed", "expired_or_canceled_card")
