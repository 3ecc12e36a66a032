"""What we tell the order service: events, and their delivery attempts.

Each change of a payment or refund stages its event in the transaction of the change,
carrying the subject as it is at that moment (the transactional outbox): a rolled-back
change announces nothing, a committed one is never lost. `event_delivery` sends them;
`EventService` is how the order service reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import before_commit, utcnow
from app.core.event_types import REFUND_STATUS_EVENTS
from app.core.ids import new_id
from app.core.statuses import RefundStatus
from app.models import DeliveryAttempt, Event, Payment, Refund
from app.repositories.events import EventRepository
from app.schemas.payments import PaymentRead
from app.schemas.refunds import RefundRead
from app.services.event_delivery import redeliver


def payment_data(payment: Payment) -> dict[str, Any]:
    return PaymentRead.model_validate(payment).model_dump(mode="json")


def stage_payment_event(session: AsyncSession, event_type: str, payment: Payment) -> None:
    _stage(session, event_type, payment.id, None, payment_data(payment))


def stage_refund_event(session: AsyncSession, refund: Refund) -> None:
    data = RefundRead.model_validate(refund).model_dump(mode="json")
    event_type = REFUND_STATUS_EVENTS[RefundStatus(refund.status)]
    _stage(session, event_type, refund.payment_id, refund.id, data)


def _stage(
    session: AsyncSession,
    event_type: str,
    payment_id: str,
    refund_id: str | None,
    data: dict[str, Any],
) -> None:
    # The data is the subject now, not at commit: two events of one transaction (a
    # refund created and settled at once) each tell the state they announce.
    now = utcnow()
    session.add(
        Event(
            id=new_id("evt"),
            type=event_type,
            payment_id=payment_id,
            refund_id=refund_id,
            data=data,
            created_at=now,
            status="pending",
            attempts=0,
            next_attempt_at=now,
        )
    )
    before_commit(session, _notify)


async def _notify(session: AsyncSession) -> None:
    await EventRepository(session).notify()


@dataclass(frozen=True, slots=True)
class EventWithAttempts:
    event: Event
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
            repo = EventRepository(session)
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
            repo = EventRepository(session)
            event = await repo.get(event_id)
            if event is None:
                return None
            return EventWithAttempts(event, await repo.attempts_for([event_id]))

    async def redeliver(self, event_id: str) -> EventWithAttempts | None:
        """Queue the event again (delivered, dead or pending); the relay sends it next."""
        if await redeliver(self.sessionmaker, event_id) is None:
            return None
        return await self.get(event_id)
