"""Real PostgreSQL, the Stripe sandbox and the API, each over real connections.

PostgreSQL: PAYMENTS_TEST_DATABASE_URL (default 127.0.0.1:5432/test); each run makes and
drops its own database. Where no server answers, the embedded one is used, except in CI,
where a missing server fails the run instead of hiding it.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.db import embedded_database_url, to_asyncpg_url
from app.core.migrations import upgrade_to_head
from app.core.settings import Settings
from app.main import create_app
from app.providers.registry import channels_of
from sandbox.pingxx import PingxxSandboxConfig, signing
from sandbox.pingxx import create_app as create_pingxx_sandbox
from sandbox.runner import ServerThread
from sandbox.stripe.config import StripeSandboxConfig
from sandbox.stripe.server import create_app as create_stripe_sandbox
from sandbox.testing import PingxxSandboxControl
from tests.support.providers import PingxxPsp, Psp, StripePsp
from tests.support.sandbox import Knobs, PingxxKnobs
from tests.support.stripe_js import StripeJs

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "test_" + secrets.token_hex(16)
OTHER_API_KEY = "test_other_" + secrets.token_hex(16)
SANDBOX_SECRET_KEY = "sk_test_sandbox"
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox"
PINGXX_SECRET_KEY = "sk_test_" + "P" * 24
PINGXX_APP_ID = "app_TestsApp00000001"
PINGXX_CHANNELS = tuple(channels_of("pingxx"))
TABLES = (
    "delivery_attempts",
    "outbox_events",
    "payment_status_history",
    "provider_records",
    "webhook_events",
    "refunds",
    "payments",
    "idempotency_keys",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    url = os.environ.get("PAYMENTS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    if _reachable(url):
        return to_asyncpg_url(url)
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI and does not answer at {url}")
    return embedded_database_url(ROOT / ".data" / "test")


@pytest.fixture(scope="session")
async def database_url(admin_database_url: str) -> AsyncIterator[str]:
    name = f"payments_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_async_engine(admin_database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_database_url).set(database=name).render_as_string(hide_password=False)
    await upgrade_to_head(url)
    yield url
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(
    engine: AsyncEngine, stripe_sandbox: ServerThread, pingxx_sandbox: ServerThread
) -> AsyncEngine:
    """An empty database for this test, once the last test's webhooks have landed."""
    for sandbox in (stripe_sandbox, pingxx_sandbox):
        async with httpx.AsyncClient(base_url=sandbox.url) as client:
            await client.post("/_sandbox/webhooks/drain", json={"timeout": 5}, timeout=10)
    for attempt in range(5):
        try:
            async with engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
            break
        except DBAPIError:
            # A straggling delivery still holds a row lock; TRUNCATE waits for none.
            if attempt == 4:
                raise
    return engine


@pytest.fixture(scope="session")
def api_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def webhook_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


@pytest.fixture(scope="session")
def stripe_sandbox(api_port: int, webhook_secret: str) -> Iterator[ServerThread]:
    config = StripeSandboxConfig(
        secret_key=SANDBOX_SECRET_KEY,
        publishable_key=SANDBOX_PUBLISHABLE_KEY,
        webhook_endpoints=[(f"http://127.0.0.1:{api_port}/v1/webhooks/stripe", webhook_secret)],
        webhook_retry_base_seconds=0.2,
        webhook_max_attempts=8,
    )
    server = ServerThread(create_stripe_sandbox(config))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def merchant_key() -> signing.PrivateKey:
    """Our Ping++ request-signing key; the sandbox holds its public half, as the dashboard."""
    return signing.generate_private_key()


@pytest.fixture(scope="session")
def pingxx_webhook_key() -> signing.PrivateKey:
    """The key the Ping++ sandbox signs webhooks with; tests sign their own events with it."""
    return signing.generate_private_key()


