"""Fixtures: the Ping++ sandbox over real HTTP with request signing switched on, the official
`pingpp` SDK pointed at it with a merchant key, and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pingpp
import pytest

from sandbox.pingxx import PingxxSandboxConfig, create_app, signing
from sandbox.runner import ServerThread
from sandbox.testing import PingxxSandboxControl, PingxxWebhookReceiver
from tests.sandbox.pingxx.helpers import APP_ID, OTHER_APP_ID, SECRET_KEY

SDK_SETTINGS = (
    "api_base",
    "api_key",
    "private_key",
    "private_key_path",
    "max_network_retries",
    "accept_language",
)


@pytest.fixture(scope="session")
def merchant_key() -> signing.PrivateKey:
    return signing.generate_private_key()


@pytest.fixture(scope="session")
def pingxx_server(merchant_key: signing.PrivateKey) -> Iterator[ServerThread]:
    config = PingxxSandboxConfig(
        secret_key=SECRET_KEY,
        app_ids=[APP_ID, OTHER_APP_ID],
        merchant_public_key=signing.public_key_pem(merchant_key),
        webhook_retry_base_seconds=0.2,
        webhook_max_attempts=4,
        webhook_timeout_seconds=5.0,
        seed=2024,
    )
    with ServerThread(create_app(config)) as server:
        yield server


@pytest.fixture
def pingxx(pingxx_server: ServerThread) -> PingxxSandboxControl:
    control = PingxxSandboxControl(pingxx_server.url)
    control.reset()
    return control


@pytest.fixture
def sdk(pingxx: PingxxSandboxControl, merchant_key: signing.PrivateKey) -> Iterator[ModuleType]:
    """The SDK's module-level configuration, set for one test and put back afterwards."""
    saved = {name: getattr(pingpp, name) for name in SDK_SETTINGS}
    pingpp.api_base = pingxx.url
    pingpp.api_key = SECRET_KEY
    pingpp.private_key = signing.private_key_pem(merchant_key)
    pingpp.private_key_path = None
    # Its default retries a 502 once by itself; the tests that want that say so.
    pingpp.max_network_retries = 0
    try:
        yield pingpp
    finally:
        for name, value in saved.items():
            setattr(pingpp, name, value)


@pytest.fixture
def receiver(pingxx: PingxxSandboxControl) -> Iterator[PingxxWebhookReceiver]:
    with PingxxWebhookReceiver(public_key=pingxx.webhook_public_key()) as hook:
        pingxx.add_webhook_endpoint(hook.url)
        yield hook
