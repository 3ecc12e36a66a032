"""`charge.refunded` beside the refund's own events, as Stripe sends them.

Stripe sends `charge.refunded` when a refund is created on a charge (a pending refund counts
against `amount_refunded` from then on), and `refund.created` with the refund itself; later
status changes come as `refund.updated` / `charge.refund.updated`, and `refund.failed`.
"""

from __future__ import annotations

import pytest
import stripe

from sandbox.testing import StripeSandboxControl, WebhookReceiver


async def paid_intent(client: stripe.StripeClient, amount: int = 5000) -> stripe.PaymentIntent:
    return await client.v1.payment_intents.create_async(
        {
            "amount": amount,
            "currency": "usd",
            "payment_method_types": ["card"],
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )


async def events_of(client: stripe.StripeClient, type_: str) -> list[stripe.Event]:
    listed = await client.v1.events.list_async({"type": type_, "limit": 100})
    return list(reversed(listed.data))


class TestChargeRefunded:
    @pytest.mark.asyncio
    async def test_each_succeeded_refund_emits_charge_refunded_with_the_running_total(
        self,
        client: stripe.StripeClient,
        registered_receiver: WebhookReceiver,
        sandbox: StripeSandboxControl,
    ) -> None:
        pi = await paid_intent(client)
        first = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 2000})
        second = await client.v1.refunds.create_async({"payment_intent": pi.id})
        assert (first.status, second.status) == ("succeeded", "succeeded")

        refunded = await events_of(client, "charge.refunded")
        charges = [e.data.object for e in refunded]
        assert [(c.id, c.amount_refunded, c.refunded) for c in charges] == [
            (pi.latest_charge, 2000, False),
            (pi.latest_charge, 5000, True),
        ]
        assert [r.id for r in charges[-1].refunds.data] == [second.id, first.id]
        assert refunded[0].data.previous_attributes.to_dict() == {
            "amount_refunded": 0,
            "refunded": False,
        }
        created = await events_of(client, "refund.created")
        assert [e.data.object.id for e in created] == [first.id, second.id]

        assert sandbox.drain()
        delivered = [e for e in registered_receiver.received if e["type"] == "charge.refunded"]
        assert sorted(e["data"]["object"]["amount_refunded"] for e in delivered) == [2000, 5000]

    @pytest.mark.asyncio
    async def test_a_pending_refund_emits_it_when_created_and_not_again_when_it_succeeds(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(refunds_pending=True)
        pi = await paid_intent(client)
        refund = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 1000})
        assert refund.status == "pending"
        sandbox.request("POST", f"/_sandbox/refunds/{refund.id}/succeed").raise_for_status()

        refunded = await events_of(client, "charge.refunded")
        assert [e.data.object.amount_refunded for e in refunded] == [1000]
        assert [e.data.object.status for e in await events_of(client, "refund.updated")] == [
            "succeeded"
        ]
        assert [e.data.object.id for e in await events_of(client, "charge.refund.updated")] == [
            refund.id
        ]

    @pytest.mark.asyncio
    async def test_a_failed_refund_gives_the_amount_back_without_another_charge_refunded(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(refunds_pending=True)
        pi = await paid_intent(client)
        refund = await client.v1.refunds.create_async({"payment_intent": pi.id})
        sandbox.request("POST", f"/_sandbox/refunds/{refund.id}/fail").raise_for_status()
        assert len(await events_of(client, "charge.refunded")) == 1
        assert [e.data.object.id for e in await events_of(client, "refund.failed")] == [refund.id]
        charge = await client.v1.charges.retrieve_async(pi.latest_charge)
        assert (charge.amount_refunded, charge.refunded) == (0, False)
