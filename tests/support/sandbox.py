"""Turning the Stripe sandbox's runtime knobs in a test, and putting them back after."""

from __future__ import annotations

from typing import Any

import httpx

# What every test starts from; a test that turns a knob gets it back to this.
DEFAULTS: dict[str, Any] = {
    "webhook_drop_rate": 0.0,
    "webhooks_enabled": True,
    "lose_response_next": 0,
    "refunds_pending": False,
    "latency_ms": 0,
    "failure_rate": 0.0,
}


class Knobs:
    def __init__(self, admin: httpx.AsyncClient) -> None:
        self.admin = admin
        self.touched: set[str] = set()

    async def set(self, **settings: Any) -> None:
        if settings.get("webhooks_enabled") is False:
            # Off from now on: what was already on its way lands first.
            await self.admin.post("/_sandbox/webhooks/drain", json={"timeout": 5})
        response = await self.admin.post("/_sandbox/config", json=settings)
        assert response.status_code == 200, response.text
        self.touched |= settings.keys()

    async def reset(self) -> None:
        if self.touched:
            await self.admin.post("/_sandbox/config", json=DEFAULTS)


PINGXX_DEFAULTS: dict[str, Any] = {
    "webhook_drop_rate": 0.0,
    "webhooks_enabled": True,
    "lose_response_next": 0,
    "refunds_pending": False,
    "latency_ms": 0,
    "failure_rate": 0.0,
    "replay_window_seconds": None,
    "min_time_expire_seconds": 60,
    "emit_refund_failed": False,
}


class PingxxKnobs(Knobs):
    async def reset(self) -> None:
        if self.touched:
            await self.admin.post("/_sandbox/config", json=PINGXX_DEFAULTS)


async def stripe_object(admin: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await admin.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stripe_events(
    admin: httpx.AsyncClient, event_type: str, **about: str
) -> list[dict[str, Any]]:
    """The sandbox's events of one type, oldest first, whose object has the fields
    `about` names (`payment_intent="pi_..."`): the sandbox outlives each test."""
    response = await admin.get("/v1/events", params={"limit": 100, "type": event_type})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return [
        event
        for event in reversed(events)
        if all(event["data"]["object"].get(key) == value for key, value in about.items())
    ]


def stripe_event(
    event_type: str, obj: dict[str, Any], *, created: int, event_id: str
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }
