"""Helpers for tests that run against the sandboxes: their controls and webhook receivers."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .pingxx.signing import verify_webhook
from .runner import ServerThread


@dataclass
class StripeSandboxControl:
    """Synchronous access to a running sandbox's `/_sandbox` endpoints."""

    url: str
    secret_key: str = "sk_test_sandbox"
    publishable_key: str = "pk_test_sandbox"

    def request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", json=json, timeout=30)

    def reset(self) -> None:
        self.request("POST", "/_sandbox/reset").raise_for_status()

    def configure(self, **settings: Any) -> dict[str, Any]:
        response = self.request("POST", "/_sandbox/config", settings)
        response.raise_for_status()
        return dict(response.json())

    def stats(self) -> dict[str, Any]:
        return dict(self.request("GET", "/_sandbox/stats").json())

    def drain(self, timeout: float = 10.0) -> bool:
        result = self.request("POST", "/_sandbox/webhooks/drain", {"timeout": timeout}).json()
        return bool(result["drained"])

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.request("GET", "/_sandbox/webhook_deliveries").json()[
            "data"
        ]
        return [r for r in rows if all(r[k] == v for k, v in filters.items())]

    def resend(self, event_id: str) -> int:
        response = self.request("POST", f"/_sandbox/events/{event_id}/resend")
        response.raise_for_status()
        return int(response.json()["endpoints"])

    def three_d_secure(self, payment_intent_id: str, outcome: str) -> dict[str, Any]:
        response = self.request("POST", f"/_sandbox/3ds/{payment_intent_id}", {"outcome": outcome})
        response.raise_for_status()
        return dict(response.json())

    def open_dispute(
        self, payment_intent_id: str, reason: str = "fraudulent", **fields: Any
    ) -> dict[str, Any]:
        """The bank disputes the latest charge; `amount=`, `status=` as the control takes them."""
        body = {"reason": reason, **fields}
        response = self.request(
            "POST", f"/_sandbox/payment_intents/{payment_intent_id}/dispute", body
        )
        response.raise_for_status()
        return dict(response.json())

    def close_dispute(self, dispute_id: str, status: str) -> dict[str, Any]:
        response = self.request(
            "POST", f"/_sandbox/disputes/{dispute_id}/close", {"status": status}
        )
        response.raise_for_status()
        return dict(response.json())

    def client(self, max_network_retries: int = 0) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.secret_key,
            base_addresses={"api": self.url},
            http_client=stripe.HTTPXClient(),
            max_network_retries=max_network_retries,
        )


