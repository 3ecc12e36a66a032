"""The outbox relay against real PostgreSQL, a real order-service receiver over HTTP that
verifies Standard Webhooks signatures, and, where crashes and competition matter, real
`payments-service worker --only relay` processes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from app.container import build_container
from app.core.db import create_sessionmaker, transaction
from app.core.ids import new_id
from app.core.settings import Settings
from app.models import DeliveryAttempt, Event
from app.repositories.events import EventRepository
from app.services.event_delivery import USER_AGENT, EventRelay, redeliver
from app.workers.relay import LISTENER_APPLICATION_NAME, run_relay
from sandbox.runner import ServerThread
from tests.conftest import API_KEY, make_settings
from tests.support.api import order_id, wait_for_status
from tests.support.order_service import OrderService, new_notification_secret
from tests.support.stripe_js import StripeJs

FAST_SCHEDULE = "0.05,0.1,0.2,0.4"
RelaySettings = Callable[..., Settings]
RELAY_COMMAND = [str(Path(sys.executable).parent / "payments-service"), "worker", "--only", "relay"]


@pytest.fixture
def order_service() -> Iterator[OrderService]:
    with OrderService(new_notification_secret()) as service:
        yield service


@pytest.fixture
def relay_settings(
    database_url: str,
    stripe_sandbox: ServerThread,
    webhook_secret: str,
    order_service: OrderService,
) -> Any:
    """Settings for a relay that talks to `order_service`; keyword overrides win."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "notification_url": order_service.url,
            "notification_secret": order_service.secret,
            "notification_retry_schedule": FAST_SCHEDULE,
            "notification_timeout_seconds": 2,
            "relay_lease_seconds": 5,
            "relay_poll_seconds": 0.05,
            **overrides,
        }
        return make_settings(database_url, stripe_sandbox.url, webhook_secret, **values)

    return build


