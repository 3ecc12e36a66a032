"""Idempotency leases that follow their holder: a dead holder's key is free within
seconds, and a live request slower than a lease never loses it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import errors
from app.core.db import create_sessionmaker
from app.core.settings import Settings
from app.main import create_app
from app.services.idempotency import IdempotencyService, Lease, fingerprint
from sandbox.runner import ServerThread
from tests.conftest import API_KEY, make_settings
from tests.support.api import order_id
from tests.support.sandbox import Knobs

OWNER = "c" * 64
BODY = b'{"order_id": "o", "amount": 2000, "currency": "USD"}'


class TestADeadHolder:
    async def test_frees_its_key_within_the_configured_lease(
        self, db: AsyncEngine, settings: Settings
    ) -> None:
        """A request killed mid-flight used to block its key for a minute (retries got 409
        for 56 s in a crash test); the default lease is a few seconds."""
        assert settings.idempotency_lease_seconds <= 10
        service = IdempotencyService(
            create_sessionmaker(db), lease=timedelta(seconds=settings.idempotency_lease_seconds)
        )
        key = "dead-" + secrets.token_hex(4)
        args = ("POST", "/v1/payments", fingerprint("POST", "/v1/payments", BODY))
        assert isinstance(await service.begin(OWNER, key, *args), Lease)  # then it dies
        with pytest.raises(errors.IdempotencyRequestInProgress):
            await service.begin(OWNER, key, *args)

        await asyncio.sleep(settings.idempotency_lease_seconds + 0.5)

        assert isinstance(await service.begin(OWNER, key, *args), Lease)


class TestALiveHolder:
    @pytest.fixture
    def short_leases(
        self, database_url: str, stripe_sandbox: ServerThread, webhook_secret: str
    ) -> Iterator[str]:
        settings = make_settings(
            database_url, stripe_sandbox.url, webhook_secret, idempotency_lease_seconds=0.6
        )
        with ServerThread(create_app(settings)) as server:
            yield server.url

    async def test_slower_than_its_lease_keeps_the_key(
        self, short_leases: str, knobs: Knobs, db: AsyncEngine
    ) -> None:
        await knobs.set(latency_ms=2500)
        body = {"order_id": order_id("slow"), "amount": 2000, "currency": "USD"}
        headers = {"Idempotency-Key": "slow-" + secrets.token_hex(4)}
        async with httpx.AsyncClient(
            base_url=short_leases, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
        ) as client:
            first = asyncio.create_task(client.post("/v1/payments", json=body, headers=headers))
            await asyncio.sleep(1.5)  # more than two leases
            meanwhile = await client.post("/v1/payments", json=body, headers=headers)
            done = await first
            await knobs.set(latency_ms=0)
            replayed = await client.post("/v1/payments", json=body, headers=headers)
        assert meanwhile.status_code == 409, meanwhile.text
        assert meanwhile.json()["code"] == "idempotency_request_in_progress"
        assert done.status_code == 201, done.text
        assert replayed.status_code == 201
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert replayed.content == done.content
