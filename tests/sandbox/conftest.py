"""Fixtures: the Stripe sandbox over real HTTP, an SDK client for it, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import stripe

from sandbox.runner import ServerThread
from sandbox.stripe import StripeSandboxConfig, create_app
from sandbox.testing import StripeSandboxControl, WebhookReceiver

SECRET_KEY = "sk_test_sandbox_tests"
PUBLISHABLE_KEY = "pk_test_sandbox_tests"


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[ServerThread]:
    config = StripeSandboxConfig(
        secret_key=SECRET_KEY,
        publishable_key=PUBLISHABLE_KEY,
        webhook_retry_base_seconds=0.2,
        webhook_max_attempts=4,
        webhook_timeout_seconds=5.0,
        refund_failure_delay_seconds=0.2,
        seed=1234,
    )
    with ServerThread(create_app(config)) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: ServerThread) -> StripeSandboxControl:
    control = StripeSandboxControl(
        sandbox_server.url, secret_key=SECRET_KEY, publishable_key=PUBLISHABLE_KEY
    )
    control.reset()
    return control


@pytest.fixture
async def client(sandbox: StripeSandboxControl) -> AsyncIterator[stripe.StripeClient]:
    http_client = stripe.HTTPXClient()
    sdk = stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": sandbox.url},
        http_client=http_client,
        max_network_retries=0,
    )
    yield sdk
    await http_client.close_async()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


@pytest.fixture
async def registered_receiver(
    receiver: WebhookReceiver, client: stripe.StripeClient
) -> WebhookReceiver:
    endpoint = await client.v1.webhook_endpoints.create_async(
        {"url": receiver.url, "enabled_events": ["*"]}
    )
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    receiver.secret = endpoint.secret
    return receiver