@dataclass
class WebhookReceiver:
    """A small HTTP service that checks `Stripe-Signature` with the SDK, as a real one would.

    `fail_next` answers that many deliveries with 500 before accepting again.
    """

    secret: str = ""
    path: str = "/webhooks/stripe"
    fail_next: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    server: ServerThread | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("receiver is not running")
        return f"{self.server.url}{self.path}"

    def types(self) -> list[str]:
        return [e["type"] for e in self.received]

    def start(self) -> WebhookReceiver:
        app = Starlette(routes=[Route(self.path, self._handle, methods=["POST"])])
        self.server = ServerThread(app).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def wait_for(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` verified events arrived (any order)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.received) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"received {len(self.received)} of {count} webhooks")
            await asyncio.sleep(0.02)
        return self.received

    async def _handle(self, request: Request) -> Response:
        payload = await request.body()
        signature = request.headers.get("stripe-signature", "")
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": "temporarily unavailable"}, status_code=500)
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.secret)
        except (ValueError, stripe.SignatureVerificationError) as exc:
            self.rejected.append(str(exc))
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.received.append(event.to_dict())
        self.headers.append(dict(request.headers))
        return JSONResponse({"received": True})


# --- Ping++ ----------------------------------------------------------------------------------


@dataclass
class PingxxSandboxControl:
    """Synchronous access to a running Ping++ sandbox's `/_sandbox` endpoints."""

    url: str

    def request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", json=json, timeout=30)

    def _ok(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        response = self.request(method, path, json)
        response.raise_for_status()
        return dict(response.json())

    def reset(self) -> None:
        self._ok("POST", "/_sandbox/reset")

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self._ok("POST", "/_sandbox/config", settings)

    def stats(self) -> dict[str, Any]:
        return self._ok("GET", "/_sandbox/stats")

    def webhook_public_key(self) -> str:
        response = self.request("GET", "/_sandbox/webhook_public_key")
        response.raise_for_status()
        return response.text

    def add_webhook_endpoint(self, url: str, events: list[str] | None = None) -> dict[str, Any]:
        return self._ok("POST", "/_sandbox/webhook_endpoints", {"url": url, "events": events})

    def pay(self, charge_id: str) -> dict[str, Any]:
        return self._ok("POST", f"/_sandbox/charges/{charge_id}/pay", {})

    def fail(self, charge_id: str, **body: Any) -> dict[str, Any]:
        return self._ok("POST", f"/_sandbox/charges/{charge_id}/fail", body)

    def expire_now(self, charge_id: str) -> dict[str, Any]:
        return self._ok("POST", f"/_sandbox/charges/{charge_id}/expire_now", {})

    def _shown(self, charge_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.url}/_sandbox/charges/{charge_id}",
            headers={"Accept": "application/json"},
            timeout=30,
        )
        response.raise_for_status()
        return dict(response.json())

    def charge(self, charge_id: str) -> dict[str, Any]:
        """The charge as Ping++ holds it, without the secret key."""
        return dict(self._shown(charge_id)["charge"])

    def charge_state(self, charge_id: str) -> str:
        return str(self._shown(charge_id)["state"])

    def succeed_refund(self, refund_id: str) -> dict[str, Any]:
        return self._ok("POST", f"/_sandbox/refunds/{refund_id}/succeed", {})

    def fail_refund(self, refund_id: str, **body: Any) -> dict[str, Any]:
        return self._ok("POST", f"/_sandbox/refunds/{refund_id}/fail", body)

    def drain(self, timeout: float = 10.0) -> bool:
        return bool(self._ok("POST", "/_sandbox/webhooks/drain", {"timeout": timeout})["drained"])

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._ok("GET", "/_sandbox/webhook_deliveries")["data"]
        return [r for r in rows if all(r[k] == v for k, v in filters.items())]

    def resend(self, event_id: str) -> int:
        return int(self._ok("POST", f"/_sandbox/events/{event_id}/resend", {})["endpoints"])


@dataclass
class PingxxWebhookReceiver:
    """A small HTTP service that checks `X-Pingplusplus-Signature` against the sandbox's public
    key before accepting a delivery, as a real receiver must.

    `fail_next` answers that many deliveries with 500 before accepting again; `raw` keeps
    each accepted body and signature as received, for checks with other verifiers.
    """

    public_key: str = ""
    path: str = "/webhooks/pingxx"
    fail_next: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    raw: list[tuple[bytes, str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    server: ServerThread | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("receiver is not running")
        return f"{self.server.url}{self.path}"

    def types(self) -> list[str]:
        return [e["type"] for e in self.received]

    def start(self) -> PingxxWebhookReceiver:
        app = Starlette(routes=[Route(self.path, self._handle, methods=["POST"])])
        self.server = ServerThread(app).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> PingxxWebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Block until `count` verified events arrived (any order); for synchronous tests."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"received {len(self.received)} of {count} webhooks")
            time.sleep(0.02)
        return self.received

    async def _handle(self, request: Request) -> Response:
        payload = await request.body()
        signature = request.headers.get("x-pingplusplus-signature", "")
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": "temporarily unavailable"}, status_code=500)
        if not signature or not verify_webhook(payload, signature, self.public_key):
            self.rejected.append(signature)
            return JSONResponse({"error": "bad signature"}, status_code=400)
        self.received.append(json.loads(payload))
        self.raw.append((payload, signature))
        self.headers.append(dict(request.headers))
        return JSONResponse({"received": True})
