"""The notifications as the order service can inspect them: events and their attempts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import DeliveryAttempt, OutboxEvent
from app.repositories.outbox import OutboxRepository
from app.services.notifications import redeliver


@dataclass(frozen=True, slots=True)
class EventWithAttempts:
    event: OutboxEvent
    attempts: Sequence[DeliveryAttempt]


class EventService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def list(
        self,
        *,
        payment_id: str | None,
        type: str | None,
        limit: int,
        starting_after: str | None,
    ) -> tuple[list[EventWithAttempts], bool]:
        async with self.sessionmaker() as session:
            repo = OutboxRepository(session)
            rows = await repo.list(
                payment_id=payment_id, type=type, limit=limit + 1, starting_after=starting_after
            )
            page = rows[:limit]
            attempts = await repo.attempts_for([e.id for e in page])
        by_event: dict[str, list[DeliveryAttempt]] = defaultdict(list)
        for attempt in attempts:
            by_event[attempt.event_id].append(attempt)
        return [EventWithAttempts(e, by_event[e.id]) for e in page], len(rows) > limit

    async def get(self, event_id: str) -> EventWithAttempts | None:
        async with self.sessionmaker() as session:
            repo = OutboxRepository(session)
            event = await repo.get(event_id)
            if event is None:
                return None
            return EventWithAttempts(event, await repo.attempts_for([event_id]))

    async def redeliver(self, event_id: str) -> EventWithAttempts | None:
        """Queue the event again (delivered, dead or pending); the relay sends it next."""
        if await redeliver(self.sessionmaker, event_id) is None:
            return None
        return await self.get(event_id)
