"""The database going away: every request answers 503 database_unavailable (retryable,
with Retry-After), never a 500, the caller's keep-alive connection stays usable, and the
service recovers by itself when the database is back. A TCP proxy in front of the real
PostgreSQL is what goes away."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from sandbox.runner import ServerThread
from tests.conftest import API_KEY, make_settings
from tests.support.api import order_id
from tests.support.tcp_proxy import TcpProxy

REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/payments", None),
    ("POST", "/v1/payments", {"order_id": "db-down", "amount": 1000, "currency": "USD"}),
    ("GET", "/v1/events", None),
    ("GET", "/readyz", None),
]


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    url = make_url(database_url)
    running = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    running.start()
    yield running
    running.close()


@pytest.fixture
def server(
    proxy: TcpProxy, database_url: str, stripe_sandbox: ServerThread, webhook_secret: str
) -> Iterator[ServerThread]:
    through_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(
        through_proxy.render_as_string(hide_password=False),
        stripe_sandbox.url,
        webhook_secret,
        db_pool_size=4,
        db_max_overflow=0,
        db_pool_timeout_seconds=2,
    )
    with ServerThread(create_app(settings)) as running:
        yield running


class KeptAlive:
    """One HTTP/1.1 connection for every request: it breaks if the server drops it."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.connection.connect()
        self.socket = self.connection.sock

    def request(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        payload = json.dumps({**body, "order_id": order_id("db")}) if body else None
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        data = json.loads(response.read() or b"null")
        assert self.connection.sock is self.socket, "the server dropped the keep-alive connection"
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


async def each(alive: KeptAlive) -> list[tuple[int, dict[str, str], Any]]:
    return [await asyncio.to_thread(alive.request, *request) for request in REQUESTS]


class TestTheDatabaseGoesAway:
    async def test_503_while_it_is_gone_and_service_when_it_is_back(
        self, db: AsyncEngine, proxy: TcpProxy, server: ServerThread
    ) -> None:
        alive = KeptAlive(server.port)
        healthy = await each(alive)
        assert [status for status, _, _ in healthy] == [200, 201, 200, 200], healthy

        proxy.stop()
        for _ in range(3):
            for status, headers, problem in await each(alive):
                assert status == 503, problem
                assert problem["code"] in ("database_unavailable", "not_ready"), problem
                assert problem["retryable"] is True
                if problem["code"] == "database_unavailable":
                    assert headers["retry-after"] == "1"

        proxy.start()
        for _ in range(20):
            back = await each(alive)
            if all(status < 300 for status, _, _ in back):
                break
            await asyncio.sleep(0.2)
        assert [status for status, _, _ in back] == [200, 201, 200, 200], back

    async def test_connections_killed_mid_load_give_503s_never_500s(
        self, db: AsyncEngine, server: ServerThread, database_url: str
    ) -> None:
        alive = [KeptAlive(server.port) for _ in range(4)]

        async def load(client: KeptAlive) -> list[int]:
            statuses = []
            for _ in range(15):
                statuses += [status for status, _, _ in await each(client)]
            return statuses

        async def terminate() -> None:
            for _ in range(5):
                await asyncio.sleep(0.1)
                async with db.connect() as connection:
                    await connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                            "AND application_name = 'payments-service'"
                        )
                    )

        results = await asyncio.gather(*(load(client) for client in alive), terminate())
        statuses = [status for batch in results[:-1] for status in batch]
        assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
        assert statuses.count(503) < len(statuses)
