"""run_idempotent behind a small FastAPI app, in process, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api import problems
from app.api.idempotency import run_idempotent
from app.core import errors
from app.core.db import Base, create_sessionmaker
from app.models import IdempotencyKey
from app.services.idempotency import IdempotencyService

CALLER = "c" * 64
OTHER_CALLER = "d" * 64
BODY = {"name": "widget", "amount": 2000, "tags": {"a": "1", "b": "2"}}

IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]
# Stands in for require_api_key, which yields the caller's API-key digest.
CallerHeader = Annotated[str, Header(alias="X-Caller")]


class ThingCreate(BaseModel):
    name: str
    amount: int
    tags: dict[str, str] = {}


def build_app(service: IdempotencyService, calls: Counter[str], delay: float = 0.0) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/things", status_code=201)
    async def create_thing(
        request: Request,
        body: ThingCreate,
        caller: CallerHeader = CALLER,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        async def handler() -> Response:
            calls["create"] += 1
            number = calls["create"]
            await asyncio.sleep(delay)
            return JSONResponse(
                {"id": f"thing_{number}", "name": body.name, "amount": body.amount},
                status_code=201,
                headers={"Location": f"/things/thing_{number}", "X-Request-Number": str(number)},
            )

        return await run_idempotent(
            service, owner=caller, key=idempotency_key, request=request, handler=handler
        )

    @app.post("/things/{thing_id}/cancel")
    async def cancel_thing(
        request: Request, thing_id: str, idempotency_key: IdempotencyKeyHeader = None
    ) -> Response:
        async def handler() -> Response:
            calls["cancel"] += 1
            return JSONResponse({"id": thing_id, "canceled": calls["cancel"]})

        return await run_idempotent(
            service, owner=CALLER, key=idempotency_key, request=request, handler=handler
        )

    @app.post("/flaky")
    async def flaky(request: Request, idempotency_key: IdempotencyKeyHeader = None) -> Response:
        async def handler() -> Response:
            calls["flaky"] += 1
            if calls["flaky"] == 1:
                raise errors.ProviderUnavailableError(payment_channel="stripe")
            return JSONResponse({"attempt": calls["flaky"]}, status_code=201)

        return await run_idempotent(
            service, owner=CALLER, key=idempotency_key, request=request, handler=handler
        )

    @app.post("/declined")
    async def declined(request: Request, idempotency_key: IdempotencyKeyHeader = None) -> Response:
        async def handler() -> Response:
            calls["declined"] += 1
            raise errors.CardDeclined("Your card was declined.", payment_channel="stripe")

        return await run_idempotent(
            service, owner=CALLER, key=idempotency_key, request=request, handler=handler
        )

    @app.post("/crash")
    async def crash(request: Request, idempotency_key: IdempotencyKeyHeader = None) -> Response:
        async def handler() -> Response:
            calls["crash"] += 1
            if calls["crash"] == 1:
                raise RuntimeError("the handler broke")
            return JSONResponse({"attempt": calls["crash"]})

        return await run_idempotent(
            service, owner=CALLER, key=idempotency_key, request=request, handler=handler
        )

    return app


@pytest.fixture
async def service(engine: AsyncEngine) -> IdempotencyService:
    # The table arrives with migration 0002; until then the test makes it (a no-op after).
    async with engine.begin() as connection:
        await connection.run_sync(
            Base.metadata.create_all, tables=[Base.metadata.tables[IdempotencyKey.__tablename__]]
        )
        await connection.execute(text("TRUNCATE idempotency_keys RESTART IDENTITY"))
    return IdempotencyService(create_sessionmaker(engine))


@pytest.fixture
def calls() -> Counter[str]:
    return Counter()


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def client(
    service: IdempotencyService, calls: Counter[str]
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(build_app(service, calls)):
        yield client


@pytest.fixture
async def slow_client(
    service: IdempotencyService, calls: Counter[str]
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(build_app(service, calls, delay=0.3)):
        yield client


def key_header() -> dict[str, str]:
    return {"Idempotency-Key": "key_" + secrets.token_hex(8)}


def post_json(client: httpx.AsyncClient, path: str, raw: bytes, headers: dict[str, str]) -> Any:
    return client.post(path, content=raw, headers={**headers, "Content-Type": "application/json"})


class TestReplay:
    async def test_the_same_request_replays_the_first_answer_byte_for_byte(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        first = await client.post("/things", json=BODY, headers=headers)
        # The same JSON, keys reordered and spaced out.
        respaced = b'{ "tags": {"b": "2", "a": "1"},\n "amount": 2000, "name": "widget" }'
        second = await post_json(client, "/things", respaced, headers)

        assert first.status_code == second.status_code == 201
        assert second.content == first.content
        assert second.headers["content-type"] == first.headers["content-type"]
        assert second.headers["location"] == first.headers["location"] == "/things/thing_1"
        assert second.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        # Only content-type and location are kept.
        assert "x-request-number" not in second.headers
        assert calls["create"] == 1

    async def test_a_post_without_a_body_replays_too(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        first = await client.post("/things/thing_9/cancel", headers=headers)
        second = await client.post("/things/thing_9/cancel", headers=headers)
        assert first.status_code == second.status_code == 200
        assert second.content == first.content
        assert second.headers["idempotent-replayed"] == "true"
        assert calls["cancel"] == 1

    async def test_without_a_key_every_request_runs(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        first = await client.post("/things", json=BODY)
        second = await client.post("/things", json=BODY)
        assert first.json()["id"] != second.json()["id"]
        assert calls["create"] == 2

    async def test_two_callers_with_one_key_each_run(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        mine = await client.post("/things", json=BODY, headers=headers)
        theirs = await client.post("/things", json=BODY, headers={**headers, "X-Caller": "d" * 64})
        assert mine.json()["id"] != theirs.json()["id"]
        assert "idempotent-replayed" not in theirs.headers
        assert calls["create"] == 2


class TestReuse:
    async def test_the_same_key_with_another_body_is_a_422(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        await client.post("/things", json=BODY, headers=headers)
        reused = await client.post("/things", json={**BODY, "amount": 1}, headers=headers)
        assert reused.status_code == 422
        assert reused.headers["content-type"] == "application/problem+json"
        assert reused.json()["code"] == "idempotency_key_reused"
        assert reused.json()["retryable"] is False
        assert calls["create"] == 1

    async def test_a_key_is_scoped_to_its_route(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        """One key string serves two routes (a `/sync` then a `/cancel`): each its own."""
        headers = key_header()
        first = await client.post("/things/thing_1/cancel", headers=headers)
        other = await client.post("/things/thing_2/cancel", headers=headers)
        assert (first.status_code, other.status_code) == (200, 200)
        assert "Idempotent-Replayed" not in other.headers
        again = await client.post("/things/thing_2/cancel", headers=headers)
        assert again.headers["Idempotent-Replayed"] == "true"

    async def test_a_body_refused_by_validation_does_not_take_the_key(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        invalid = await client.post("/things", json={"name": "widget"}, headers=headers)
        assert invalid.status_code == 422
        assert invalid.json()["code"] == "validation_error"
        valid = await client.post("/things", json=BODY, headers=headers)
        assert valid.status_code == 201
        assert calls["create"] == 1


class TestConcurrency:
    async def test_fifty_concurrent_requests_with_one_key_run_once(
        self, slow_client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        responses = await asyncio.gather(
            *(slow_client.post("/things", json=BODY, headers=headers) for _ in range(50))
        )
        assert calls["create"] == 1
        created = [r for r in responses if r.status_code == 201]
        in_progress = [r for r in responses if r.status_code == 409]
        assert len(created) + len(in_progress) == 50
        assert len(created) >= 1
        assert len({r.content for r in created}) == 1
        for response in in_progress:
            problem = response.json()
            assert problem["code"] == "idempotency_request_in_progress"
            assert problem["retryable"] is True

        after = await slow_client.post("/things", json=BODY, headers=headers)
        assert after.status_code == 201
        assert after.content == created[0].content
        assert after.headers["idempotent-replayed"] == "true"


class TestErrors:
    async def test_a_retryable_error_is_not_stored(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        unavailable = await client.post("/flaky", headers=headers)
        assert unavailable.status_code == 503
        assert unavailable.json()["code"] == "provider_unavailable"
        retried = await client.post("/flaky", headers=headers)
        assert retried.status_code == 201
        assert "idempotent-replayed" not in retried.headers
        replayed = await client.post("/flaky", headers=headers)
        assert replayed.content == retried.content
        assert replayed.headers["idempotent-replayed"] == "true"
        assert calls["flaky"] == 2

    async def test_a_final_error_is_stored_and_replayed(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        declined = await client.post("/declined", headers=headers)
        assert declined.status_code == 402
        assert declined.headers["content-type"] == "application/problem+json"
        assert declined.json()["code"] == "card_declined"
        again = await client.post("/declined", headers=headers)
        assert again.status_code == 402
        assert again.content == declined.content
        assert again.headers["content-type"] == "application/problem+json"
        assert again.headers["idempotent-replayed"] == "true"
        assert calls["declined"] == 1

    async def test_a_crashed_handler_gives_its_key_back(
        self, client: httpx.AsyncClient, calls: Counter[str]
    ) -> None:
        headers = key_header()
        crashed = await client.post("/crash", headers=headers)
        assert crashed.status_code == 500
        retried = await client.post("/crash", headers=headers)
        assert retried.status_code == 200
        assert retried.json() == {"attempt": 2}
        assert calls["crash"] == 2
