"""Delivering the outbox to the order service: claim due events under a lease, POST each
one signed per Standard Webhooks, record every attempt, retry with backoff, dead-letter.

The database is never held across HTTP: a short transaction claims a batch, delivery runs
outside any transaction, and another short transaction records each result, guarded by the
lease so a relay whose lease lapsed cannot overwrite the result of the one that took over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from app.core.db import transaction, utcnow
from app.core.settings import Settings
from app.models import Event
from app.repositories.events import EventRepository

logger = logging.getLogger(__name__)

USER_AGENT = "payments-service-notifications/1"
JITTER = 0.2
MAX_CONCURRENT_DELIVERIES = 32
MAX_ERROR_CHARS = 500
MAX_RESPONSE_SNIPPET_CHARS = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        """A 2xx; anything else carries an error."""
        return self.error is None


def retry_delay(failures: int, schedule: list[float]) -> float | None:
    """Seconds before the next try after `failures` failed tries, ±20%; None: dead-letter."""
    if failures > len(schedule):
        return None
    return schedule[failures - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def event_body(event: Event) -> str:
    created_at = event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"id": event.id, "type": event.type, "created_at": created_at, "data": event.data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


class EventRelay:
    """One batch per `run_once`; `app.workers.relay` loops it."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        http_client: httpx.AsyncClient,
        clock: Callable[[], datetime] = utcnow,
        *,
        concurrency: int | None = None,
    ) -> None:
        if settings.notification_url is None or settings.notification_secret is None:
            raise ValueError(
                "PAYMENTS_NOTIFICATION_URL and PAYMENTS_NOTIFICATION_SECRET are needed"
            )
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.http = http_client
        self.clock = clock
        self.url = settings.notification_url
        self.webhook = Webhook(settings.notification_secret.get_secret_value())
        self.timeout = settings.notification_timeout_seconds
        self.lease = settings.relay_lease_seconds
        self.concurrency = concurrency or min(settings.relay_batch_size, MAX_CONCURRENT_DELIVERIES)
        # A request must end inside the lease, or a second relay may send the event too.
        self.start_deadline = max(self.lease - self.timeout, self.lease / 2)
        if self.lease <= self.timeout:
            logger.warning(
                "PAYMENTS_RELAY_LEASE_SECONDS (%s) should exceed "
                "PAYMENTS_NOTIFICATION_TIMEOUT_SECONDS (%s): a slow delivery may be sent twice",
                self.lease,
                self.timeout,
            )

    async def run_once(self) -> int:
        """Claims one batch and delivers it; returns how many deliveries were attempted."""
        async with transaction(self.sessionmaker) as session:
            claimed = await EventRepository(session).claim_due(
                limit=self.settings.relay_batch_size,
                lease_seconds=self.lease,
                order_hold_seconds=self.settings.notification_order_hold_seconds,
            )
        if not claimed:
            return 0
        claimed_at = time.monotonic()
        bound = asyncio.Semaphore(self.concurrency)
        results = await asyncio.gather(
            *(self._deliver(event, claimed_at, bound) for event in claimed),
            return_exceptions=True,
        )
        attempted = 0
        for event, result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                # The lease lapses and the event is tried again: at least once.
                logger.error("recording the delivery of %s failed", event.id, exc_info=result)
                attempted += 1
            else:
                attempted += result
        return attempted

    async def _deliver(self, event: Event, claimed_at: float, bound: asyncio.Semaphore) -> int:
        async with bound:
            lease = event.locked_until
            assert lease is not None
            if time.monotonic() - claimed_at > self.start_deadline:
                async with transaction(self.sessionmaker) as session:
                    await EventRepository(session).release(event.id, lease)
                return 0
            outcome = await self._post(event)
            await self._record(event, lease, outcome)
            return 1

    async def _post(self, event: Event) -> Outcome:
        body = event_body(event)
        attempted_at = self.clock()
        headers = {
            "webhook-id": event.id,
            "webhook-timestamp": str(int(attempted_at.timestamp())),
            "webhook-signature": self.webhook.sign(event.id, attempted_at.astimezone(UTC), body),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.http.post(
                    self.url, content=body.encode(), headers=headers, timeout=self.timeout
                )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = self._short_error(f"HTTP {status_code}: {response.text}")
        except TimeoutError:
            error = f"timed out after {self.timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = self._short_error(f"{type(exc).__name__}: {exc}".removesuffix(": "))
        latency_ms = round((time.monotonic() - started) * 1000)
        return Outcome(attempted_at, status_code, latency_ms, error)

    def _short_error(self, text: str) -> str:
        # The URL may carry credentials; the response is the order service's, cut short.
        text = " ".join(text.replace(self.url, "<notification_url>").split())
        if text.startswith("HTTP ") and len(text) > MAX_RESPONSE_SNIPPET_CHARS:
            text = text[:MAX_RESPONSE_SNIPPET_CHARS] + "..."
        return text[:MAX_ERROR_CHARS]

    async def _record(self, event: Event, lease: datetime, outcome: Outcome) -> None:
        attempt = event.attempts + 1
        schedule = self.settings.notification_retry_schedule
        retry_in = None if outcome.delivered else retry_delay(attempt, schedule)
        async with transaction(self.sessionmaker) as session:
            outbox = EventRepository(session)
            await outbox.add_attempt(
                event.id,
                attempted_at=outcome.attempted_at,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
            )
            if outcome.delivered:
                held = await outbox.mark_delivered(event.id, lease)
            else:
                held = await outbox.mark_failed(
                    event.id, lease, error=outcome.error or "", retry_in=retry_in
                )
        if not held:
            level, then = logging.WARNING, "; its lease had lapsed and another relay owns it"
        elif outcome.delivered:
            level, then = logging.INFO, ""
        elif retry_in is None:
            level, then = logging.ERROR, "; dead-lettered"
        else:
            level, then = logging.WARNING, f"; retry in {retry_in:.3g} s"
        logger.log(
            level,
            "notification %s (%s) attempt %d: %s in %d ms%s",
            event.id,
            event.type,
            attempt,
            outcome.error or outcome.status_code,
            outcome.latency_ms,
            then,
            extra={
                "event_id": event.id,
                "event_type": event.type,
                "attempt": attempt,
                "status_code": outcome.status_code,
                "latency_ms": outcome.latency_ms,
            },
        )


async def redeliver(sessionmaker: async_sessionmaker[AsyncSession], event_id: str) -> Event | None:
    """Queues an event again, due now with a fresh schedule; its past attempts stay listed."""
    async with transaction(sessionmaker) as session:
        outbox = EventRepository(session)
        event = await outbox.reset_for_redelivery(event_id)
        if event is not None:
            await outbox.notify()
    if event is not None:
        logger.info("notification %s (%s) queued for redelivery", event.id, event.type)
    return event
