from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx


async def wait_for(
    api: httpx.AsyncClient,
    payment_id: str,
    until: Callable[[dict[str, Any]], bool],
    *,
    seconds: float = 15,
) -> dict[str, Any]:
    """Webhooks arrive asynchronously: poll, for a bounded time, until `until(payment)`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        response = await api.get(f"/v1/payments/{payment_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if until(body) or loop.time() > deadline:
            return body
        await asyncio.sleep(0.05)


async def wait_for_status(
    api: httpx.AsyncClient, payment_id: str, status: str, *, seconds: float = 15
) -> dict[str, Any]:
    return await wait_for(api, payment_id, lambda p: p["status"] == status, seconds=seconds)


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's scheme: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signed_stripe_post(
    event: dict[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "Stripe-Signature": stripe_signature(body, secret, timestamp),
        "Content-Type": "application/json",
    }


def order_id(name: str) -> str:
    return f"{name}-{time.monotonic_ns()}"
