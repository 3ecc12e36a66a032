"""Disputes opened by the bank (a /_sandbox control), read with the SDK, and their events."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from sandbox.testing import StripeSandboxControl, WebhookReceiver


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


def control(sandbox: StripeSandboxControl, path: str, body: dict[str, Any] | None = None) -> Any:
    response = sandbox.request("POST", path, body or {})
    assert response.status_code == 200, response.text
    return response.json()


def fields_of(cls: type) -> set[str]:
    return {name for name in cls.__annotations__ if not name.isupper()}


async def event_types(client: stripe.StripeClient, prefix: str = "charge.dispute.*") -> list[str]:
    listed = await client.v1.events.list_async({"type": prefix, "limit": 100})
    return [e.type for e in reversed(listed.data)]


class TestOpen:
    @pytest.mark.asyncio
    async def test_a_dispute_has_every_field_of_the_sdks_dispute(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await paid_intent(client)
        opened = control(
            sandbox, f"/_sandbox/payment_intents/{pi.id}/dispute", {"reason": "fraudulent"}
        )
        assert opened["id"].startswith("dp_")
        assert fields_of(stripe.Dispute) <= set(opened)
        assert fields_of(stripe.Dispute.Evidence) <= set(opened["evidence"])
        assert fields_of(stripe.Dispute.EvidenceDetails) <= set(opened["evidence_details"])
        card = opened["payment_method_details"]["card"]
        assert fields_of(stripe.Dispute.PaymentMethodDetails.Card) <= set(card)

        dispute = await client.v1.disputes.retrieve_async(opened["id"])
        assert isinstance(dispute, stripe.Dispute)
        assert (dispute.amount, dispute.currency, dispute.reason) == (5000, "usd", "fraudulent")
        assert (dispute.charge, dispute.payment_intent) == (pi.latest_charge, pi.id)
        assert dispute.status == "needs_response"
        assert dispute.is_charge_refundable is False
        assert dispute.evidence_details.due_by > dispute.created
        assert card["case_type"] == "chargeback"
        assert dispute.network_reason_code == "10.4"
        withdrawal = dispute.balance_transactions[0]
        assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-5000, 1500, -6500)
        assert withdrawal.reporting_category == "dispute"

        charge = await client.v1.charges.retrieve_async(pi.latest_charge)
        assert charge.disputed is True
        assert await event_types(client) == [
            "charge.dispute.created",
            "charge.dispute.funds_withdrawn",
        ]
        created = (await client.v1.events.list_async({"type": "charge.dispute.created"})).data[0]
        assert created.data.object.id == dispute.id

    @pytest.mark.asyncio
    async def test_a_partial_dispute_and_the_controls_refusals(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        unpaid = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        no_charge = sandbox.request("POST", f"/_sandbox/payment_intents/{unpaid.id}/dispute", {})
        assert no_charge.status_code == 400
        pi = await paid_intent(client)
        path = f"/_sandbox/payment_intents/{pi.id}/dispute"
        too_much = sandbox.request("POST", path, {"amount": 5001})
        assert (too_much.status_code, too_much.json()["error"]["param"]) == (400, "amount")
        bad_reason = sandbox.request("POST", path, {"reason": "bored"})
        assert bad_reason.json()["error"]["param"] == "reason"
        partial = control(sandbox, path, {"amount": 1200})
        assert partial["amount"] == 1200
        assert partial["reason"] == "general"
        again = sandbox.request("POST", path, {})
        assert again.status_code == 400

    @pytest.mark.asyncio
    async def test_a_disputed_charge_cannot_be_refunded(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await paid_intent(client)
        control(sandbox, f"/_sandbox/payment_intents/{pi.id}/dispute", {"reason": "fraudulent"})
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.refunds.create_async({"payment_intent": pi.id})
        assert caught.value.code == "charge_disputed"
        assert "charged back" in str(caught.value)


class TestLifecycle:
    @pytest.mark.asyncio
    async def test_under_review_then_won(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await paid_intent(client)
        dp = control(sandbox, f"/_sandbox/payment_intents/{pi.id}/dispute")
        reviewed = control(
            sandbox, f"/_sandbox/disputes/{dp['id']}/update", {"status": "under_review"}
        )
        assert reviewed["status"] == "under_review"
        won = control(sandbox, f"/_sandbox/disputes/{dp['id']}/close", {"status": "won"})
        assert won["status"] == "won"
        assert [t["amount"] for t in won["balance_transactions"]] == [-5000, 5000]
        assert await event_types(client) == [
            "charge.dispute.created",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.updated",
            "charge.dispute.funds_reinstated",
            "charge.dispute.closed",
        ]
        updated = (await client.v1.events.list_async({"type": "charge.dispute.updated"})).data[0]
        assert updated.data.previous_attributes.status == "needs_response"
        closed = (await client.v1.events.list_async({"type": "charge.dispute.closed"})).data[0]
        assert closed.data.object.status == "won"
        assert closed.data.previous_attributes.status == "under_review"
        reopened = sandbox.request(
            "POST", f"/_sandbox/disputes/{dp['id']}/close", {"status": "lost"}
        )
        assert reopened.status_code == 400

    @pytest.mark.asyncio
    async def test_lost(self, client: stripe.StripeClient, sandbox: StripeSandboxControl) -> None:
        pi = await paid_intent(client)
        dp = sandbox.open_dispute(pi.id, "product_not_received")
        bad = sandbox.request("POST", f"/_sandbox/disputes/{dp['id']}/close", {"status": "maybe"})
        assert bad.status_code == 400
        lost = sandbox.close_dispute(dp["id"], "lost")
        assert lost["status"] == "lost"
        assert len(lost["balance_transactions"]) == 1
        fetched = await client.v1.disputes.retrieve_async(dp["id"])
        assert fetched.status == "lost"
        assert (await event_types(client))[-1] == "charge.dispute.closed"

    @pytest.mark.asyncio
    async def test_an_inquiry_moves_no_money_until_it_becomes_a_chargeback(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await paid_intent(client)
        dp = control(
            sandbox,
            f"/_sandbox/payment_intents/{pi.id}/dispute",
            {"status": "warning_needs_response"},
        )
        assert (dp["is_charge_refundable"], dp["balance_transactions"]) == (True, [])
        assert dp["payment_method_details"]["card"]["case_type"] == "inquiry"
        escalated = control(
            sandbox, f"/_sandbox/disputes/{dp['id']}/update", {"status": "needs_response"}
        )
        assert escalated["is_charge_refundable"] is False
        assert len(escalated["balance_transactions"]) == 1
        assert await event_types(client) == [
            "charge.dispute.created",
            "charge.dispute.updated",
            "charge.dispute.funds_withdrawn",
        ]

    @pytest.mark.asyncio
    async def test_an_inquiry_can_be_refunded_and_closed(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await paid_intent(client)
        dp = control(
            sandbox,
            f"/_sandbox/payment_intents/{pi.id}/dispute",
            {"status": "warning_needs_response"},
        )
        refund = await client.v1.refunds.create_async({"payment_intent": pi.id})
        assert refund.status == "succeeded"
        closed = control(
            sandbox, f"/_sandbox/disputes/{dp['id']}/close", {"status": "warning_closed"}
        )
        assert closed["status"] == "warning_closed"


class TestList:
    @pytest.mark.asyncio
    async def test_list_filters_by_charge_and_payment_intent(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        first = await paid_intent(client)
        second = await paid_intent(client, 7000)
        dp_first = control(sandbox, f"/_sandbox/payment_intents/{first.id}/dispute")
        dp_second = control(sandbox, f"/_sandbox/payment_intents/{second.id}/dispute")
        everything = await client.v1.disputes.list_async()
        assert [d.id for d in everything.data] == [dp_second["id"], dp_first["id"]]
        by_pi = await client.v1.disputes.list_async({"payment_intent": first.id})
        assert [d.id for d in by_pi.data] == [dp_first["id"]]
        by_charge = await client.v1.disputes.list_async({"charge": second.latest_charge})
        assert [d.id for d in by_charge.data] == [dp_second["id"]]
        expanded = await client.v1.disputes.retrieve_async(dp_first["id"], {"expand": ["charge"]})
        assert isinstance(expanded.charge, stripe.Charge)
        assert expanded.charge.disputed is True
        with pytest.raises(stripe.InvalidRequestError) as missing:
            await client.v1.disputes.retrieve_async("dp_nope")
        assert missing.value.http_status == 404


@pytest.mark.asyncio
async def test_dispute_events_are_delivered_signed(
    client: stripe.StripeClient,
    sandbox: StripeSandboxControl,
    registered_receiver: WebhookReceiver,
) -> None:
    pi = await paid_intent(client)
    dp = control(sandbox, f"/_sandbox/payment_intents/{pi.id}/dispute", {"reason": "duplicate"})
    assert sandbox.drain()
    assert registered_receiver.rejected == []
    disputed = [e for e in registered_receiver.received if e["type"].startswith("charge.dispute.")]
    assert sorted(e["type"] for e in disputed) == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]
    assert {e["data"]["object"]["id"] for e in disputed} == {dp["id"]}
