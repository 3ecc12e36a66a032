"""Retention: the inbox, the events sent and their attempts are kept for a while (to
answer "what did the provider say, what did we tell the order service"), then pruned."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import transaction, utcnow
from app.repositories.events import EventRepository
from app.repositories.webhook_events import WebhookEventRepository

_DeleteBatch = Callable[[AsyncSession], Awaitable[int]]

# Rows deleted per transaction: a purge never holds many row locks for long.
PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Purged:
    webhooks: int
    events: int


class Housekeeping:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        webhook_retention: timedelta,
        event_retention: timedelta,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.webhook_retention = webhook_retention
        self.event_retention = event_retention

    async def purge(self) -> Purged:
        """Handled webhooks and finished (delivered or dead) events past their retention;
        an unhandled webhook or a pending event is never pruned, however old."""
        now = utcnow()
        webhooks = await self._in_batches(
            lambda session: WebhookEventRepository(session).delete_received_before(
                now - self.webhook_retention, limit=PURGE_BATCH
            )
        )
        events = await self._in_batches(
            lambda session: EventRepository(session).delete_finished_before(
                now - self.event_retention, limit=PURGE_BATCH
            )
        )
        return Purged(webhooks=webhooks, events=events)

    async def _in_batches(self, delete_batch: _DeleteBatch) -> int:
        total = 0
        while True:
            async with transaction(self.sessionmaker) as session:
                deleted = await delete_batch(session)
            total += deleted
            if deleted < PURGE_BATCH:
                return total
