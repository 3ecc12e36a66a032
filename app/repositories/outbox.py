from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DeliveryAttempt, OutboxEvent

NOTIFY_CHANNEL = "payments_outbox"


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> OutboxRepository:
        return cls(session)

    def add(self, event: OutboxEvent) -> None:
        self.session.add(event)

    async def notify(self) -> None:
        """Wakes listening relays when this transaction commits (LISTEN/NOTIFY)."""
        await self.session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))

    async def get(self, event_id: str, *, for_update: bool = False) -> OutboxEvent | None:
        stmt = select(OutboxEvent).where(OutboxEvent.id == event_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list(
        self,
        *,
        payment_id: str | None,
        type: str | None,
        limit: int,
        starting_after: str | None,
    ) -> Sequence[OutboxEvent]:
        stmt = select(OutboxEvent).order_by(OutboxEvent.seq.desc()).limit(limit)
        if payment_id is not None:
            stmt = stmt.where(OutboxEvent.payment_id == payment_id)
        if type is not None:
            stmt = stmt.where(OutboxEvent.type == type)
        if starting_after is not None:
            cursor = select(OutboxEvent.seq).where(OutboxEvent.id == starting_after)
            stmt = stmt.where(OutboxEvent.seq < cursor.scalar_subquery())
        return (await self.session.execute(stmt)).scalars().all()

    async def attempts_for(self, event_ids: Sequence[str]) -> Sequence[DeliveryAttempt]:
        stmt = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.event_id.in_(event_ids))
            .order_by(DeliveryAttempt.event_id, DeliveryAttempt.attempt)
        )
        return (await self.session.execute(stmt)).scalars().all()
