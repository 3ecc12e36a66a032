"""The outbox: every change writes its event in its own transaction, and nothing else does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.core.db import transaction
from app.core.ids import new_id
from app.models import Event, Payment
from app.providers.base import PaymentStatus
from app.services.payment_updates import PaymentPolicy, PaymentUpdater
from tests.support.api import order_id, wait_for, wait_for_status
from tests.support.providers import Psp
from tests.support.stripe_js import StripeJs


async def events_of(api: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    listed = (await api.get("/v1/events", params={"payment_id": payment_id, "limit": 100})).json()
    events: list[dict[str, Any]] = list(reversed(listed["data"]))
    return events


async def new_payment(api: httpx.AsyncClient, amount: int = 1000) -> dict[str, Any]:
    response = await api.post(
        "/v1/payments", json={"order_id": order_id("events"), "amount": amount, "currency": "USD"}
    )
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def psp_payment(api: httpx.AsyncClient, psp: Psp, amount: int = 1000) -> dict[str, Any]:
    response = await api.post("/v1/payments", json=psp.body("events", amount))
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


class TestPaymentEvents:
    async def test_created_then_succeeded(self, api: httpx.AsyncClient, psp: Psp) -> None:
        payment = await psp_payment(api, psp)
        await psp.pay(payment)
        await wait_for_status(api, payment["id"], "succeeded")

        events = await events_of(api, payment["id"])
        assert [e["type"] for e in events] == ["payment.created", "payment.succeeded"]
        succeeded = events[-1]
        assert succeeded["data"]["status"] == "succeeded"
        assert succeeded["data"]["id"] == payment["id"]
        assert succeeded["data"]["payment_channel"] == psp.name
        assert succeeded["data"]["currency"] == psp.currency
        assert "client_token" not in succeeded["data"]
        assert succeeded["id"].startswith("evt_")
        assert succeeded["delivery_status"] in ("pending", "delivered")

    async def test_each_declined_attempt_is_a_payment_failed(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await new_payment(api)
        secret = payment["payment_payload"]["client_secret"]
        await stripe_js.confirm(secret, "4000000000000002")
        await wait_for(api, payment["id"], lambda p: p["last_error"] is not None)
        await stripe_js.confirm(secret, "4000000000009995")
        await wait_for(
            api,
            payment["id"],
            lambda p: (p["last_error"] or {}).get("decline_code") == "insufficient_funds",
        )

        failed = [e for e in await events_of(api, payment["id"]) if e["type"] == "payment.failed"]
        assert [e["data"]["last_error"]["decline_code"] for e in failed] == [
            "generic_decline",
            "insufficient_funds",
        ]
        assert {e["data"]["status"] for e in failed} == {"requires_payment_method"}

    async def test_three_d_secure_failure(
        self, api: httpx.AsyncClient, stripe_js: StripeJs
    ) -> None:
        payment = await new_payment(api)
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "4000002500003155")
        await wait_for_status(api, payment["id"], "requires_action")
        await stripe_js.complete_three_d_secure(payment["provider_reference"], passed=False)
        await wait_for(api, payment["id"], lambda p: p["status"] == "requires_payment_method")

        types = [e["type"] for e in await events_of(api, payment["id"])]
        assert types == ["payment.created", "payment.requires_action", "payment.failed"]

    async def test_cancel(self, api: httpx.AsyncClient, psp: Psp) -> None:
        payment = await psp_payment(api, psp)
        await api.post(f"/v1/payments/{payment['id']}/cancel")
        types = [e["type"] for e in await events_of(api, payment["id"])]
        assert types == ["payment.created", "payment.canceled"]

    async def test_filter_by_type_and_paginate(self, api: httpx.AsyncClient) -> None:
        for _ in range(3):
            await new_payment(api)
        page = (await api.get("/v1/events", params={"type": "payment.created", "limit": 2})).json()
        assert len(page["data"]) == 2
        assert page["has_more"] is True
        rest = (
            await api.get(
                "/v1/events",
                params={
                    "type": "payment.created",
                    "limit": 2,
                    "starting_after": page["next_cursor"],
                },
            )
        ).json()
        assert len(rest["data"]) == 1
        assert (await api.get(f"/v1/events/{new_id('evt')}")).json()["code"] == "event_not_found"


class TestRefundEvents:
    async def test_created_and_succeeded(self, api: httpx.AsyncClient, psp: Psp) -> None:
        payment = await psp_payment(api, psp, amount=800)
        await psp.pay(payment)
        await wait_for_status(api, payment["id"], "succeeded")
        refund = (await api.post(f"/v1/payments/{payment['id']}/refunds", json={})).json()

        refund_events = [
            e for e in await events_of(api, payment["id"]) if e["type"].startswith("refund.")
        ]
        assert [e["type"] for e in refund_events] == ["refund.created", "refund.succeeded"]
        assert {e["refund_id"] for e in refund_events} == {refund["id"]}
        assert refund_events[-1]["data"]["status"] == "succeeded"


class TestNothingAnnouncedThatDidNotHappen:
    async def test_a_rolled_back_change_writes_no_event(
        self, api: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        payment = await new_payment(api)
        sessions = async_sessionmaker(engine, expire_on_commit=False)

        async def change_that_fails() -> None:
            async with transaction(sessions) as session:
                row = await session.get(Payment, payment["id"], with_for_update=True)
                assert row is not None
                updater = PaymentUpdater(
                    PaymentPolicy(timedelta(minutes=5), timedelta(days=1), refund_duplicates=True)
                )
                updater.move(session, row, PaymentStatus.CANCELED, source="test")
                raise RuntimeError("the change fails after staging its event")

        with pytest.raises(RuntimeError):
            await change_that_fails()

        async with sessions() as session:
            types = (
                await session.execute(select(Event.type).where(Event.payment_id == payment["id"]))
            ).scalars()
            assert list(types) == ["payment.created"]
            assert (await session.get(Payment, payment["id"])).status == (  # type: ignore[union-attr]
                "requires_payment_method"
            )


class TestRedeliver:
    async def test_queues_the_event_again(self, api: httpx.AsyncClient) -> None:
        payment = await new_payment(api)
        [created] = await events_of(api, payment["id"])
        response = await api.post(f"/v1/events/{created['id']}/redeliver")
        assert response.status_code == 202, response.text
        assert response.json()["id"] == created["id"]
        assert response.json()["delivery_status"] == "pending"
        assert response.json()["next_attempt_at"] is not None

    async def test_unknown_event(self, api: httpx.AsyncClient) -> None:
        response = await api.post(f"/v1/events/{new_id('evt')}/redeliver")
        assert response.status_code == 404
        assert response.json()["code"] == "event_not_found"


class TestEachEventTellsItsOwnMoment:
    async def test_a_refund_made_and_settled_in_one_transaction_is_told_step_by_step(
        self, api: httpx.AsyncClient, stripe_js: StripeJs, sandbox_admin: httpx.AsyncClient
    ) -> None:
        """A dashboard refund arrives already succeeded: imported and settled at once,
        its `refund.created` still says pending and its `refund.succeeded` succeeded."""
        payment = await new_payment(api)
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")
        await wait_for_status(api, payment["id"], "succeeded")
        made = await sandbox_admin.post(
            "/v1/refunds", data={"payment_intent": payment["provider_reference"], "amount": 400}
        )
        assert made.status_code == 200, made.text
        await wait_for(api, payment["id"], lambda p: p["amount_refunded"] == 400)

        events = [e for e in await events_of(api, payment["id"]) if e["type"].startswith("refund.")]
        assert [(e["type"], e["data"]["status"]) for e in events] == [
            ("refund.created", "pending"),
            ("refund.succeeded", "succeeded"),
        ]
