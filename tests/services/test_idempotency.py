"""IdempotencyService on a real PostgreSQL: leases, replays, takeovers and expiry."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import Base, create_sessionmaker
from app.models import IdempotencyKey
from app.services.idempotency import IdempotencyService, Lease, Replay, fingerprint

OWNER = "a" * 64
OTHER_OWNER = "b" * 64
PATH = "/v1/payments"
BODY = b'{"order_id": "o_1", "amount": 2000, "currency": "USD"}'
FINGERPRINT = fingerprint("POST", PATH, BODY)
HEADERS = {"content-type": "application/json", "location": "/v1/payments/pay_1"}


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # The table arrives with migration 0002; until then the test makes it (a no-op after).
    async with engine.begin() as connection:
        await connection.run_sync(
            Base.metadata.create_all, tables=[Base.metadata.tables[IdempotencyKey.__tablename__]]
        )
        await connection.execute(text("TRUNCATE idempotency_keys RESTART IDENTITY"))
    return create_sessionmaker(engine)


@pytest.fixture
def service(sessionmaker: async_sessionmaker[AsyncSession]) -> IdempotencyService:
    return IdempotencyService(sessionmaker)


def new_key() -> str:
    return "key_" + secrets.token_hex(8)


async def lease(service: IdempotencyService, key: str, **overrides: Any) -> Lease:
    arguments: dict[str, Any] = {
        "owner": OWNER,
        "key": key,
        "method": "POST",
        "path": PATH,
        "fingerprint": FINGERPRINT,
        **overrides,
    }
    outcome = await service.begin(**arguments)
    assert isinstance(outcome, Lease), outcome
    return outcome


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(sql), params)


class TestFingerprint:
    def test_key_order_and_whitespace_do_not_matter(self) -> None:
        compact = b'{"amount":2000,"currency":"USD","metadata":{"a":"1","b":"2"}}'
        spread = b'{ "currency": "USD",\n  "metadata": {"b": "2", "a": "1"},  "amount": 2000 }'
        assert fingerprint("POST", PATH, compact) == fingerprint("post", PATH, spread)

    def test_values_method_and_path_matter(self) -> None:
        base = fingerprint("POST", PATH, b'{"amount": 2000}')
        assert fingerprint("POST", PATH, b'{"amount": 2001}') != base
        assert fingerprint("PUT", PATH, b'{"amount": 2000}') != base
        assert fingerprint("POST", "/v1/refunds", b'{"amount": 2000}') != base
        assert fingerprint("POST", PATH, b"[1, 2]") != fingerprint("POST", PATH, b"[2, 1]")

    def test_an_empty_body_is_one_body(self) -> None:
        assert fingerprint("POST", PATH, b"") == fingerprint("POST", PATH, b"  \n")
        assert fingerprint("POST", PATH, b"") != fingerprint("POST", PATH, b"{}")

    def test_a_body_that_is_not_json_is_compared_as_it_is(self) -> None:
        assert fingerprint("POST", PATH, b"a=1&b=2") != fingerprint("POST", PATH, b"b=2&a=1")
        assert fingerprint("POST", PATH, b"\xff{") == fingerprint("POST", PATH, b"\xff{")

    def test_it_fits_the_column(self) -> None:
        assert len(FINGERPRINT) == 64


class TestReplay:
    async def test_the_stored_answer_is_replayed_byte_for_byte(
        self, service: IdempotencyService
    ) -> None:
        key = new_key()
        first = await lease(service, key)
        body = b'{"id":"pay_1",  "amount":2000}'
        assert await service.complete(first, 201, body, HEADERS)

        replay = await service.begin(OWNER, key, "POST", PATH, FINGERPRINT)
        assert replay == Replay(status=201, body=body, headers=HEADERS)
        assert await service.begin(OWNER, key, "POST", PATH, FINGERPRINT) == replay

    async def test_an_empty_body_and_no_headers_are_kept_as_such(
        self, service: IdempotencyService
    ) -> None:
        key = new_key()
        assert await service.complete(await lease(service, key), 204, b"", {})
        assert await service.begin(OWNER, key, "POST", PATH, FINGERPRINT) == Replay(204, b"", {})


class TestReuse:
    async def test_another_body_after_completion_is_refused(
        self, service: IdempotencyService
    ) -> None:
        key = new_key()
        await service.complete(await lease(service, key), 201, b"{}", HEADERS)
        other = fingerprint("POST", PATH, b'{"amount": 1}')
        with pytest.raises(errors.IdempotencyKeyReused) as raised:
            await service.begin(OWNER, key, "POST", PATH, other)
        assert raised.value.status == 422
        assert raised.value.code == "idempotency_key_reused"

    async def test_another_body_while_in_flight_is_refused(
        self, service: IdempotencyService
    ) -> None:
        key = new_key()
        await lease(service, key)
        with pytest.raises(errors.IdempotencyKeyReused):
            await service.begin(OWNER, key, "POST", PATH, fingerprint("POST", PATH, b"{}"))

    async def test_the_same_key_on_another_route_is_another_key(
        self, service: IdempotencyService
    ) -> None:
        key = new_key()
        await lease(service, key)
        other = await service.begin(
            OWNER, key, "POST", "/v1/refunds", fingerprint("POST", "/v1/refunds", BODY)
        )
        assert isinstance(other, Lease)


class TestInFlight:
    async def test_a_second_request_while_the_first_runs_is_a_retryable_409(
        self, service: IdempotencyService
    ) -> None:
        key = new_key()
        await lease(service, key)
        with pytest.raises(errors.IdempotencyRequestInProgress) as raised:
            await service.begin(OWNER, key, "POST", PATH, FINGERPRINT)
        assert raised.value.status == 409
        assert raised.value.code == "idempotency_request_in_progress"
        assert raised.value.retryable is True

    async def test_fifty_concurrent_begins_lease_the_key_once(
        self, service: IdempotencyService
    ) -> None:
        key = new_key()
        outcomes = await asyncio.gather(
            *(service.begin(OWNER, key, "POST", PATH, FINGERPRINT) for _ in range(50)),
            return_exceptions=True,
        )
        leases = [o for o in outcomes if isinstance(o, Lease)]
        refused = [o for o in outcomes if isinstance(o, errors.IdempotencyRequestInProgress)]
        assert len(leases) == 1
        assert len(refused) == 49


class TestRelease:
    async def test_a_released_key_runs_again(self, service: IdempotencyService) -> None:
        key = new_key()
        first = await lease(service, key)
        assert await service.release(first)
        second = await lease(service, key)
        assert await service.complete(second, 201, b"{}", HEADERS)
        assert isinstance(await service.begin(OWNER, key, "POST", PATH, FINGERPRINT), Replay)

    async def test_a_released_key_may_carry_another_body(self, service: IdempotencyService) -> None:
        key = new_key()
        await service.release(await lease(service, key))
        await lease(service, key, fingerprint=fingerprint("POST", PATH, b'{"amount": 1}'))

    async def test_releasing_twice_does_nothing(self, service: IdempotencyService) -> None:
        first = await lease(service, new_key())
        assert await service.release(first)
        assert not await service.release(first)


class TestLapsedLease:
    async def test_a_retry_takes_over_a_dead_request_and_fences_it_out(
        self, service: IdempotencyService, engine: AsyncEngine
    ) -> None:
        key = new_key()
        dead = await lease(service, key)
        await execute(
            engine,
            "UPDATE idempotency_keys SET locked_until = now() - interval '1 second' "
            "WHERE key = :key",
            key=key,
        )
        retry = await lease(service, key)
        assert retry.id == dead.id
        assert retry.locked_until != dead.locked_until

        # The dead request's late answer must not overwrite or free the new holder's key.
        assert not await service.complete(dead, 500, b"late", {})
        assert not await service.release(dead)
        assert await service.complete(retry, 201, b'{"ok":true}', HEADERS)
        assert await service.begin(OWNER, key, "POST", PATH, FINGERPRINT) == Replay(
            201, b'{"ok":true}', HEADERS
        )

    async def test_a_short_lease_lapses_on_the_database_clock(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        service = IdempotencyService(sessionmaker, lease=timedelta(milliseconds=200))
        key = new_key()
        await lease(service, key)
        with pytest.raises(errors.IdempotencyRequestInProgress):
            await service.begin(OWNER, key, "POST", PATH, FINGERPRINT)
        await asyncio.sleep(0.3)
        await lease(service, key)


class TestExpiry:
    async def test_an_expired_key_is_absent(
        self, service: IdempotencyService, engine: AsyncEngine
    ) -> None:
        key = new_key()
        await service.complete(await lease(service, key), 201, b"{}", HEADERS)
        await execute(
            engine,
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :key",
            key=key,
        )
        other = fingerprint("POST", PATH, b'{"amount": 1}')
        fresh = await lease(service, key, fingerprint=other)
        assert await service.complete(fresh, 200, b"[]", {})
        assert await service.begin(OWNER, key, "POST", PATH, other) == Replay(200, b"[]", {})

    async def test_purge_deletes_only_expired_keys(
        self, service: IdempotencyService, engine: AsyncEngine
    ) -> None:
        kept, gone, also_gone = new_key(), new_key(), new_key()
        for key in (kept, gone, also_gone):
            await service.complete(await lease(service, key), 201, b"{}", HEADERS)
        await execute(
            engine,
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 hour' "
            "WHERE key IN (:a, :b)",
            a=gone,
            b=also_gone,
        )
        assert await service.purge_expired() == 2
        assert await service.purge_expired() == 0
        assert isinstance(await service.begin(OWNER, kept, "POST", PATH, FINGERPRINT), Replay)
        assert isinstance(await service.begin(OWNER, gone, "POST", PATH, FINGERPRINT), Lease)

    async def test_a_stored_answer_lives_a_day(
        self, service: IdempotencyService, engine: AsyncEngine
    ) -> None:
        key = new_key()
        await service.complete(await lease(service, key), 201, b"{}", HEADERS)
        async with engine.connect() as connection:
            hours = (
                await connection.execute(
                    text(
                        "SELECT extract(epoch FROM expires_at - completed_at) / 3600 "
                        "FROM idempotency_keys WHERE key = :key"
                    ),
                    {"key": key},
                )
            ).scalar_one()
        assert float(hours) == pytest.approx(24)


class TestOwners:
    async def test_two_callers_with_one_key_do_not_meet(self, service: IdempotencyService) -> None:
        key = new_key()
        mine = await lease(service, key)
        theirs = await lease(service, key, owner=OTHER_OWNER)
        assert mine.id != theirs.id
        await service.complete(mine, 201, b'{"mine":true}', HEADERS)
        assert await service.begin(OWNER, key, "POST", PATH, FINGERPRINT) == Replay(
            201, b'{"mine":true}', HEADERS
        )
        with pytest.raises(errors.IdempotencyRequestInProgress):
            await service.begin(OTHER_OWNER, key, "POST", PATH, FINGERPRINT)
