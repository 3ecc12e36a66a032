"""The reconciliation janitor against real PostgreSQL and the sandboxes over HTTP.

Webhooks are dropped in every scenario here: otherwise the webhook path would repair the
row before the janitor got to it, and the test would prove nothing about the janitor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.container import Container, build_container
from app.core.settings import Settings
from app.services.reconciliation import Reconciler
from app.workers.janitor import build_reconciler, run_janitor
from sandbox.testing import PingxxSandboxControl
from tests.support.api import order_id, wait_for_status
from tests.support.providers import Psp
from tests.support.sandbox import PingxxKnobs
from tests.support.stripe_js import StripeJs

SANDBOX_DEFAULTS: dict[str, Any] = {
    "webhook_drop_rate": 0.0,
    "lose_response_next": 0,
    "refunds_pending": False,
    "latency_ms": 0,
}


@pytest.fixture
async def container(db: AsyncEngine, settings: Settings) -> AsyncIterator[Container]:
    settings = settings.model_copy(
        update={"reconcile_stale_after_seconds": 0, "reconcile_interval_seconds": 0.05}
    )
    built = await build_container(settings)
    yield built
    await built.aclose()


@pytest.fixture
async def sandbox(sandbox_admin: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's controls, put back to their defaults whatever the test did."""
    try:
        yield sandbox_admin
    finally:
        await sandbox_admin.post("/_sandbox/config", json=SANDBOX_DEFAULTS)


def reconciler(container: Container) -> Reconciler:
    return build_reconciler(container)


