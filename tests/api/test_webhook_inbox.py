"""The inbox keeps every event until it is handled, imports what was done at Stripe
directly, records disputes, and believes nothing that contradicts itself or comes late."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.container import Container, build_container
from app.workers.janitor import build_reconciler
from sandbox.runner import ServerThread
from tests.conftest import make_settings
from tests.support.api import order_id, signed_stripe_post, wait_for, wait_for_status
from tests.support.sandbox import Knobs, stripe_event, stripe_events, stripe_object
from tests.support.stripe_js import StripeJs


@pytest.fixture
async def container(
    db: AsyncEngine, database_url: str, stripe_sandbox: ServerThread, webhook_secret: str
) -> AsyncIterator[Container]:
    """The services in this process (the janitor's), for which everything is stale."""
    built = await build_container(
        make_settings(
            database_url, stripe_sandbox.url, webhook_secret, reconcile_stale_after_seconds=0
        )
    )
    yield built
    await built.aclose()


async def created(api: httpx.AsyncClient, amount: int = 2000) -> dict[str, Any]:
    response = await api.post(
        "/v1/payments", json={"order_id": order_id("inbox"), "amount": amount, "currency": "USD"}
    )
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def paid(api: httpx.AsyncClient, stripe_js: StripeJs, amount: int = 2000) -> dict[str, Any]:
    payment = await created(api, amount)
    confirmed = await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")
    assert confirmed.status_code == 200, confirmed.text
    return await wait_for_status(api, payment["id"], "succeeded")


async def deliver(api: httpx.AsyncClient, event: dict[str, Any], secret: str) -> httpx.Response:
    body, headers = signed_stripe_post(event, secret)
    return await api.post("/v1/webhooks/stripe", content=body, headers=headers)


async def events_of(api: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    listed = (await api.get("/v1/events", params={"payment_id": payment_id, "limit": 100})).json()
    events: list[dict[str, Any]] = list(reversed(listed["data"]))
    return events


async def inbox_row(db: AsyncEngine, event_id: str) -> dict[str, Any]:
    async with db.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT * FROM webhook_events WHERE event_id = :e"), {"e": event_id}
            )
        ).one()
    return dict(row._mapping)


async def dashboard_refund(admin: httpx.AsyncClient, intent: str, amount: int) -> dict[str, Any]:
    """A refund made in the Stripe dashboard: no metadata of ours."""
    response = await admin.post("/v1/refunds", data={"payment_intent": intent, "amount": amount})
    assert response.status_code == 200, response.text
    refund: dict[str, Any] = response.json()
    return refund


class TestUnprocessedEventsAreRetried:
    async def test_an_event_whose_provider_read_failed_is_handled_by_the_janitor(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        knobs: Knobs,
        container: Container,
        db: AsyncEngine,
        webhook_secret: str,
    ) -> None:
        await knobs.set(webhooks_enabled=False)
        payment = await created(api)
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "4000002500003155")
        [event] = await stripe_events(
            sandbox_admin, "payment_intent.requires_action", id=payment["provider_reference"]
        )
        await knobs.set(failure_rate=1.0, failure_status=503)
        refused = await deliver(api, event, webhook_secret)
        assert refused.status_code == 503, refused.text
        assert (await inbox_row(db, event["id"]))["processed_at"] is None

        await knobs.set(failure_rate=0.0)
        async with db.begin() as connection:  # the retry comes due
            await connection.execute(text("UPDATE webhook_events SET retry_at = now()"))
        report = await build_reconciler(container).run_once()

        assert report.webhooks_retried == 1
        row = await inbox_row(db, event["id"])
        assert (row["outcome"], row["attempts"]) == ("applied", 1)
        assert row["processed_at"] is not None
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert current["status"] == "requires_action"


