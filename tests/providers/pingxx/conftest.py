"""The Ping++ adapter against its own Ping++ sandbox, with request signatures switched on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from app.providers.base import CreatePayment
from app.providers.pingxx import PingxxProvider
from sandbox.pingxx import PingxxSandboxConfig, create_app, signing
from sandbox.runner import ServerThread
from sandbox.testing import PingxxSandboxControl

SECRET_KEY = "sk_test_" + "A" * 24
APP_ID = "app_AdapterTests0001"
PAYMENT_ID = "pay_01m8sva1cet3z4x9k2d7w5q8rb"


@pytest.fixture(scope="session")
def adapter_merchant_key() -> signing.PrivateKey:
    return signing.generate_private_key()


@pytest.fixture(scope="session")
def adapter_sandbox(adapter_merchant_key: signing.PrivateKey) -> Iterator[ServerThread]:
    config = PingxxSandboxConfig(
        secret_key=SECRET_KEY,
        app_ids=[APP_ID],
        merchant_public_key=signing.public_key_pem(adapter_merchant_key),
        verify_get_signatures=True,
        seed=99,
    )
    with ServerThread(create_app(config)) as server:
        yield server


@pytest.fixture
def control(adapter_sandbox: ServerThread) -> PingxxSandboxControl:
    sandbox = PingxxSandboxControl(adapter_sandbox.url)
    sandbox.reset()
    return sandbox


def make_provider(
    url: str, key: signing.PrivateKey | None, control: PingxxSandboxControl, **overrides: Any
) -> PingxxProvider:
    values: dict[str, Any] = {
        "secret_key": SECRET_KEY,
        "app_id": APP_ID,
        "public_key": control.webhook_public_key(),
        "private_key": signing.private_key_pem(key) if key is not None else None,
        "api_base": url,
        "timeout_seconds": 5,
        **overrides,
    }
    return PingxxProvider(**values)


@pytest.fixture
async def provider(
    control: PingxxSandboxControl, adapter_merchant_key: signing.PrivateKey
) -> AsyncIterator[PingxxProvider]:
    adapter = make_provider(control.url, adapter_merchant_key, control)
    yield adapter
    await adapter.aclose()


def create_request(method: str = "alipay_qr", **overrides: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "payment_id": PAYMENT_ID,
        "order_id": "order-9",
        "amount": 1999,
        "currency": "CNY",
        "method": method,
        "description": "Order 9: two teas",
        "client_ip": "203.0.113.7",
        "metadata": {"cart": "c_1"},
    }
    values.update(overrides)
    return CreatePayment(**values)
