"""What each benchmark scenario sends, and the unmeasured set-up it needs first."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bench.load import Send
from bench.stack import SANDBOX_PUBLISHABLE_KEY, SANDBOX_SECRET_KEY, Stack

Obj = dict[str, Any]
T = TypeVar("T")

SCENARIOS = ("create", "create_replay", "get", "webhook", "webhook_dup", "refund", "e2e")
AMOUNT = 2000
REFUND_AMOUNT = 100
MAX_REFUNDS_PER_PAYMENT = AMOUNT // REFUND_AMOUNT - 1
SETUP_CONCURRENCY = 8
E2E_POLL_SECONDS = 0.005
E2E_WAIT_SECONDS = 15.0


@dataclass
class Created:
    payment: Obj
    key: str
    body: Obj


@dataclass
class Plan:
    """`items[i]` is sent once by `send`; the runner slices warm-up and levels off `items`."""

    items: Sequence[Any]
    send: Send[Any]
    # Entered around the measured runs (after the set-up), e.g. to turn webhooks on.
    during: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext


def describe(response: httpx.Response) -> str:
    code = ""
    if response.headers.get("content-type", "").startswith(("application/json", "application/p")):
        body = response.json()
        code = str(body.get("code", "")) if isinstance(body, dict) else ""
    return f"HTTP {response.status_code} {code}".rstrip()


def stripe_signature(body: bytes, secret: str) -> str:
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def cycle(pool: Sequence[Any], n: int) -> list[Any]:
    return [pool[i % len(pool)] for i in range(n)]


async def bounded(
    job: Callable[[T], Awaitable[None]], items: Iterable[T], concurrency: int
) -> None:
    """`job(item)` for every item, at most `concurrency` at a time."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: T) -> None:
        async with semaphore:
            await job(item)

    await asyncio.gather(*(one(item) for item in items))


@dataclass
class State:
    """The objects scenarios leave behind for the next ones, and the clients for set-up."""

    stack: Stack
    api: httpx.AsyncClient
    sandbox: httpx.AsyncClient  # secret key: events, controls
    browser: httpx.AsyncClient  # publishable key: what Stripe.js does
    created: list[Created] = field(default_factory=list)
    confirmed: set[str] = field(default_factory=set)  # payment ids confirmed at the sandbox
    undelivered: list[Obj] = field(default_factory=list)  # succeeded events not yet sent to us
    applied: list[Obj] = field(default_factory=list)  # events the API applied
    refunded: dict[str, int] = field(default_factory=dict)  # payment id -> refunds made

    @classmethod
    def open(cls, stack: Stack) -> State:
        limits = httpx.Limits(max_connections=SETUP_CONCURRENCY * 2)
        return cls(
            stack=stack,
            api=httpx.AsyncClient(
                base_url=stack.api_url,
                headers={"Authorization": f"Bearer {stack.api_key}"},
                timeout=30,
                limits=limits,
            ),
            sandbox=httpx.AsyncClient(
                base_url=stack.sandbox_url,
                headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"},
                timeout=30,
                limits=limits,
            ),
            browser=httpx.AsyncClient(
                base_url=stack.sandbox_url,
                headers={"Authorization": f"Bearer {SANDBOX_PUBLISHABLE_KEY}"},
                timeout=30,
                limits=limits,
            ),
        )

    async def aclose(self) -> None:
        for client in (self.api, self.sandbox, self.browser):
            await client.aclose()

    # --- set-up, unmeasured ----------------------------------------------------------------

    async def sandbox_config(self, **changes: Any) -> None:
        response = await self.sandbox.post("/_sandbox/config", json=changes)
        response.raise_for_status()

    async def create_payments(self, n: int) -> None:
        async def one(_index: int) -> None:
            _, key, body = new_create_request()
            response = await self.api.post(
                "/v1/payments", json=body, headers={"Idempotency-Key": key}
            )
            if response.status_code != 201:
                raise RuntimeError(f"set-up create failed: {describe(response)}")
            self.created.append(Created(response.json(), key, body))

        await bounded(one, range(n), SETUP_CONCURRENCY)

    async def confirm(self, payment: Obj) -> httpx.Response:
        client_secret = payment["payment_payload"]["client_secret"]
        intent = client_secret.split("_secret_")[0]
        return await self.browser.post(
            f"/v1/payment_intents/{intent}/confirm",
            data={
                "client_secret": client_secret,
                "payment_method": "pm_card_visa",
                "return_url": "https://shop.example/return",
            },
        )

    async def ensure_undelivered(self, n: int) -> None:
        """At least `n` payment_intent.succeeded events the API has not seen (webhooks off)."""
        missing = n - len(self.undelivered)
        if missing <= 0:
            return
        fresh = [c.payment for c in self.created if c.payment["id"] not in self.confirmed]
        if len(fresh) < missing:
            await self.create_payments(missing - len(fresh))
            fresh = [c.payment for c in self.created if c.payment["id"] not in self.confirmed]
        chosen = fresh[:missing]

        async def one(payment: Obj) -> None:
            response = await self.confirm(payment)
            if response.status_code != 200:
                raise RuntimeError(f"set-up confirm failed: {describe(response)}")
            self.confirmed.add(payment["id"])

        await bounded(one, chosen, SETUP_CONCURRENCY)
        wanted = {p["provider_reference"] for p in chosen}
        found = [e for e in await self.succeeded_events() if e["data"]["object"]["id"] in wanted]
        if len(found) != len(wanted):
            raise RuntimeError(f"found {len(found)} succeeded events for {len(wanted)} payments")
        self.undelivered.extend(found)

    async def succeeded_events(self) -> list[Obj]:
        events: list[Obj] = []
        params: dict[str, str | int] = {"type": "payment_intent.succeeded", "limit": 100}
        for _ in range(10_000):
            page = await self.sandbox.get("/v1/events", params=params)
            page.raise_for_status()
            body = page.json()
            events.extend(body["data"])
            if not body["has_more"]:
                break
            params["starting_after"] = body["data"][-1]["id"]
        return events

    async def ensure_applied(self, n: int) -> None:
        missing = n - len(self.applied)
        if missing <= 0:
            return
        await self.ensure_undelivered(missing)
        events, self.undelivered = self.undelivered[:missing], self.undelivered[missing:]
        send = self.deliver_webhook("applied")

        async def one(event: Obj) -> None:
            problem = await send(self.api, event)
            if problem is not None:
                raise RuntimeError(f"set-up webhook failed: {problem}")

        await bounded(one, events, SETUP_CONCURRENCY)

    # --- scenarios -------------------------------------------------------------------------

    async def plan(self, scenario: str, total: int) -> Plan:
        plans: dict[str, Callable[[int], Awaitable[Plan]]] = {
            "create": self.plan_create,
            "create_replay": self.plan_create_replay,
            "get": self.plan_get,
            "webhook": self.plan_webhook,
            "webhook_dup": self.plan_webhook_dup,
            "refund": self.plan_refund,
            "e2e": self.plan_e2e,
        }
        return await plans[scenario](total)

    async def plan_create(self, total: int) -> Plan:
        async def send(client: httpx.AsyncClient, item: tuple[str, str, Obj]) -> str | None:
            _, key, body = item
            response = await client.post(
                "/v1/payments", json=body, headers={"Idempotency-Key": key}
            )
            if response.status_code != 201:
                return describe(response)
            self.created.append(Created(response.json(), key, body))
            return None

        return Plan([new_create_request() for _ in range(total)], send)

    async def plan_create_replay(self, total: int) -> Plan:
        if len(self.created) < min(total, 200):
            await self.create_payments(min(total, 200) - len(self.created))

        async def send(client: httpx.AsyncClient, item: Created) -> str | None:
            response = await client.post(
                "/v1/payments", json=item.body, headers={"Idempotency-Key": item.key}
            )
            if response.status_code != 201:
                return describe(response)
            if response.headers.get("idempotent-replayed") != "true":
                return "not replayed"
            return None

        return Plan(cycle(self.created, total), send)

    async def plan_get(self, total: int) -> Plan:
        if len(self.created) < min(total, 200):
            await self.create_payments(min(total, 200) - len(self.created))

        async def send(client: httpx.AsyncClient, item: Created) -> str | None:
            response = await client.get(f"/v1/payments/{item.payment['id']}")
            return None if response.status_code == 200 else describe(response)

        return Plan(cycle(self.created, total), send)

    def deliver_webhook(self, expected: str) -> Send[Obj]:
        secret = self.stack.webhook_secret

        async def send(client: httpx.AsyncClient, event: Obj) -> str | None:
            body = json.dumps(event, indent=2).encode()  # as Stripe sends it
            response = await client.post(
                "/v1/webhooks/stripe",
                content=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": stripe_signature(body, secret),
                },
            )
            if response.status_code != 200:
                return describe(response)
            outcome = response.json().get("outcome")
            if outcome != expected:
                return f"outcome {outcome}"
            if expected == "applied":
                self.applied.append(event)
            return None

        return send

    async def plan_webhook(self, total: int) -> Plan:
        await self.ensure_undelivered(total)
        events, self.undelivered = self.undelivered[:total], self.undelivered[total:]
        return Plan(events, self.deliver_webhook("applied"))

    async def plan_webhook_dup(self, total: int) -> Plan:
        await self.ensure_applied(min(total, 100))
        return Plan(cycle(self.applied, total), self.deliver_webhook("duplicate"))

    async def plan_refund(self, total: int) -> Plan:
        pool_size = max(min(total, 100), -(-total // MAX_REFUNDS_PER_PAYMENT))
        await self.ensure_applied(pool_size)
        by_intent = {c.payment["provider_reference"]: c.payment["id"] for c in self.created}
        paid = [by_intent[e["data"]["object"]["id"]] for e in self.applied]
        paid = [p for p in paid if self.refunded.get(p, 0) < MAX_REFUNDS_PER_PAYMENT]
        if len(paid) * MAX_REFUNDS_PER_PAYMENT < total:
            raise RuntimeError("not enough refundable payments")

        async def send(client: httpx.AsyncClient, payment_id: str) -> str | None:
            response = await client.post(
                f"/v1/payments/{payment_id}/refunds",
                json={"amount": REFUND_AMOUNT},
                headers={"Idempotency-Key": f"bench-refund-{secrets.token_hex(8)}"},
            )
            if response.status_code != 201:
                return describe(response)
            self.refunded[payment_id] = self.refunded.get(payment_id, 0) + 1
            return None

        return Plan(cycle(paid, total), send)

    async def plan_e2e(self, total: int) -> Plan:
        """Confirm at the sandbox, then poll the API until the sandbox's webhook landed."""
        start = len(self.created)
        await self.create_payments(total)
        payments = [c.payment for c in self.created[start:]]

        async def send(client: httpx.AsyncClient, payment: Obj) -> str | None:
            confirmed = await self.confirm(payment)
            self.confirmed.add(payment["id"])
            if confirmed.status_code != 200:
                return f"confirm {describe(confirmed)}"
            deadline = time.perf_counter() + E2E_WAIT_SECONDS
            while time.perf_counter() < deadline:
                response = await client.get(f"/v1/payments/{payment['id']}")
                if response.status_code != 200:
                    return describe(response)
                if response.json()["status"] == "succeeded":
                    return None
                await asyncio.sleep(E2E_POLL_SECONDS)
            return f"not succeeded within {E2E_WAIT_SECONDS:g} s"

        @contextlib.asynccontextmanager
        async def webhooks_on() -> AsyncIterator[None]:
            await self.sandbox_config(webhook_drop_rate=0.0)
            try:
                yield
            finally:
                await self.sandbox_config(webhook_drop_rate=1.0)

        return Plan(payments, send, webhooks_on)


def new_create_request() -> tuple[str, str, Obj]:
    order_id = f"bench-{secrets.token_hex(8)}"
    body: Obj = {
        "order_id": order_id,
        "amount": AMOUNT,
        "currency": "USD",
        "description": "benchmark order",
        "customer_email": "bench@example.com",
        "metadata": {"source": "bench"},
    }
    return order_id, f"bench-create-{secrets.token_hex(8)}", body
