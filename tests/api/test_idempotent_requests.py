"""Idempotency-Key on the real routes: one payment and one PaymentIntent per key."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import OTHER_API_KEY
from tests.support.api import order_id


async def intents_at_stripe(sandbox_admin: httpx.AsyncClient) -> int:
    return int((await sandbox_admin.get("/_sandbox/stats")).json()["objects"]["payment_intents"])


class TestCreateWithAKey:
    async def test_fifty_concurrent_creates_make_one_payment_and_one_intent(
        self, api: httpx.AsyncClient, sandbox_admin: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        before = await intents_at_stripe(sandbox_admin)
        body = {"order_id": order_id("burst"), "amount": 4200, "currency": "EUR"}
        headers = {"Idempotency-Key": "burst-key"}

        responses = await asyncio.gather(
            *(api.post("/v1/payments", json=body, headers=headers) for _ in range(50))
        )

        codes = {r.status_code for r in responses}
        assert codes <= {201, 409}, codes
        assert 201 in codes
        ids = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(ids) == 1
        for conflict in (r for r in responses if r.status_code == 409):
            assert conflict.json()["code"] == "idempotency_request_in_progress"
            assert conflict.json()["retryable"] is True
        async with db.connect() as connection:
            stored = await connection.execute(text("SELECT count(*) FROM payments"))
            assert stored.scalar_one() == 1
        assert await intents_at_stripe(sandbox_admin) == before + 1

    async def test_a_replay_is_byte_identical_and_says_so(self, api: httpx.AsyncClient) -> None:
        body = {"order_id": order_id("replay"), "amount": 1000, "currency": "USD"}
        headers = {"Idempotency-Key": "replay-key"}
        first = await api.post("/v1/payments", json=body, headers=headers)
        again = await api.post("/v1/payments", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers

    async def test_the_same_key_with_another_body_is_refused(self, api: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "reused-key"}
        body = {"order_id": order_id("reuse"), "amount": 1000, "currency": "USD"}
        assert (await api.post("/v1/payments", json=body, headers=headers)).status_code == 201
        other = await api.post("/v1/payments", json={**body, "amount": 999}, headers=headers)
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"

    async def test_a_validation_failure_is_not_stored(self, api: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "invalid-first"}
        body = {"order_id": order_id("invalid"), "amount": 1000, "currency": "USD"}
        bad = await api.post("/v1/payments", json={**body, "amount": -1}, headers=headers)
        assert bad.status_code == 422
        good = await api.post("/v1/payments", json=body, headers=headers)
        assert good.status_code == 201

    async def test_keys_are_per_api_key(self, api: httpx.AsyncClient) -> None:
        """Two callers using the same key string do not see each other's requests."""
        first = await api.post(
            "/v1/payments",
            json={"order_id": order_id("k1"), "amount": 100, "currency": "USD"},
            headers={"Idempotency-Key": "shared"},
        )
        second = await api.post(
            "/v1/payments",
            json={"order_id": order_id("k2"), "amount": 100, "currency": "USD"},
            headers={"Idempotency-Key": "shared", "Authorization": f"Bearer {OTHER_API_KEY}"},
        )
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] != second.json()["id"]

    async def test_an_overlong_key_is_422(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/v1/payments",
            json={"order_id": order_id("long"), "amount": 100, "currency": "USD"},
            headers={"Idempotency-Key": "k" * 256},
        )
        assert response.status_code == 422
