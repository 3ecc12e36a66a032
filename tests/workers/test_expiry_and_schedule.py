"""Abandoned payments end, and the janitor's per-payment schedule: real PostgreSQL, the
sandboxes over HTTP, the services in this process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.container import Container, build_container
from app.schemas.payments import PaymentCreate
from app.workers.janitor import build_reconciler
from sandbox.runner import ServerThread
from tests.conftest import make_settings
from tests.support.api import order_id
from tests.support.providers import Psp
from tests.support.sandbox import Knobs
from tests.support.stripe_js import StripeJs

ContainerFactory = Callable[..., Any]


@pytest.fixture
async def containers(
    db: AsyncEngine, database_url: str, stripe_sandbox: ServerThread, webhook_secret: str
) -> AsyncIterator[ContainerFactory]:
    built: list[Container] = []

    async def build(**overrides: Any) -> Container:
        values = {"reconcile_stale_after_seconds": 0, **overrides}
        container = await build_container(
            make_settings(database_url, stripe_sandbox.url, webhook_secret, **values)
        )
        built.append(container)
        return container

    yield build
    for container in built:
        await container.aclose()


async def open_payment(container: Container, amount: int = 2000) -> str:
    result = await container.payments.create(
        PaymentCreate(order_id=order_id("ttl"), amount=amount, currency="USD")
    )
    return result.payment.id


async def open_payment_on(container: Container, psp: Psp) -> str:
    result = await container.payments.create(PaymentCreate(**psp.body("ttl")))
    return result.payment.id


async def api_calls(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/_sandbox/stats")).json()["api_calls_total"])


async def events_of(db: AsyncEngine, payment_id: str) -> list[str]:
    async with db.connect() as connection:
        rows = await connection.execute(
            text("SELECT type FROM outbox_events WHERE payment_id = :p ORDER BY seq"),
            {"p": payment_id},
        )
        return list(rows.scalars())


class TestAbandonedPaymentsEnd:
    async def test_an_open_payment_past_its_ttl_is_closed_at_the_provider_and_expires(
        self, containers: ContainerFactory, psp: Psp, db: AsyncEngine
    ) -> None:
        container = await containers(payment_ttl_seconds=1, **psp.settings)
        payment_id = await open_payment_on(container, psp)
        payment = await container.payments.get(payment_id)
        assert payment.expires_at - payment.created_at == timedelta(seconds=1)
        await asyncio.sleep(1.1)

        report = await build_reconciler(container).run_once()

        assert (report.payments_expired, report.errors) == (1, 0)
        expired = await container.payments.get(payment_id)
        assert (expired.status, expired.next_reconcile_at) == ("expired", None)
        assert expired.provider_reference is not None
        assert await psp.state(expired.provider_reference) == "closed"
        assert await events_of(db, payment_id) == ["payment.created", "payment.expired"]

    async def test_stripe_is_told_the_intent_was_abandoned(
        self, containers: ContainerFactory, sandbox_admin: httpx.AsyncClient
    ) -> None:
        container = await containers(payment_ttl_seconds=1)
        payment_id = await open_payment(container)
        await asyncio.sleep(1.1)
        await build_reconciler(container).run_once()
        expired = await container.payments.get(payment_id)
        intent = (
            await sandbox_admin.get(f"/v1/payment_intents/{expired.provider_reference}")
        ).json()
        assert (intent["status"], intent["cancellation_reason"]) == ("canceled", "abandoned")

    async def test_a_payment_paid_just_before_its_expiry_is_believed(
        self, containers: ContainerFactory, psp: Psp
    ) -> None:
        container = await containers(payment_ttl_seconds=1, **psp.settings)
        payment_id = await open_payment_on(container, psp)
        payment = await container.payments.get(payment_id)
        await psp.knobs.set(webhooks_enabled=False)
        await psp.pay(
            {
                "payment_payload": payment.payment_payload,
                "provider_reference": payment.provider_reference,
            }
        )
        await asyncio.sleep(1.1)

        await build_reconciler(container).run_once()

        assert (await container.payments.get(payment_id)).status == "succeeded"

    async def test_the_api_shows_when_a_payment_lapses(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/v1/payments", json={"order_id": order_id("ttl"), "amount": 1000, "currency": "USD"}
        )
        body = response.json()
        assert body["expires_at"] > body["created_at"]


class TestBackOff:
    async def test_a_check_that_finds_nothing_new_is_not_repeated_at_once(
        self, containers: ContainerFactory, sandbox_admin: httpx.AsyncClient
    ) -> None:
        container = await containers()
        payment_id = await open_payment(container)
        janitor = build_reconciler(container)

        first = await janitor.run_once()
        assert (first.payments_checked, first.payments_changed) == (1, 0)
        checked = await container.payments.get(payment_id)
        assert checked.reconcile_attempts == 1
        assert checked.next_reconcile_at is not None
        assert checked.next_reconcile_at > checked.updated_at

        calls = await api_calls(sandbox_admin)
        again = await janitor.run_once()
        assert again.payments_checked == 0
        assert await api_calls(sandbox_admin) == calls

    async def test_the_wait_grows_with_the_checks_and_the_age(
        self, containers: ContainerFactory, db: AsyncEngine
    ) -> None:
        container = await containers(reconcile_max_delay_seconds=3600)
        payment_id = await open_payment(container)
        janitor = build_reconciler(container)
        waits = []
        for _ in range(4):
            async with db.begin() as connection:
                await connection.execute(
                    text("UPDATE payments SET next_reconcile_at = now() WHERE id = :p"),
                    {"p": payment_id},
                )
            await janitor.run_once()
            payment = await container.payments.get(payment_id)
            assert payment.next_reconcile_at is not None
            async with db.connect() as connection:
                now = await connection.scalar(text("SELECT now()"))
            waits.append((payment.next_reconcile_at - now).total_seconds())
        assert waits == sorted(waits)
        assert waits[-1] > waits[0] * 4


class TestALostWebhookAmongTheAbandoned:
    async def test_a_paid_payment_is_repaired_in_one_run_beside_100000_abandoned(
        self,
        containers: ContainerFactory,
        stripe_js: StripeJs,
        knobs: Knobs,
        db: AsyncEngine,
    ) -> None:
        """100,000 open payments nobody will pay, half of them due for a check, and one
        just paid whose webhook was lost: the first janitor run repairs the paid one."""
        async with db.begin() as connection:
            await connection.execute(
                text(
                    """
                    INSERT INTO payments (
                        id, order_id, amount, currency, payment_channel, method, status,
                        amount_refunded, amount_refund_pending, amount_refund_overbooked,
                        refund_status, metadata, livemode, payment_payload,
                        provider_reference, client_token_digests, created_at, updated_at,
                        expires_at, next_reconcile_at, reconcile_attempts)
                    SELECT 'pay_seed_' || n, 'seed-' || n, 1000, 'USD', 'stripe',
                        'payment_intent', 'requires_payment_method', 0, 0, 0, 'none', '{}',
                        false, '{}', 'pi_seed_' || n, ARRAY['0'],
                        now() - make_interval(secs => n % 80000),
                        now() - make_interval(secs => n % 80000),
                        now() - make_interval(secs => n % 80000) + interval '1 day',
                        now() + make_interval(secs => (n % 2) * 7200 - 3600),
                        1 + n % 8
                    FROM generate_series(1, 100000) AS n
                    """
                )
            )
            await connection.execute(text("ANALYZE payments"))
        container = await containers()
        payment_id = await open_payment(container)
        payment = await container.payments.get(payment_id)
        await knobs.set(webhooks_enabled=False)
        confirmed = await stripe_js.confirm(
            payment.payment_payload["client_secret"], "pm_card_visa"
        )
        assert confirmed.json()["status"] == "succeeded"

        started = time.monotonic()
        report = await build_reconciler(container).run_once()
        took = time.monotonic() - started

        assert (await container.payments.get(payment_id)).status == "succeeded"
        assert report.payments_changed == 1
        assert report.payments_checked == container.settings.reconcile_batch_size
        # Not a timing assertion: a bound that says the run did not scan the table.
        assert took < container.settings.reconcile_interval_seconds
