"""Tests that a realistic bug in an invariant's guard would fail (see `make mutate`): the
change and its event in one transaction, the API key compared whole, and the retry paths
with nothing else (Stripe's webhooks) to settle what they should settle themselves."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from sandbox.runner import ServerThread
from tests.conftest import make_settings
from tests.support.api import order_id, wait_for_status
from tests.support.sandbox import Knobs
from tests.support.stripe_js import StripeJs


@pytest.fixture
async def outbox_refuses_writes(db: AsyncEngine) -> AsyncIterator[None]:
    async with db.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'the outbox refuses this write'; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events "
                "FOR EACH ROW EXECUTE FUNCTION refuse_outbox()"
            )
        )
    try:
        yield
    finally:
        async with db.begin() as connection:
            await connection.execute(text("DROP TRIGGER refuse_outbox ON outbox_events"))
            await connection.execute(text("DROP FUNCTION refuse_outbox()"))


class TestAChangeAndItsEventCommitTogether:
    async def test_a_payment_whose_event_cannot_be_written_is_not_made(
        self,
        api: httpx.AsyncClient,
        sandbox_admin: httpx.AsyncClient,
        db: AsyncEngine,
        outbox_refuses_writes: None,
    ) -> None:
        before = (await sandbox_admin.get("/_sandbox/stats")).json()["objects"]["payment_intents"]
        response = await api.post(
            "/v1/payments",
            json={"order_id": order_id("atomic"), "amount": 1000, "currency": "USD"},
        )
        assert response.status_code >= 500
        async with db.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM payments")) == 0
        after = (await sandbox_admin.get("/_sandbox/stats")).json()["objects"]["payment_intents"]
        assert after == before


class TestTheApiKeyIsComparedWhole:
    @pytest.fixture
    def near_misses(
        self, database_url: str, stripe_sandbox: ServerThread, webhook_secret: str
    ) -> Iterator[tuple[str, str]]:
        """A server that knows only digests one character away from the key's."""
        key = "near_miss_key_" + "x" * 20
        digest = hashlib.sha256(key.encode()).hexdigest()

        def flip(c: str) -> str:
            return "0" if c != "0" else "1"

        known = [flip(digest[0]) + digest[1:], digest[:-1] + flip(digest[-1])]
        settings = make_settings(
            database_url,
            stripe_sandbox.url,
            webhook_secret,
            api_keys="",
            api_key_hashes=",".join(known),
        )
        with ServerThread(create_app(settings)) as server:
            yield server.url, key

    async def test_a_key_whose_digest_differs_in_one_character_is_refused(
        self, near_misses: tuple[str, str]
    ) -> None:
        url, key = near_misses
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/v1/payments", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


async def intents_of(admin: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    listed = (await admin.get("/v1/payment_intents", params={"limit": 100})).json()["data"]
    return [i for i in listed if i["metadata"].get("payment_id") == payment_id]


class TestRetriesWithNothingElseToSettleThem:
    async def test_a_create_retried_after_a_lost_answer_makes_one_intent(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient, knobs: Knobs
    ) -> None:
        await knobs.set(webhooks_enabled=False, lose_response_next=1)
        body = {"order_id": order_id("retry"), "amount": 1000, "currency": "USD"}
        headers = {"Idempotency-Key": "retry-create"}
        lost = await api.post("/v1/payments", json=body, headers=headers)
        assert lost.status_code == 503, lost.text
        retried = await api.post("/v1/payments", json=body, headers=headers)
        assert retried.status_code == 201, retried.text
        [intent] = await intents_of(sandbox_admin, retried.json()["id"])
        assert retried.json()["provider_reference"] == intent["id"]

    async def test_a_refund_retried_after_a_lost_answer_makes_one_refund(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sandbox_admin: httpx.AsyncClient,
        knobs: Knobs,
    ) -> None:
        created = await api.post(
            "/v1/payments", json={"order_id": order_id("retry"), "amount": 1000, "currency": "USD"}
        )
        payment = created.json()
        await stripe_js.confirm(payment["payment_payload"]["client_secret"], "pm_card_visa")
        await wait_for_status(api, payment["id"], "succeeded")
        await sandbox_admin.post("/_sandbox/webhooks/drain", json={"timeout": 5})
        await knobs.set(webhooks_enabled=False, lose_response_next=1)
        url, headers = f"/v1/payments/{payment['id']}/refunds", {"Idempotency-Key": "retry-ref"}
        lost = await api.post(url, json={"amount": 300}, headers=headers)
        assert lost.status_code == 503, lost.text
        retried = await api.post(url, json={"amount": 300}, headers=headers)
        assert retried.status_code == 201, retried.text
        listed = await sandbox_admin.get(
            "/v1/refunds", params={"payment_intent": payment["provider_reference"]}
        )
        [refund] = listed.json()["data"]
        assert retried.json()["provider_reference"] == refund["id"]
