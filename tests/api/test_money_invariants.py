"""The money invariants over real HTTP, PostgreSQL and the sandboxes: one charge per order
on every provider, each provider's currency rules, refund keys that outlive credentials and purges,
errors sorted by what they prove, and cancel keys per attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.container import Container, build_container
from app.core.settings import Settings
from sandbox.runner import ServerThread
from tests.conftest import OTHER_API_KEY, make_settings
from tests.support.api import order_id, wait_for, wait_for_status
from tests.support.providers import Psp
from tests.support.sandbox import Knobs
from tests.support.served import in_thread
from tests.support.stripe_js import StripeJs


async def create(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post("/v1/payments", json={"amount": 2000, "currency": "USD", **body})


async def created(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await create(api, **{"order_id": order_id("money"), **body})
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def paid(api: httpx.AsyncClient, stripe_js: StripeJs, **body: Any) -> dict[str, Any]:
    payment = await created(api, **body)
    confirmed = await stripe_js.confirm(
        payment["payment_payload"]["client_secret"], "4242424242424242"
    )
    assert confirmed.status_code == 200, confirmed.text
    return await wait_for_status(api, payment["id"], "succeeded")


async def created_on(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/v1/payments", json=body)
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def paid_on(api: httpx.AsyncClient, psp: Psp, body: dict[str, Any]) -> dict[str, Any]:
    payment = await created_on(api, body)
    await psp.pay(payment)
    return await wait_for_status(api, payment["id"], "succeeded")


async def order_payments(api: httpx.AsyncClient, order: str) -> list[dict[str, Any]]:
    listed = (await api.get("/v1/payments", params={"order_id": order})).json()
    payments: list[dict[str, Any]] = listed["data"]
    return payments


async def stripe_refunds(admin: httpx.AsyncClient, intent: str) -> list[dict[str, Any]]:
    listed = (await admin.get("/v1/refunds", params={"payment_intent": intent})).json()
    refunds: list[dict[str, Any]] = listed["data"]
    return refunds


async def event_types(api: httpx.AsyncClient, payment_id: str) -> list[str]:
    listed = (await api.get("/v1/events", params={"payment_id": payment_id, "limit": 100})).json()
    return [event["type"] for event in reversed(listed["data"])]


async def intent_count(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/_sandbox/stats")).json()["objects"].get("payment_intents", 0))


@pytest.fixture
async def container(db: AsyncEngine, settings: Settings) -> AsyncIterator[Container]:
    """The services in this process, beside the API server, on the same database."""
    built = await build_container(settings)
    yield built
    await built.aclose()


class TestOneOrderOneCharge:
    async def test_reloading_a_paid_checkout_does_not_charge_again(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        """The reproduction: the same create after paying (a reload, no key or a new one)."""
        body = psp.body("money")
        first = await paid_on(api, psp, body)
        for headers in ({}, {"Idempotency-Key": "after-paying"}):
            again = await api.post("/v1/payments", json=body, headers=headers)
            assert again.status_code == 409, again.text
            assert again.json()["code"] == "order_already_paid"
            assert again.json()["payment_id"] == first["id"]
        payments = await order_payments(api, first["order_id"])
        assert [(p["id"], p["status"]) for p in payments] == [(first["id"], "succeeded")]

    async def test_replacing_a_payment_paid_meanwhile_is_refused(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        """A coupon applied while the customer paid in another tab: nothing new is made."""
        await psp.knobs.set(webhooks_enabled=False)
        body = psp.body("money")
        first = await created_on(api, body)
        await psp.pay(first)
        changed = await api.post("/v1/payments", json={**body, "amount": 1500})
        assert changed.status_code == 409, changed.text
        assert changed.json()["code"] == "order_already_paid"
        assert changed.json()["payment_id"] == first["id"]
        payments = await order_payments(api, first["order_id"])
        assert [(p["id"], p["status"]) for p in payments] == [(first["id"], "succeeded")]
        assert len(await psp.payment_objects(first["id"])) == 1

    async def test_two_objects_of_one_order_paid_in_a_race_make_one_charge(
        self, api: httpx.AsyncClient, psp: Psp, db: AsyncEngine
    ) -> None:
        """The old provider object was closed here but not at the provider (its create's
        answer was lost when the order changed), and both tabs pay at once."""
        body = psp.body("race")
        order = body["order_id"]
        await psp.knobs.set(lose_response_next=1)
        lost = await api.post("/v1/payments", json=body)
        assert lost.status_code == 503, lost.text
        second = await created_on(api, {**body, "amount": 1800})
        [old] = [p for p in await order_payments(api, order) if p["id"] != second["id"]]
        assert old["status"] == "canceled"
        [orphan] = await psp.payment_objects(old["id"])

        await asyncio.gather(psp.pay_object(orphan), psp.pay(second))

        def settled(payments: list[dict[str, Any]]) -> bool:
            return all(p["status"] == "succeeded" for p in payments) and any(
                p["refund_status"] == "full" for p in payments
            )

        for _ in range(200):
            payments = await order_payments(api, order)
            if settled(payments):
                break
            await asyncio.sleep(0.05)
        assert settled(payments), payments
        [primary] = [p for p in payments if p["duplicate_of"] is None]
        [duplicate] = [p for p in payments if p["duplicate_of"] is not None]
        assert duplicate["duplicate_of"] == primary["id"]
        assert primary["refund_status"] == "none"
        assert (duplicate["refund_status"], duplicate["amount_refunded"]) == (
            "full",
            duplicate["amount"],
        )
        assert "payment.duplicate_detected" in await event_types(api, duplicate["id"])
        assert "payment.duplicate_detected" not in await event_types(api, primary["id"])
        [refund] = await psp.refunds(duplicate["provider_reference"])
        assert refund["amount"] == duplicate["amount"]
        [ours] = (await api.get(f"/v1/payments/{duplicate['id']}/refunds")).json()["data"]
        assert ours["reason"] == "duplicate"
        assert await psp.refunds(primary["provider_reference"]) == []
        async with db.connect() as connection:
            paid_orders = await connection.scalar(
                text(
                    "SELECT count(*) FROM payments WHERE order_id = :o AND status = 'succeeded' "
                    "AND duplicate_of IS NULL"
                ),
                {"o": order},
            )
        assert paid_orders == 1

    async def test_the_duplicate_is_refunded_once_whatever_arrives_again(
        self, api: httpx.AsyncClient, psp: Psp, container: Container, db: AsyncEngine
    ) -> None:
        first, second = await second_object_of_a_paid_order(api, psp, db)

        for _ in range(3):
            await container.payments.sync(second["id"])
        await psp.knobs.set(webhooks_enabled=True)
        for event in await psp.events_about(second["provider_reference"]):
            await psp.resend(event)
        await psp.drain()

        current = await wait_for(api, second["id"], lambda p: p["refund_status"] == "full")
        assert current["duplicate_of"] == first["id"]
        assert len(await psp.refunds(second["provider_reference"])) == 1
        refunds = (await api.get(f"/v1/payments/{second['id']}/refunds")).json()["data"]
        assert [(r["amount"], r["reason"]) for r in refunds] == [(1900, "duplicate")]

    async def test_duplicates_are_kept_when_the_deployment_says_so(
        self,
        api: httpx.AsyncClient,
        psp: Psp,
        database_url: str,
        stripe_sandbox: ServerThread,
        webhook_secret: str,
        db: AsyncEngine,
    ) -> None:
        first, second = await second_object_of_a_paid_order(api, psp, db)
        keeping = await build_container(
            make_settings(
                database_url,
                stripe_sandbox.url,
                webhook_secret,
                refund_duplicates=False,
                **psp.settings,
            )
        )
        try:
            synced = await keeping.payments.sync(second["id"])
        finally:
            await keeping.aclose()
        assert (synced.status, synced.duplicate_of) == ("succeeded", first["id"])
        assert "payment.duplicate_detected" in await event_types(api, second["id"])
        assert await psp.refunds(second["provider_reference"]) == []


async def second_object_of_a_paid_order(
    api: httpx.AsyncClient, psp: Psp, db: AsyncEngine
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A paid order, and a second provider object for it paid too (made behind the API's
    back, as a monolith's old code path would), with the provider's webhooks off."""
    body = psp.body("money")
    first = await paid_on(api, psp, body)
    await psp.drain()
    await psp.knobs.set(webhooks_enabled=False)

    async def set_status(status: str) -> None:
        async with db.begin() as connection:
            await connection.execute(
                text("UPDATE payments SET status = :s WHERE id = :p"),
                {"s": status, "p": first["id"]},
            )

    await set_status("canceled")
    second = await created_on(api, {**body, "amount": 1900})
    await set_status("succeeded")
    await psp.pay(second)
    return first, second