@pytest.fixture(scope="session")
def pingxx_sandbox(
    api_port: int, merchant_key: signing.PrivateKey, pingxx_webhook_key: signing.PrivateKey
) -> Iterator[ServerThread]:
    config = PingxxSandboxConfig(
        secret_key=PINGXX_SECRET_KEY,
        app_ids=[PINGXX_APP_ID],
        merchant_public_key=signing.public_key_pem(merchant_key),
        webhook_private_key=signing.private_key_pem(pingxx_webhook_key),
        webhook_urls=[f"http://127.0.0.1:{api_port}/v1/webhooks/pingxx"],
        webhook_retry_base_seconds=0.2,
        webhook_max_attempts=8,
    )
    server = ServerThread(create_pingxx_sandbox(config))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pingxx_values(pingxx_sandbox: ServerThread, merchant_key: signing.PrivateKey) -> dict[str, Any]:
    """The settings that point the service at the Ping++ sandbox."""
    return {
        "pingxx_secret_key": PINGXX_SECRET_KEY,
        "pingxx_app_id": PINGXX_APP_ID,
        "pingxx_public_key": PingxxSandboxControl(pingxx_sandbox.url).webhook_public_key(),
        "pingxx_private_key": signing.private_key_pem(merchant_key),
        "pingxx_api_base": pingxx_sandbox.url,
    }


def make_settings(
    database_url: str, sandbox_url: str, webhook_secret: str, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "environment": "development",
        "database_url": database_url,
        "api_keys": f"{API_KEY},{OTHER_API_KEY}",
        "stripe_secret_key": SANDBOX_SECRET_KEY,
        "stripe_publishable_key": SANDBOX_PUBLISHABLE_KEY,
        "stripe_webhook_secrets": webhook_secret,
        "stripe_api_base": sandbox_url,
        "stripe_max_network_retries": 0,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings(
    database_url: str,
    stripe_sandbox: ServerThread,
    webhook_secret: str,
    pingxx_values: dict[str, Any],
) -> Settings:
    return make_settings(
        database_url,
        stripe_sandbox.url,
        webhook_secret,
        enabled_channels=["stripe", *PINGXX_CHANNELS],
        **pingxx_values,
    )


@pytest.fixture(scope="session")
def api_server(settings: Settings, api_port: int) -> Iterator[ServerThread]:
    server = ServerThread(create_app(settings), port=api_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def api(api_server: ServerThread, db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The order service's view: the API over HTTP with a valid key, on an empty database."""
    async with httpx.AsyncClient(
        base_url=api_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
async def sandbox_admin(stripe_sandbox: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stripe_sandbox.url,
        headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
async def stripe_js(stripe_sandbox: ServerThread) -> AsyncIterator[StripeJs]:
    browser = StripeJs(stripe_sandbox.url, SANDBOX_PUBLISHABLE_KEY)
    yield browser
    await browser.aclose()


@pytest.fixture
def pingxx(pingxx_sandbox: ServerThread) -> PingxxSandboxControl:
    return PingxxSandboxControl(pingxx_sandbox.url)


@pytest.fixture
async def pingxx_knobs(pingxx_sandbox: ServerThread) -> AsyncIterator[PingxxKnobs]:
    """The Ping++ sandbox's runtime settings, put back to their defaults after the test."""
    async with httpx.AsyncClient(base_url=pingxx_sandbox.url, timeout=10) as client:
        turned = PingxxKnobs(client)
        try:
            yield turned
        finally:
            await turned.reset()


@pytest.fixture
async def knobs(sandbox_admin: httpx.AsyncClient) -> AsyncIterator[Knobs]:
    """The sandbox's runtime settings, put back to their defaults after the test."""
    turned = Knobs(sandbox_admin)
    try:
        yield turned
    finally:
        await turned.reset()


@pytest.fixture(params=["stripe", "pingxx"])
async def psp(
    request: pytest.FixtureRequest,
    sandbox_admin: httpx.AsyncClient,
    stripe_js: StripeJs,
    knobs: Knobs,
    webhook_secret: str,
    pingxx_sandbox: ServerThread,
    pingxx_webhook_key: signing.PrivateKey,
    pingxx_knobs: PingxxKnobs,
    merchant_key: signing.PrivateKey,
    pingxx_values: dict[str, Any],
) -> AsyncIterator[Psp]:
    """Each provider in turn, for the tests of what every provider must guarantee."""
    if request.param == "stripe":
        yield StripePsp(sandbox_admin, stripe_js, knobs, webhook_secret)
        return
    async with httpx.AsyncClient(base_url=pingxx_sandbox.url, timeout=10) as admin:
        yield PingxxPsp(
            admin,
            pingxx_knobs,
            PINGXX_SECRET_KEY,
            PINGXX_APP_ID,
            merchant_key,
            pingxx_webhook_key,
            settings={**pingxx_values, "enabled_channels": ["stripe", *PINGXX_CHANNELS]},
        )