class TestRefundsMadeAtStripe:
    async def test_two_events_for_one_dashboard_refund_import_it_once(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        knobs: Knobs,
        webhook_secret: str,
    ) -> None:
        payment = await paid(api, stripe_js)
        await sandbox_admin.post("/_sandbox/webhooks/drain", json={"timeout": 5})
        await knobs.set(webhooks_enabled=False)
        refund = await dashboard_refund(sandbox_admin, payment["provider_reference"], 700)
        events = [
            stripe_event(kind, refund, created=refund["created"], event_id=f"evt_dash_{n}")
            for n, kind in enumerate(("refund.created", "refund.updated", "refund.created"))
        ]

        answers = await asyncio.gather(*(deliver(api, e, webhook_secret) for e in events))

        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        assert [(r["amount"], r["provider_reference"], r["status"]) for r in refunds] == [
            (700, refund["id"], "succeeded")
        ]
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (after["amount_refunded"], after["refund_status"]) == (700, "partial")

    async def test_a_dashboard_refund_larger_than_what_we_hold_is_recorded(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        knobs: Knobs,
        container: Container,
    ) -> None:
        """Our refund of 1500 never reached Stripe (its outcome is unknown to us), and an
        operator refunded all 2000 in the dashboard: Stripe's word stands."""
        payment = await paid(api, stripe_js)
        await knobs.set(failure_rate=1.0, failure_status=503)
        ours = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 1500})
        assert ours.status_code == 503, ours.text
        await knobs.set(failure_rate=0.0)
        dashboard = await dashboard_refund(sandbox_admin, payment["provider_reference"], 2000)

        recorded = await wait_for(api, payment["id"], lambda p: p["amount_refunded"] == 2000)
        assert (recorded["refund_status"], recorded["amount_refund_pending"]) == ("full", 1500)
        refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        imported = [r for r in refunds if r["provider_reference"] == dashboard["id"]]
        assert [(r["amount"], r["status"]) for r in imported] == [(2000, "succeeded")]
        types = [e["type"] for e in await events_of(api, payment["id"])]
        assert types.count("refund.succeeded") == 1

        # Our own refund, repeated by the janitor, is refused by Stripe and released.
        await build_reconciler(container).run_once()
        final = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (final["amount_refunded"], final["amount_refund_pending"]) == (2000, 0)
        refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        assert sorted((r["amount"], r["status"]) for r in refunds) == [
            (1500, "failed"),
            (2000, "succeeded"),
        ]

    async def test_charge_refunded_alone_is_enough_to_import_the_refund(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        knobs: Knobs,
        webhook_secret: str,
    ) -> None:
        payment = await paid(api, stripe_js)
        await sandbox_admin.post("/_sandbox/webhooks/drain", json={"timeout": 5})
        await knobs.set(webhooks_enabled=False)
        refund = await dashboard_refund(sandbox_admin, payment["provider_reference"], 800)
        [event] = await stripe_events(
            sandbox_admin, "charge.refunded", payment_intent=payment["provider_reference"]
        )

        answer = await deliver(api, event, webhook_secret)

        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == "applied"
        refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        assert [(r["amount"], r["provider_reference"]) for r in refunds] == [(800, refund["id"])]