@pytest.fixture
def sessionmaker(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(db)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@asynccontextmanager
async def running_relay(settings: Settings) -> AsyncIterator[None]:
    """`run_relay` in this process, as the API process runs it; stopped on exit."""
    container = await build_container(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(run_relay(container, stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)
        await container.aclose()


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    assert settings.database_url
    assert settings.stripe_secret_key
    assert settings.notification_secret
    env.update(
        PAYMENTS_DATABASE_URL=settings.database_url.get_secret_value(),
        PAYMENTS_API_KEYS=API_KEY,
        PAYMENTS_STRIPE_SECRET_KEY=settings.stripe_secret_key.get_secret_value(),
        PAYMENTS_STRIPE_PUBLISHABLE_KEY=settings.stripe_publishable_key or "",
        PAYMENTS_STRIPE_WEBHOOK_SECRETS=",".join(
            s.get_secret_value() for s in settings.stripe_webhook_secrets
        ),
        PAYMENTS_STRIPE_API_BASE=settings.stripe_api_base,
        PAYMENTS_NOTIFICATION_URL=settings.notification_url or "",
        PAYMENTS_NOTIFICATION_SECRET=settings.notification_secret.get_secret_value(),
        PAYMENTS_NOTIFICATION_RETRY_SCHEDULE=",".join(
            str(s) for s in settings.notification_retry_schedule
        ),
        PAYMENTS_NOTIFICATION_TIMEOUT_SECONDS=str(settings.notification_timeout_seconds),
        PAYMENTS_RELAY_BATCH_SIZE=str(settings.relay_batch_size),
        PAYMENTS_RELAY_POLL_SECONDS=str(settings.relay_poll_seconds),
        PAYMENTS_RELAY_LEASE_SECONDS=str(settings.relay_lease_seconds),
        PAYMENTS_LOG_LEVEL="INFO",
    )
    return env


class RelayProcess:
    """`payments-service worker --only relay`, logging to a file (a pipe nobody reads fills)."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                RELAY_COMMAND,
                env=worker_env(settings),
                cwd=log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_listening(self, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while "relay listening" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            await asyncio.sleep(0.05)

    def delivered(self) -> int:
        return self.output().count(": 200 in ")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


async def insert_events(
    sessionmaker: async_sessionmaker[AsyncSession], payments: int, per_payment: int
) -> list[Event]:
    """Each payment's events in order; the payments' streams interleaved, as in real life."""
    events = [
        Event(
            id=new_id("evt"),
            type="payment.processing",
            payment_id=f"pay_relaytest{p:05d}",
            refund_id=None,
            data={"id": f"pay_relaytest{p:05d}", "step": step},
        )
        for step in range(per_payment)
        for p in range(payments)
    ]
    async with transaction(sessionmaker) as session:
        repo = EventRepository(session)
        for event in events:
            repo.add(event)
        await session.flush()
        await repo.notify()
    return events


async def outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Event]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Event).order_by(Event.seq))).all())


async def attempts_of(
    sessionmaker: async_sessionmaker[AsyncSession], event_id: str
) -> list[DeliveryAttempt]:
    async with sessionmaker() as session:
        return list(await EventRepository(session).attempts_for([event_id]))


def streams(events: list[Event]) -> dict[str, list[str]]:
    """Each payment's event ids in commit (seq) order."""
    by_payment: dict[str, list[str]] = {}
    for event in sorted(events, key=lambda e: e.seq):
        by_payment.setdefault(event.payment_id, []).append(event.id)
    return by_payment


async def paid_payment(api: httpx.AsyncClient, stripe_js: StripeJs, *cards: str) -> str:
    """A payment confirmed with each card in turn (the last should succeed)."""
    response = await api.post(
        "/v1/payments", json={"order_id": order_id("relay"), "amount": 1500, "currency": "USD"}
    )
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    secret = payment["payment_payload"]["client_secret"]
    for card in cards:
        await stripe_js.confirm(secret, card)
        if card != cards[-1]:
            await wait_until_events(api, payment["id"], cards.index(card) + 2)
    await wait_for_status(api, payment["id"], "succeeded")
    payment_id: str = payment["id"]
    return payment_id


async def wait_until_events(api: httpx.AsyncClient, payment_id: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = (await api.get("/v1/events", params={"payment_id": payment_id})).json()
        if len(listed["data"]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{payment_id} has fewer than {count} events")


async def drive(relay: EventRelay, until: Any, *, seconds: float = 15) -> None:
    """`run_once` step by step, as the worker loop would, until `until()` holds."""
    deadline = time.monotonic() + seconds
    while not await until():
        assert time.monotonic() < deadline, "the relay did not get there in time"
        if await relay.run_once() == 0:
            await asyncio.sleep(0.02)


class TestOrderServiceOutage:
    async def test_every_event_arrives_in_order_once_the_order_service_recovers(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
    ) -> None:
        order_service.fail_for(1.5)
        # Long enough to outlast the outage; the default is ~32 hours.
        settings = relay_settings(notification_retry_schedule="0.1,0.2,0.4,0.8,1.6,3.2")
        async with running_relay(settings):
            await asyncio.gather(*(paid_payment(api, stripe_js, "pm_card_visa") for _ in range(4)))
            events = await outbox(sessionmaker)
            assert len(events) == 8
            assert await order_service.wait_for({e.id for e in events}, seconds=15)

        assert any(r.status == 503 for r in order_service.requests)
        assert order_service.by_payment() == streams(events)
        assert {e.status for e in await outbox(sessionmaker)} == {"delivered"}
        assert not order_service.duplicates


class TestTwoRelayProcesses:
    async def test_500_events_are_each_delivered_exactly_once(
        self,
        db: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
        tmp_path: Path,
    ) -> None:
        settings = relay_settings(relay_batch_size=25, relay_lease_seconds=30)
        relays = [RelayProcess(settings, tmp_path / f"relay-{n}.log") for n in (1, 2)]
        try:
            for relay in relays:
                await relay.wait_listening()
            started = time.monotonic()
            events = await insert_events(sessionmaker, payments=100, per_payment=5)
            assert await order_service.wait_for({e.id for e in events}, seconds=40)
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.3)  # room for a stray second delivery to show up
        finally:
            for relay in relays:
                relay.stop()

        assert len(order_service.ids()) == 500
        assert order_service.duplicates == []
        assert [r.status for r in order_service.requests] == [200] * 500
        assert order_service.by_payment() == streams(events)
        # Both took part: the claim, not luck, kept them apart.
        assert all(relay.delivered() > 0 for relay in relays), [r.delivered() for r in relays]
        assert sum(relay.delivered() for relay in relays) == 500
        async with sessionmaker() as session:
            attempts = (await session.scalars(select(DeliveryAttempt))).all()
        assert len(attempts) == 500
        print(f"\n500 events through two relay processes in {elapsed:.2f} s")


class TestCrashedRelay:
    async def test_a_relay_killed_mid_batch_loses_nothing(
        self,
        db: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
        tmp_path: Path,
    ) -> None:
        settings = relay_settings(
            relay_batch_size=10, relay_lease_seconds=2, notification_timeout_seconds=1
        )
        events = await insert_events(sessionmaker, payments=20, per_payment=2)
        order_service.slow(0.4)
        first = RelayProcess(settings, tmp_path / "relay-1.log")
        try:
            deadline = time.monotonic() + 20
            while len(order_service.received) < 5 or order_service.in_flight == 0:
                assert first.process.poll() is None, first.output()
                assert time.monotonic() < deadline, first.output()
                await asyncio.sleep(0.01)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(5)
        finally:
            first.stop()

        leased = [e for e in await outbox(sessionmaker) if e.status == "pending" and e.locked_until]
        assert leased, "the kill should have caught a batch in flight"
        assert len(order_service.ids()) < len(events)

        order_service.slow(0)
        second = RelayProcess(settings, tmp_path / "relay-2.log")
        try:
            assert await order_service.wait_for({e.id for e in events}, seconds=25)
        finally:
            second.stop()
        assert set(order_service.ids()) == {e.id for e in events}
        assert order_service.by_payment() == streams(events)
        assert {e.status for e in await outbox(sessionmaker)} == {"delivered"}


class TestOrderPerPayment:
    async def test_later_events_wait_while_the_first_fails_twice(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
        http: httpx.AsyncClient,
    ) -> None:
        payment_id = await paid_payment(api, stripe_js, "4000000000000002", "pm_card_visa")
        events = await outbox(sessionmaker)
        assert [e.type for e in events] == [
            "payment.created",
            "payment.failed",
            "payment.succeeded",
        ]
        first, second, third = (e.id for e in events)
        order_service.fail_next(2)

        relay = EventRelay(sessionmaker, relay_settings(), http)

        async def all_arrived() -> bool:
            return len(order_service.received) == 3

        await drive(relay, all_arrived)
        assert [(r.id, r.status) for r in order_service.requests] == [
            (first, 503),
            (first, 503),
            (first, 200),
            (second, 200),
            (third, 200),
        ]
        assert order_service.by_payment() == {payment_id: [first, second, third]}
        attempts = await attempts_of(sessionmaker, first)
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 503), (2, 503), (3, 200)]
        assert attempts[0].error is not None
        assert attempts[0].error.startswith("HTTP 503")

    async def test_no_later_event_is_claimed_while_an_earlier_one_is_pending(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        first, _second = await insert_events(sessionmaker, payments=1, per_payment=2)
        other = (await insert_events(sessionmaker, payments=2, per_payment=1))[1]
        async with transaction(sessionmaker) as session:
            await session.execute(
                update(Event)
                .where(Event.id == first.id)
                .values(next_attempt_at=datetime.now().astimezone() + timedelta(hours=1))
            )
        async with transaction(sessionmaker) as session:
            claimed = await EventRepository(session).claim_due(
                limit=10, lease_seconds=30, order_hold_seconds=3600
            )
        # The first is backing off; its successor waits with it; another payment's goes.
        assert [e.id for e in claimed] == [other.id]


class TestDeadLetter:
    async def test_dead_after_the_last_retry_then_redelivered(
        self,
        db: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
        http: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="app")
        (event,) = await insert_events(sessionmaker, payments=1, per_payment=1)
        order_service.fail_for(60)
        settings = relay_settings()
        relay = EventRelay(sessionmaker, settings, http)

        async def dead() -> bool:
            async with sessionmaker() as session:
                row = await session.get(Event, event.id, populate_existing=True)
                return row is not None and row.status == "dead"

        await drive(relay, dead)
        attempts = await attempts_of(sessionmaker, event.id)
        schedule = settings.notification_retry_schedule
        assert [a.attempt for a in attempts] == [1, 2, 3, 4, 5]  # the first try + 4 retries
        assert {a.status_code for a in attempts} == {503}
        for a in attempts:
            assert a.error is not None
            assert a.error.startswith("HTTP 503")
            assert len(a.error) <= 500
            assert a.latency_ms >= 0
        for earlier, later, wait in zip(attempts[:-1], attempts[1:], schedule, strict=True):
            gap = (later.attempted_at - earlier.attempted_at).total_seconds()
            assert gap >= wait * 0.8 - 0.01, (gap, wait)
        (row,) = await outbox(sessionmaker)
        assert (row.attempts, row.locked_until) == (5, None)
        assert row.last_error is not None
        assert row.last_error.startswith("HTTP 503")
        await asyncio.sleep(0.5)
        assert await relay.run_once() == 0, "a dead event is not tried again by itself"

        order_service.recover()
        queued = await redeliver(sessionmaker, event.id)
        assert queued is not None
        assert queued.status == "pending"
        assert await relay.run_once() == 1
        assert order_service.ids() == [event.id]
        (row,) = await outbox(sessionmaker)
        assert row.status == "delivered"
        assert row.delivered_at is not None
        attempts = await attempts_of(sessionmaker, event.id)
        assert [(a.attempt, a.status_code) for a in attempts][-2:] == [(5, 503), (6, 200)]
        assert await redeliver(sessionmaker, "evt_does_not_exist") is None

        logged = caplog.text
        assert event.id in logged
        assert "dead-lettered" in logged
        assert order_service.secret not in logged
        assert order_service.secret.removeprefix("whsec_") not in logged
        assert '"step"' not in logged, "a body was logged"


class TestSignatures:
    async def test_deliveries_verify_and_tampered_ones_are_refused(
        self,
        api: httpx.AsyncClient,
        stripe_js: StripeJs,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
        http: httpx.AsyncClient,
    ) -> None:
        response = await api.post(
            "/v1/payments", json={"order_id": order_id("sig"), "amount": 700, "currency": "USD"}
        )
        assert response.status_code == 201
        (event,) = await outbox(sessionmaker)
        relay = EventRelay(sessionmaker, relay_settings(), http)
        assert await relay.run_once() == 1

        (got,) = order_service.received
        headers = got.headers
        assert headers["webhook-id"] == event.id
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"] == USER_AGENT
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        body = Webhook(order_service.secret).verify(got.body, headers)
        assert body == {
            "id": event.id,
            "type": "payment.created",
            "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": event.data,
        }
        assert body["created_at"].endswith("Z")
        assert body["data"]["id"] == response.json()["id"]

        signed = {k: v for k, v in headers.items() if k.startswith("webhook-")}

        async def replay(body: bytes, **changes: str) -> int:
            sent = await http.post(
                order_service.url,
                content=body,
                headers={**signed, **changes, "content-type": "application/json"},
            )
            return sent.status_code

        tampered = json.loads(got.body)
        tampered["data"]["amount"] = 1
        assert await replay(json.dumps(tampered).encode()) == 400
        assert await replay(got.body.replace(b'"amount":700', b'"amount":7000')) == 400
        assert await replay(got.body, **{"webhook-id": new_id("evt")}) == 400
        moved = str(int(headers["webhook-timestamp"]) - 7)  # still fresh, but not what was signed
        assert await replay(got.body, **{"webhook-timestamp": moved}) == 400
        # The very same request again is valid: a duplicate, which the receiver drops.
        assert await replay(got.body) == 200
        assert order_service.duplicates == [event.id]

    async def test_a_relay_signing_with_the_wrong_secret_is_refused(
        self,
        db: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
        http: httpx.AsyncClient,
    ) -> None:
        (event,) = await insert_events(sessionmaker, payments=1, per_payment=1)
        wrong = relay_settings(notification_secret=new_notification_secret())
        assert await EventRelay(sessionmaker, wrong, http).run_once() == 1
        assert order_service.received == []
        assert [r.status for r in order_service.requests] == [400]
        (attempt,) = await attempts_of(sessionmaker, event.id)
        assert attempt.status_code == 400
        (row,) = await outbox(sessionmaker)
        assert (row.status, row.attempts) == ("pending", 1)


class TestLeases:
    async def test_a_relay_whose_lease_lapsed_cannot_overwrite_the_new_owner(
        self, db: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        (event,) = await insert_events(sessionmaker, payments=1, per_payment=1)
        async with transaction(sessionmaker) as session:
            (slow,) = await EventRepository(session).claim_due(
                limit=5, lease_seconds=0.5, order_hold_seconds=3600
            )
        async with transaction(sessionmaker) as session:
            assert (
                await EventRepository(session).claim_due(
                    limit=5, lease_seconds=30, order_hold_seconds=3600
                )
                == []
            )
        await asyncio.sleep(0.6)
        async with transaction(sessionmaker) as session:
            (taker,) = await EventRepository(session).claim_due(
                limit=5, lease_seconds=30, order_hold_seconds=3600
            )
        assert taker.id == event.id
        assert taker.locked_until != slow.locked_until

        assert slow.locked_until is not None
        assert taker.locked_until is not None
        async with transaction(sessionmaker) as session:
            repo = EventRepository(session)
            assert not await repo.mark_failed(event.id, slow.locked_until, error="x", retry_in=1)
            assert not await repo.mark_delivered(event.id, slow.locked_until)
        (row,) = await outbox(sessionmaker)
        assert (row.status, row.locked_until) == ("pending", taker.locked_until)
        async with transaction(sessionmaker) as session:
            assert await EventRepository(session).mark_delivered(event.id, taker.locked_until)

    async def test_a_batch_running_late_gives_back_what_it_cannot_send_within_its_lease(
        self,
        db: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
        http: httpx.AsyncClient,
    ) -> None:
        first, second, third = await insert_events(sessionmaker, payments=3, per_payment=1)
        order_service.slow(0.6)
        # A request may start until 1 s into the 2 s lease: the third would start at ~1.2 s.
        settings = relay_settings(relay_lease_seconds=2, notification_timeout_seconds=1)
        relay = EventRelay(sessionmaker, settings, http, concurrency=1)
        assert await relay.run_once() == 2
        assert order_service.ids() == [first.id, second.id]
        given_back = next(e for e in await outbox(sessionmaker) if e.id == third.id)
        assert (given_back.status, given_back.locked_until, given_back.attempts) == (
            "pending",
            None,
            0,
        )
        assert await attempts_of(sessionmaker, third.id) == []
        order_service.slow(0)
        assert await relay.run_once() == 1
        assert order_service.ids() == [first.id, second.id, third.id]


class TestWakeUp:
    async def test_a_commit_wakes_the_relay_and_the_listener_comes_back(
        self,
        api: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        order_service: OrderService,
        relay_settings: RelaySettings,
    ) -> None:
        async def listener_pid(other_than: int | None = None) -> int:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                async with sessionmaker() as session:
                    pids = (
                        await session.scalars(
                            text(
                                "SELECT pid FROM pg_stat_activity WHERE application_name = :name"
                                " AND datname = current_database()"
                            ),
                            {"name": LISTENER_APPLICATION_NAME},
                        )
                    ).all()
                fresh = [pid for pid in pids if pid != other_than]
                if fresh:
                    return int(fresh[0])
                await asyncio.sleep(0.05)
            raise AssertionError("no relay listener connected")

        async def one_payment_event_arrives() -> float:
            before = set(order_service.ids())
            started = time.monotonic()
            response = await api.post(
                "/v1/payments",
                json={"order_id": order_id("wake"), "amount": 900, "currency": "USD"},
            )
            assert response.status_code == 201
            deadline = started + 5
            while set(order_service.ids()) == before:
                assert time.monotonic() < deadline, "no NOTIFY reached the relay"
                await asyncio.sleep(0.01)
            return time.monotonic() - started

        # Polling alone would take a minute: only NOTIFY can make it in time.
        async with running_relay(relay_settings(relay_poll_seconds=60)):
            pid = await listener_pid()
            await asyncio.sleep(0.1)
            assert await one_payment_event_arrives() < 5
            async with sessionmaker() as session:
                await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await listener_pid(other_than=pid)
            await asyncio.sleep(0.1)
            assert await one_payment_event_arrives() < 5

    async def test_without_a_url_the_relay_idles_and_events_wait(
        self,
        db: AsyncEngine,
        database_url: str,
        stripe_sandbox: ServerThread,
        webhook_secret: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        await insert_events(sessionmaker, payments=2, per_payment=1)
        settings = make_settings(database_url, stripe_sandbox.url, webhook_secret)
        async with running_relay(settings):
            await asyncio.sleep(0.3)
        assert {e.status for e in await outbox(sessionmaker)} == {"pending"}
        assert caplog.text.count("PAYMENTS_NOTIFICATION_URL is not set") == 1


class TestOrderHold:
    async def test_an_event_refused_for_good_holds_back_its_payment_only_for_the_hold(
        self,
        db: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        relay_settings: RelaySettings,
        order_service: OrderService,
    ) -> None:
        first, second, third = await insert_events(sessionmaker, payments=1, per_payment=3)
        order_service.refuse(first.id)
        settings = relay_settings(
            notification_order_hold_seconds=1, notification_retry_schedule="0.1,0.1,0.1,60"
        )
        started = time.monotonic()
        async with running_relay(settings):
            assert await order_service.wait_for({second.id, third.id}, seconds=10)
        assert time.monotonic() - started >= 1
        # In order still, among those that arrived; the refused one keeps being retried.
        assert order_service.ids() == [second.id, third.id]
        held = {e.id: e for e in await outbox(sessionmaker)}[first.id]
        assert held.status == "pending"
        assert held.attempts >= 1

    async def test_within_the_hold_a_later_event_waits_for_the_earlier(
        self,
        db: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        relay_settings: RelaySettings,
        order_service: OrderService,
    ) -> None:
        first, second = await insert_events(sessionmaker, payments=1, per_payment=2)
        order_service.refuse(first.id)
        async with running_relay(relay_settings(notification_retry_schedule="0.1,0.1,60")):
            assert not await order_service.wait_for({second.id}, seconds=1.5)
        assert second.id not in order_service.ids()