async def make_due(engine: AsyncEngine) -> None:
    """Time passes: every open payment's next check comes due (the API that made them
    schedules the first check `PAYMENTS_RECONCILE_STALE_AFTER_SECONDS` after a change)."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE payments SET next_reconcile_at = now() - interval '1 second' "
                "WHERE next_reconcile_at IS NOT NULL"
            )
        )


async def configure(sandbox: httpx.AsyncClient, **settings: Any) -> None:
    response = await sandbox.post("/_sandbox/config", json=settings)
    assert response.status_code == 200, response.text


async def sandbox_objects(sandbox: httpx.AsyncClient, kind: str) -> int:
    stats = (await sandbox.get("/_sandbox/stats")).json()
    return int(stats["objects"].get(kind, 0))


async def outbox_count(engine: AsyncEngine, event_type: str, payment_id: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM outbox_events WHERE payment_id = :p AND type = :t"),
            {"p": payment_id, "t": event_type},
        )
    return int(count or 0)


async def create_payment(api: httpx.AsyncClient, amount: int = 2000) -> dict[str, Any]:
    created = await api.post(
        "/v1/payments", json={"order_id": order_id("janitor"), "amount": amount, "currency": "USD"}
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    return payment


async def paid_without_webhook(
    api: httpx.AsyncClient, stripe_js: StripeJs, sandbox: httpx.AsyncClient
) -> dict[str, Any]:
    """Paid at Stripe, but the webhook that would say so never arrives."""
    await configure(sandbox, webhook_drop_rate=1.0)
    payment = await create_payment(api)
    confirmed = await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    current = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert current["status"] == "requires_payment_method"
    return payment


async def create_with_lost_answer(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> dict[str, Any]:
    """Stripe made the PaymentIntent; the answer never reached us."""
    await configure(sandbox, webhook_drop_rate=1.0, lose_response_next=1)
    order = order_id("janitor-lost")
    response = await api.post(
        "/v1/payments", json={"order_id": order, "amount": 1500, "currency": "USD"}
    )
    assert response.status_code == 503, response.text
    listed = (await api.get("/v1/payments", params={"order_id": order})).json()["data"]
    assert len(listed) == 1
    payment: dict[str, Any] = listed[0]
    assert payment["provider_reference"] is None
    assert payment["status"] == "requires_payment_method"
    return payment


async def paid_payment(api: httpx.AsyncClient, stripe_js: StripeJs) -> dict[str, Any]:
    payment = await create_payment(api)
    confirmed = await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")
    assert confirmed.status_code == 200, confirmed.text
    return await wait_for_status(api, payment["id"], "succeeded")


async def sandbox_refunds(sandbox: httpx.AsyncClient, intent: str) -> list[dict[str, Any]]:
    listed = (await sandbox.get("/v1/refunds", params={"payment_intent": intent})).json()
    refunds: list[dict[str, Any]] = listed["data"]
    return refunds


async def psp_payment(api: httpx.AsyncClient, psp: Psp) -> dict[str, Any]:
    created = await api.post("/v1/payments", json=psp.body("janitor"))
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    return payment


async def psp_paid(api: httpx.AsyncClient, psp: Psp) -> dict[str, Any]:
    payment = await psp_payment(api, psp)
    await psp.pay(payment)
    return await wait_for_status(api, payment["id"], "succeeded")


class TestDroppedWebhook:
    async def test_a_paid_payment_is_brought_up_to_date_once(
        self, api: httpx.AsyncClient, psp: Psp, container: Container, db: AsyncEngine
    ) -> None:
        await psp.knobs.set(webhook_drop_rate=1.0)
        payment = await psp_payment(api, psp)
        await psp.pay(payment)
        assert await psp.state(payment["provider_reference"]) == "paid"
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert current["status"] == "requires_payment_method"
        await make_due(db)
        janitor = reconciler(container)

        report = await janitor.run_once()

        assert report.leader
        assert (report.payments_checked, report.payments_changed, report.errors) == (1, 1, 0)
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert current["status"] == "succeeded"
        assert await outbox_count(db, "payment.succeeded", payment["id"]) == 1

        again = await janitor.run_once()
        assert (again.payments_checked, again.payments_changed) == (0, 0)
        assert await outbox_count(db, "payment.succeeded", payment["id"]) == 1
        assert janitor.totals.payments_changed == 1


class TestLostCreateAnswer:
    async def test_the_create_is_repeated_making_no_second_provider_object(
        self, api: httpx.AsyncClient, psp: Psp, container: Container, db: AsyncEngine
    ) -> None:
        await psp.knobs.set(webhook_drop_rate=1.0, lose_response_next=1)
        body = psp.body("janitor-lost", 1500)
        response = await api.post("/v1/payments", json=body)
        assert response.status_code == 503, response.text
        [payment] = (await api.get("/v1/payments", params={"order_id": body["order_id"]})).json()[
            "data"
        ]
        assert payment["provider_reference"] is None
        assert payment["status"] == "requires_payment_method"
        assert len(await psp.payment_objects(payment["id"])) == 1
        await make_due(db)

        report = await reconciler(container).run_once()

        assert (report.creates_completed, report.errors) == (1, 0)
        [made] = await psp.payment_objects(payment["id"])
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert current["provider_reference"] == made["id"]
        assert current["payment_payload"]

        # What the client was given is the real thing: the customer can pay with it.
        await psp.pay(current)
        await make_due(db)
        settled = await reconciler(container).run_once()
        assert settled.payments_changed == 1
        final = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert final["status"] == "succeeded"

    async def test_the_recovered_client_secret_is_the_real_one(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox: httpx.AsyncClient,
        container: Container,
        db: AsyncEngine,
    ) -> None:
        payment = await create_with_lost_answer(api, sandbox)
        await make_due(db)
        await reconciler(container).run_once()
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        client_secret = current["payment_payload"]["client_secret"]
        assert client_secret.startswith(current["provider_reference"] + "_secret_")
        confirmed = await stripe_js.confirm(client_secret, "pm_card_visa")
        assert confirmed.status_code == 200, confirmed.text

    async def test_a_ping_charge_found_after_its_replay_window_is_closed_and_failed(
        self,
        api: httpx.AsyncClient,
        pingxx_knobs: PingxxKnobs,
        pingxx: PingxxSandboxControl,
        container: Container,
        db: AsyncEngine,
    ) -> None:
        """Ping++ gives a charge's credential in its create answer only: found again too late
        to repeat the create, nobody can pay it, so it is reversed and the payment failed."""
        await pingxx_knobs.set(webhook_drop_rate=1.0, lose_response_next=1, replay_window_seconds=0)
        body = {
            "order_id": order_id("janitor-window"),
            "amount": 1500,
            "currency": "CNY",
            "payment_channel": "pingxx:alipay_qr",
            "client_ip": "203.0.113.7",
        }
        assert (await api.post("/v1/payments", json=body)).status_code == 503
        [payment] = (await api.get("/v1/payments", params={"order_id": body["order_id"]})).json()[
            "data"
        ]
        await make_due(db)

        report = await reconciler(container).run_once()

        assert report.errors == 0
        failed = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert failed["status"] == "failed"
        assert failed["last_error"]["code"] == "credential_lost"
        # The order can be paid with a new payment at once.
        again = await api.post("/v1/payments", json=body)
        assert again.status_code == 201, again.text


class TestPendingRefunds:
    async def test_a_refund_with_a_lost_answer_is_completed_without_a_second_refund(
        self, api: httpx.AsyncClient, psp: Psp, container: Container
    ) -> None:
        payment = await psp_paid(api, psp)
        await psp.knobs.set(webhook_drop_rate=1.0, lose_response_next=1)
        lost = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 700})
        assert lost.status_code == 503, lost.text
        refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        assert [(r["status"], r["provider_reference"]) for r in refunds] == [("pending", None)]
        assert len(await psp.refunds(payment["provider_reference"])) == 1

        report = await reconciler(container).run_once()

        assert (report.refunds_checked, report.refunds_completed, report.refunds_changed) == (
            1,
            1,
            1,
        )
        assert report.errors == 0
        at_provider = await psp.refunds(payment["provider_reference"])
        assert len(at_provider) == 1
        refund = (await api.get(f"/v1/refunds/{refunds[0]['id']}")).json()
        assert (refund["status"], refund["provider_reference"]) == (
            "succeeded",
            at_provider[0]["id"],
        )
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (after["amount_refunded"], after["amount_refund_pending"]) == (700, 0)

    @pytest.mark.parametrize("settles", ["succeeded", "failed"])
    async def test_a_refund_settled_while_its_webhook_was_dropped_is_settled_here(
        self, api: httpx.AsyncClient, psp: Psp, container: Container, db: AsyncEngine, settles: str
    ) -> None:
        payment = await psp_paid(api, psp)
        await psp.knobs.set(refunds_pending=True)
        pending = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 600})
        assert pending.status_code == 201, pending.text
        refund = pending.json()
        assert refund["status"] == "pending"
        await psp.knobs.set(webhook_drop_rate=1.0)
        await psp.settle_refund(refund["provider_reference"], succeeded=settles == "succeeded")
        assert (await api.get(f"/v1/refunds/{refund['id']}")).json()["status"] == "pending"

        report = await reconciler(container).run_once()

        assert (report.refunds_checked, report.refunds_changed, report.errors) == (1, 1, 0)
        assert (await api.get(f"/v1/refunds/{refund['id']}")).json()["status"] == settles
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        refunded = 600 if settles == "succeeded" else 0
        assert (after["amount_refunded"], after["amount_refund_pending"]) == (refunded, 0)
        assert await outbox_count(db, f"refund.{settles}", payment["id"]) == 1

        again = await reconciler(container).run_once()
        assert again.refunds_checked == 0


class TestLeadership:
    async def test_two_janitors_at_once_one_does_the_work(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox: httpx.AsyncClient,
        container: Container,
        db: AsyncEngine,
    ) -> None:
        payment = await paid_without_webhook(api, stripe_js, sandbox)
        await make_due(db)
        # A slow provider keeps the leader's run going while the other tries for the lock.
        await configure(sandbox, latency_ms=300)
        first, second = reconciler(container), reconciler(container)

        reports = await asyncio.gather(first.run_once(), second.run_once())

        leaders = [r for r in reports if r.leader]
        followers = [r for r in reports if not r.leader]
        assert len(leaders) == 1
        assert len(followers) == 1
        assert (leaders[0].payments_checked, leaders[0].payments_changed) == (1, 1)
        assert followers[0].payments_checked == 0
        assert await outbox_count(db, "payment.succeeded", payment["id"]) == 1

        # The lock was released: either janitor leads the next run.
        assert (await first.run_once()).leader
        assert (await second.run_once()).leader


class TestFreshRows:
    async def test_a_payment_whose_check_is_not_due_is_left_alone(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox: httpx.AsyncClient,
        container: Container,
    ) -> None:
        paid = await paid_without_webhook(api, stripe_js, sandbox)
        before = await sandbox_objects(sandbox, "payment_intents")
        lost = await create_with_lost_answer(api, sandbox)
        intents = await sandbox_objects(sandbox, "payment_intents")
        assert intents == before + 1

        # Made a moment ago: their first check is a stale period away.
        report = await reconciler(container).run_once()

        assert report.leader
        assert (report.payments_checked, report.creates_completed, report.errors) == (0, 0, 0)
        current = (await api.get(f"/v1/payments/{paid['id']}")).json()
        assert current["status"] == "requires_payment_method"
        untouched = (await api.get(f"/v1/payments/{lost['id']}")).json()
        assert untouched["provider_reference"] is None
        assert await sandbox_objects(sandbox, "payment_intents") == intents


class TestJanitorLoop:
    async def test_runs_every_interval_until_stopped(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox: httpx.AsyncClient,
        container: Container,
        db: AsyncEngine,
    ) -> None:
        payment = await paid_without_webhook(api, stripe_js, sandbox)
        await make_due(db)
        stopping = asyncio.Event()
        task = asyncio.create_task(run_janitor(container, stopping))
        try:
            current = await wait_for_status(api, payment["id"], "succeeded", seconds=10)
            assert current["status"] == "succeeded"
        finally:
            stopping.set()
            await asyncio.wait_for(task, timeout=10)
        assert task.exception() is None
