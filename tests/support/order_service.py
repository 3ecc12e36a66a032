"""A stand-in for the order service's notification endpoint, served over real HTTP.

It verifies every request with the `standardwebhooks` package as a real receiver would
(a bad signature is a 400), dedupes on `webhook-id`, and records what arrived in which
order. It can be told to answer 503 for the next N requests or for a while, and to be slow.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.runner import ServerThread


def new_notification_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True, slots=True)
class Received:
    """A notification accepted the first time its `webhook-id` was seen."""

    id: str
    type: str
    payment_id: str
    arrival: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Answered:
    """Any request, answered or not: its `webhook-id` and the status it got."""

    id: str
    status: int


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    duplicates: list[str] = field(default_factory=list)
    requests: list[Answered] = field(default_factory=list)
    in_flight: int = 0
    fail_next: int = 0
    fail_until: float = 0.0
    fail_status: int = 503
    delay: float = 0.0
    refused: set[str] = field(default_factory=set)


class OrderService:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._webhook = Webhook(secret)
        self._lock = threading.Lock()
        self._state = _State()
        app = Starlette(routes=[Route("/payments-events", self._receive, methods=["POST"])])
        self.server = ServerThread(app)

    @property
    def url(self) -> str:
        return f"{self.server.url}/payments-events"

    def start(self) -> OrderService:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> OrderService:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Controls.

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._state.fail_next, self._state.fail_status = count, status

    def fail_for(self, seconds: float, status: int = 503) -> None:
        with self._lock:
            self._state.fail_until = time.monotonic() + seconds
            self._state.fail_status = status

    def refuse(self, event_id: str, status: int = 503) -> None:
        """Answer `status` to every delivery of this one event, for good."""
        with self._lock:
            self._state.refused.add(event_id)
            self._state.fail_status = status

    def recover(self) -> None:
        with self._lock:
            self._state.fail_next, self._state.fail_until = 0, 0.0

    def slow(self, seconds: float) -> None:
        with self._lock:
            self._state.delay = seconds

    # What happened.

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._state.received)

    @property
    def duplicates(self) -> list[str]:
        with self._lock:
            return list(self._state.duplicates)

    @property
    def requests(self) -> list[Answered]:
        with self._lock:
            return list(self._state.requests)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._state.in_flight

    def ids(self) -> list[str]:
        return [r.id for r in self.received]

    def by_payment(self) -> dict[str, list[str]]:
        streams: dict[str, list[str]] = {}
        for r in self.received:
            streams.setdefault(r.payment_id, []).append(r.id)
        return streams

    async def wait_for(self, ids: set[str], *, seconds: float) -> bool:
        """Until every id in `ids` has arrived, for a bounded time."""
        deadline = time.monotonic() + seconds
        while not ids <= set(self.ids()):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # The endpoint.

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        msg_id = request.headers.get("webhook-id", "")
        with self._lock:
            self._state.in_flight += 1
            delay = self._state.delay
        try:
            if delay:
                await asyncio.sleep(delay)
            return self._answer(msg_id, body, dict(request.headers))
        finally:
            with self._lock:
                self._state.in_flight -= 1

    def _answer(self, msg_id: str, body: bytes, headers: dict[str, str]) -> Response:
        with self._lock:
            state = self._state
            failing = (
                state.fail_next > 0
                or time.monotonic() < state.fail_until
                or msg_id in state.refused
            )
            if state.fail_next > 0:
                state.fail_next -= 1
            if failing:
                state.requests.append(Answered(msg_id, state.fail_status))
                return JSONResponse({"error": "unavailable"}, status_code=state.fail_status)
        try:
            payload: dict[str, Any] = self._webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            return self._refuse(msg_id, f"bad signature: {exc}")
        if payload.get("id") != msg_id:
            return self._refuse(msg_id, "the body's id is not the webhook-id")
        with self._lock:
            state.requests.append(Answered(msg_id, 200))
            if msg_id in state.seen:
                state.duplicates.append(msg_id)
            else:
                state.seen.add(msg_id)
                state.received.append(
                    Received(
                        id=msg_id,
                        type=payload["type"],
                        payment_id=payload["data"].get("payment_id") or payload["data"]["id"],
                        arrival=len(state.received),
                        body=body,
                        headers=headers,
                    )
                )
        return JSONResponse({"received": True})

    def _refuse(self, msg_id: str, why: str) -> Response:
        with self._lock:
            self._state.requests.append(Answered(msg_id, 400))
        return JSONResponse({"error": why}, status_code=400)
