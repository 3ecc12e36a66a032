"""Signed webhook delivery with Stripe's signature scheme, retries and a delivery log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from .state import Delivery, StripeSandbox

Obj = dict[str, Any]

log = logging.getLogger("sandbox.stripe.webhooks")

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header: `t=<unix>,v1=<hex hmac_sha256(secret, "t.payload")>`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def encode(event: Obj) -> str:
    # Stripe posts events pretty-printed with two-space indentation.
    return json.dumps(event, indent=2)


class WebhookDispatcher:
    """Posts each event to every endpoint that wants it, in background tasks on the app's loop."""

    def __init__(self, sb: StripeSandbox) -> None:
        self.sb = sb
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(headers={"User-Agent": USER_AGENT})
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def on_event(self, event: Obj) -> None:
        if not self.sb.settings.webhooks_enabled:
            # Recorded in the event log only; `resend` can still deliver it later.
            return
        endpoints = self.sb.matching_endpoints(event["type"])
        if not endpoints:
            return
        if self.sb.fault_rng.random() < self.sb.settings.webhook_drop_rate:
            for endpoint in endpoints:
                self._record(event, endpoint, 0, None, "dropped", None, 0.0)
            return
        for endpoint in endpoints:
            self.sb.spawn(self.deliver(event, endpoint))

    def resend(self, event: Obj, endpoint_id: str | None = None) -> int:
        endpoints = [
            e
            for e in self.sb.matching_endpoints(event["type"])
            if endpoint_id is None or e["id"] == endpoint_id
        ]
        for endpoint in endpoints:
            self.sb.spawn(self.deliver(event, endpoint, resent=True))
        return len(endpoints)

    async def deliver(self, event: Obj, endpoint: Obj, *, resent: bool = False) -> None:
        settings = self.sb.settings
        attempt = 0
        while True:
            attempt += 1
            if await self._attempt(event, endpoint, attempt):
                event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
                return
            if attempt >= max(1, settings.webhook_max_attempts):
                return
            delay = min(
                settings.webhook_retry_base_seconds * 2 ** (attempt - 1),
                settings.webhook_retry_max_delay_seconds,
            )
            await asyncio.sleep(delay)
            if not self.sb.settings.webhooks_enabled and not resent:
                # Turning webhooks off also stops the retries already scheduled.
                return

    async def _attempt(self, event: Obj, endpoint: Obj, attempt: int) -> bool:
        payload = encode(event)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Stripe-Signature": sign(payload, endpoint["secret"]),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._http().post(
                endpoint["url"],
                content=payload.encode(),
                headers=headers,
                timeout=self.sb.settings.webhook_timeout_seconds,
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        elapsed = (time.monotonic() - started) * 1000
        self._record(
            event, endpoint, attempt, status, "succeeded" if ok else "failed", error, elapsed
        )
        if not ok:
            log.info(
                "webhook %s to %s attempt %d failed: %s",
                event["id"],
                endpoint["url"],
                attempt,
                error or status,
            )
        return ok

    def _record(
        self,
        event: Obj,
        endpoint: Obj,
        attempt: int,
        status: int | None,
        outcome: str,
        error: str | None,
        duration_ms: float,
    ) -> None:
        self.sb.deliveries.append(
            Delivery(
                id=f"whdel_{len(self.sb.deliveries) + 1:06d}",
                event_id=event["id"],
                event_type=event["type"],
                endpoint_id=endpoint["id"],
                url=endpoint["url"],
                attempt=attempt,
                status_code=status,
                outcome=outcome,
                error=error,
                at=time.time(),
                duration_ms=round(duration_ms, 2),
            )
        )