class TestCurrencyRules:
    async def test_isk_goes_to_stripe_with_two_decimals_and_comes_back_whole(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid(api, stripe_js, amount=500, currency="ISK")
        assert payment["amount"] == 500
        intent = (
            await sandbox_admin.get(f"/v1/payment_intents/{payment['provider_reference']}")
        ).json()
        assert (intent["amount"], intent["currency"]) == (50000, "isk")
        refund = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 200})
        assert refund.status_code == 201, refund.text
        assert refund.json()["amount"] == 200
        [at_stripe] = await stripe_refunds(sandbox_admin, payment["provider_reference"])
        assert at_stripe["amount"] == 20000
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (after["amount_refunded"], after["refund_status"]) == (200, "partial")

    async def test_mga_goes_to_stripe_without_decimals(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        payment = await paid(api, stripe_js, amount=100_000, currency="MGA")
        intent = (
            await sandbox_admin.get(f"/v1/payment_intents/{payment['provider_reference']}")
        ).json()
        assert (intent["amount"], intent["currency"]) == (1000, "mga")
        unwritable = await api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 550})
        assert unwritable.status_code == 422, unwritable.text
        assert unwritable.json()["code"] == "amount_not_representable"
        assert (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"] == []
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["amount_refund_pending"] == 0

    async def test_below_the_minimum_nothing_is_stored_sent_or_announced(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        """The reproduction: USD 1 used to store a payment, announce it, then fail it."""
        before = await intent_count(sandbox_admin)
        order = order_id("tiny")
        response = await create(api, order_id=order, amount=1)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert (problem["code"], problem["amount_minimum"]) == ("amount_below_minimum", 50)
        assert problem["payment_channel"] == "stripe"
        assert await order_payments(api, order) == []
        assert await intent_count(sandbox_admin) == before
        async with db.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM outbox_events")) == 0

    async def test_an_amount_change_stripe_cannot_take_leaves_the_open_payment_alone(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient
    ) -> None:
        """The reproduction: `amount: 1` for an order with an open 2000 payment used to
        cancel it, fail the new one, and leave the order with nothing payable."""
        first = await created(api)
        changed = await create(api, order_id=first["order_id"], amount=1)
        assert changed.status_code == 422, changed.text
        assert changed.json()["code"] == "amount_below_minimum"
        [still] = await order_payments(api, first["order_id"])
        assert (still["id"], still["status"]) == (first["id"], "requires_payment_method")
        intent = (
            await sandbox_admin.get(f"/v1/payment_intents/{first['provider_reference']}")
        ).json()
        assert intent["status"] == "requires_payment_method"


class TestRefundKeys:
    async def test_a_retry_under_a_rotated_api_key_resumes_the_same_refund(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        knobs: Knobs,
    ) -> None:
        payment = await paid(api, stripe_js)
        await knobs.set(webhooks_enabled=False, lose_response_next=1)
        headers = {"Idempotency-Key": "refund-rotated"}
        lost = await api.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": 700}, headers=headers
        )
        assert lost.status_code == 503, lost.text
        retried = await api.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"amount": 700},
            headers={**headers, "Authorization": f"Bearer {OTHER_API_KEY}"},
        )
        assert retried.status_code == 201, retried.text
        assert retried.json()["status"] == "succeeded"
        [at_stripe] = await stripe_refunds(sandbox_admin, payment["provider_reference"])
        assert retried.json()["provider_reference"] == at_stripe["id"]
        refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        assert [r["id"] for r in refunds] == [retried.json()["id"]]

    async def test_the_same_key_with_another_amount_is_refused_after_the_purge(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, db: AsyncEngine
    ) -> None:
        payment = await paid(api, stripe_js)
        headers = {"Idempotency-Key": "refund-forever"}
        url = f"/v1/payments/{payment['id']}/refunds"
        first = await api.post(url, json={"amount": 500}, headers=headers)
        assert first.status_code == 201, first.text
        async with db.begin() as connection:
            await connection.execute(text("DELETE FROM idempotency_keys"))
        other = await api.post(url, json={"amount": 700}, headers=headers)
        assert other.status_code == 422, other.text
        assert other.json()["code"] == "idempotency_key_reused"
        same = await api.post(url, json={"amount": 500}, headers=headers)
        assert (same.status_code, same.json()["id"]) == (201, first.json()["id"])
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["amount_refunded"] == 500


class TestErrorsSortedByWhatTheyProve:
    @pytest.fixture
    def rotated(
        self, database_url: str, stripe_sandbox: ServerThread, webhook_secret: str, psp: Psp
    ) -> Iterator[httpx.AsyncClient]:
        """The API with a secret key the provider no longer accepts."""
        yield from in_thread(
            make_settings(database_url, stripe_sandbox.url, webhook_secret, **psp.rotated)
        )

    async def test_a_rotated_key_leaves_the_payment_open(
        self, api: httpx.AsyncClient, psp: Psp, rotated: httpx.AsyncClient
    ) -> None:
        body = psp.body("rotated")
        async with rotated:
            refused = await rotated.post("/v1/payments", json=body)
        assert refused.status_code == 503, refused.text
        assert (refused.json()["code"], refused.json()["retryable"]) == (
            "provider_unavailable",
            True,
        )
        assert refused.json()["payment_channel"] == psp.name
        [open_payment] = await order_payments(api, body["order_id"])
        assert (open_payment["status"], open_payment["provider_reference"]) == (
            "requires_payment_method",
            None,
        )
        assert "payment.failed" not in await event_types(api, open_payment["id"])
        # With the key fixed, asking again finishes the same payment: a first success.
        fixed = await api.post("/v1/payments", json=body)
        assert fixed.status_code == 201, fixed.text
        assert fixed.json()["id"] == open_payment["id"]
        assert fixed.json()["provider_reference"].startswith(psp.reference_prefix)

    async def test_a_rotated_key_leaves_the_refund_pending(
        self, api: httpx.AsyncClient, psp: Psp, rotated: httpx.AsyncClient
    ) -> None:
        payment = await paid_on(api, psp, psp.body("rotated"))
        async with rotated:
            refused = await rotated.post(
                f"/v1/payments/{payment['id']}/refunds", json={"amount": 300}
            )
        assert refused.status_code == 503, refused.text
        [refund] = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        assert refund["status"] == "pending"
        assert "refund.failed" not in await event_types(api, payment["id"])
        after = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert after["amount_refund_pending"] == 300

    async def test_a_retry_after_a_retryable_failure_answers_as_a_first_success(
        self, api: httpx.AsyncClient, psp: Psp
    ) -> None:
        body = psp.body("retry-201")
        headers = {"Idempotency-Key": "retry-201"}
        await psp.knobs.set(failure_rate=1.0, failure_status=503)
        failed = await api.post("/v1/payments", json=body, headers=headers)
        assert failed.status_code == 503, failed.text
        await psp.knobs.set(failure_rate=0.0)
        retried = await api.post("/v1/payments", json=body, headers=headers)
        assert retried.status_code == 201, retried.text
        assert retried.json()["provider_reference"].startswith(psp.reference_prefix)
        assert len(await psp.payment_objects(retried.json()["id"])) == 1

    async def test_a_provider_refusal_is_kept_and_replayed(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        """A 502 that proves the refund was refused (the charge was disputed) is an answer,
        not a failure to answer: the same key replays it."""
        payment = await paid(api, stripe_js)
        opened = await sandbox_admin.post(
            f"/_sandbox/payment_intents/{payment['provider_reference']}/dispute", json={}
        )
        assert opened.status_code == 200, opened.text
        headers = {"Idempotency-Key": "refund-disputed"}
        url = f"/v1/payments/{payment['id']}/refunds"
        refused = await api.post(url, json={"amount": 500}, headers=headers)
        assert refused.status_code == 502, refused.text
        assert refused.json()["retryable"] is False
        again = await api.post(url, json={"amount": 500}, headers=headers)
        assert (again.status_code, again.content) == (502, refused.content)
        assert again.headers["Idempotent-Replayed"] == "true"


class TestCancelKeys:
    async def test_a_cancel_refused_while_processing_works_once_it_is_not(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient, knobs: Knobs
    ) -> None:
        payment = await created(api)
        intent = payment["provider_reference"]
        await knobs.set(webhooks_enabled=False)
        await sandbox_admin.post(f"/_sandbox/payment_intents/{intent}/processing")
        refused = await api.post(f"/v1/payments/{payment['id']}/cancel")
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "payment_processing"
        await knobs.set(webhooks_enabled=True)
        await sandbox_admin.post(f"/_sandbox/payment_intents/{intent}/fail")
        await wait_for_status(api, payment["id"], "requires_payment_method")

        canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["status"] == "canceled"

    async def test_an_order_back_from_processing_can_be_replaced_at_once(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient, knobs: Knobs
    ) -> None:
        payment = await created(api)
        intent = payment["provider_reference"]
        await knobs.set(webhooks_enabled=False)
        await sandbox_admin.post(f"/_sandbox/payment_intents/{intent}/processing")
        refused = await create(api, order_id=payment["order_id"], amount=1500)
        assert refused.status_code == 409, refused.text
        await knobs.set(webhooks_enabled=True)
        await sandbox_admin.post(f"/_sandbox/payment_intents/{intent}/fail")
        await wait_for_status(api, payment["id"], "requires_payment_method")

        replaced = await create(api, order_id=payment["order_id"], amount=1500)
        assert replaced.status_code == 201, replaced.text
        assert replaced.json()["id"] != payment["id"]
        old = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert old["status"] == "canceled"