class TestDisputes:
    async def test_a_dispute_is_recorded_and_announced_opened_and_closed(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid(api, stripe_js)
        opened = await sandbox_admin.post(
            f"/_sandbox/payment_intents/{payment['provider_reference']}/dispute",
            json={"reason": "fraudulent"},
        )
        assert opened.status_code == 200, opened.text
        dispute = opened.json()
        disputed = await wait_for(api, payment["id"], lambda p: p["dispute"] is not None)
        assert disputed["dispute"] == {
            "id": dispute["id"],
            "status": "needs_response",
            "amount": 2000,
            "currency": "USD",
            "reason": "fraudulent",
        }
        assert disputed["status"] == "succeeded"

        closed = await sandbox_admin.post(
            f"/_sandbox/disputes/{dispute['id']}/close", json={"status": "won"}
        )
        assert closed.status_code == 200, closed.text
        won = await wait_for(api, payment["id"], lambda p: p["dispute"]["status"] == "won")
        assert won["dispute"]["status"] == "won"
        announced = [
            e for e in await events_of(api, payment["id"]) if e["type"] == "payment.disputed"
        ]
        assert announced[0]["data"]["dispute"]["status"] == "needs_response"
        assert announced[-1]["data"]["dispute"]["status"] == "won"

    async def test_a_late_created_does_not_undo_closed(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        knobs: Knobs,
        webhook_secret: str,
    ) -> None:
        payment = await paid(api, stripe_js)
        await sandbox_admin.post("/_sandbox/webhooks/drain", json={"timeout": 5})
        await knobs.set(webhooks_enabled=False)
        dispute = (
            await sandbox_admin.post(
                f"/_sandbox/payment_intents/{payment['provider_reference']}/dispute", json={}
            )
        ).json()
        await sandbox_admin.post(
            f"/_sandbox/disputes/{dispute['id']}/close", json={"status": "lost"}
        )
        [created] = await stripe_events(sandbox_admin, "charge.dispute.created", id=dispute["id"])
        [closed] = await stripe_events(sandbox_admin, "charge.dispute.closed", id=dispute["id"])
        closed["created"] = created["created"] + 1

        assert (await deliver(api, closed, webhook_secret)).json()["outcome"] == "applied"
        assert (await deliver(api, created, webhook_secret)).json()["outcome"] == "stale"

        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert current["dispute"]["status"] == "lost"


class TestNothingContradictoryOrLateIsBelieved:
    async def test_a_success_with_another_amount_received_is_flagged(
        self,
        api: httpx.AsyncClient,
        sandbox_admin: httpx.AsyncClient,
        webhook_secret: str,
    ) -> None:
        payment = await created(api)
        # Stripe's own events for the PaymentIntent first: a read of the real one (not
        # paid) would rightly clear the flag again.
        await sandbox_admin.post("/_sandbox/webhooks/drain", json={"timeout": 5})
        intent = await stripe_object(
            sandbox_admin, f"/v1/payment_intents/{payment['provider_reference']}"
        )
        intent.update(status="succeeded", amount_received=1000)
        event = stripe_event(
            "payment_intent.succeeded", intent, created=intent["created"], event_id="evt_half"
        )

        answer = await deliver(api, event, webhook_secret)

        assert answer.json()["outcome"] == "flagged"
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert current["status"] == "requires_payment_method"
        assert current["last_error"]["code"] == "amount_received_mismatch"

    async def test_a_refused_late_event_leaves_the_stored_provider_object(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        webhook_secret: str,
    ) -> None:
        payment = await paid(api, stripe_js)
        intent = await stripe_object(
            sandbox_admin, f"/v1/payment_intents/{payment['provider_reference']}"
        )
        late = {**intent, "status": "canceled", "cancellation_reason": "abandoned"}
        event = stripe_event(
            "payment_intent.canceled", late, created=intent["created"], event_id="evt_late"
        )

        assert (await deliver(api, event, webhook_secret)).json()["outcome"] == "ignored"

        detail = (await api.get(f"/v1/payments/{payment['id']}/detail")).json()
        assert detail["payment"]["status"] == "succeeded"
        assert detail["provider_object"]["status"] == "succeeded"

    async def test_a_final_state_read_late_is_applied_not_dropped(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        knobs: Knobs,
        db: AsyncEngine,
    ) -> None:
        """A read that began before the last applied one is stale, unless what it read is
        final: a succeeded PaymentIntent cannot have been overtaken."""
        payment = await created(api)
        await knobs.set(webhooks_enabled=False)
        async with db.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE payments SET provider_observed_at = now() + interval '1 day' "
                    "WHERE id = :p"
                ),
                {"p": payment["id"]},
            )
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")

        synced = await api.post(f"/v1/payments/{payment['id']}/sync")

        assert synced.status_code == 200, synced.text
        assert synced.json()["status"] == "succeeded"
