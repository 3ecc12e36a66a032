from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from app.models import DeliveryAttempt, Event
from app.repositories.base import ModelRepository

NOTIFY_CHANNEL = "payments_outbox"


class EventRepository(ModelRepository[Event]):
    model = Event

    async def notify(self) -> None:
        """Wakes listening relays when this transaction commits (LISTEN/NOTIFY)."""
        await self.session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))

    async def list(
        self,
        *,
        payment_id: str | None,
        type: str | None,
        limit: int,
        starting_after: str | None,
    ) -> Sequence[Event]:
        stmt = select(Event).order_by(Event.seq.desc()).limit(limit)
        if payment_id is not None:
            stmt = stmt.where(Event.payment_id == payment_id)
        if type is not None:
            stmt = stmt.where(Event.type == type)
        if starting_after is not None:
            cursor = select(Event.seq).where(Event.id == starting_after)
            stmt = stmt.where(Event.seq < cursor.scalar_subquery())
        return (await self.session.execute(stmt)).scalars().all()

    async def attempts_for(self, event_ids: Sequence[str]) -> Sequence[DeliveryAttempt]:
        stmt = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.event_id.in_(event_ids))
            .order_by(DeliveryAttempt.event_id, DeliveryAttempt.attempt)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def claim_due(
        self, *, limit: int, lease_seconds: float, order_hold_seconds: float
    ) -> Sequence[Event]:
        """Leases up to `limit` due events, oldest first, at most one per payment: an event
        waits while an earlier one of its payment is still pending, for at most
        `order_hold_seconds` after that earlier one was made (one event the order service
        keeps refusing must not hold back the rest for the day its retries take).
        Concurrent relays skip rows another is claiming, so no two hold the same event.
        Each returned event's `locked_until` is the lease token that `mark_delivered` /
        `mark_failed` check."""
        earlier = aliased(Event)
        now = func.now()
        due = (
            select(Event.id)
            .where(
                Event.status == "pending",
                Event.next_attempt_at <= now,
                or_(Event.locked_until.is_(None), Event.locked_until <= now),
                ~exists().where(
                    earlier.payment_id == Event.payment_id,
                    earlier.status == "pending",
                    earlier.seq < Event.seq,
                    earlier.created_at > now - timedelta(seconds=order_hold_seconds),
                ),
            )
            .order_by(Event.seq)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Event)
        )
        stmt = (
            update(Event)
            .where(Event.id.in_(due))
            .values(locked_until=now + timedelta(seconds=lease_seconds))
            .returning(Event)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        claimed = (await self.session.execute(stmt)).scalars().all()
        return sorted(claimed, key=lambda event: event.seq)

    async def mark_delivered(self, event_id: str, lease: datetime) -> bool:
        """False when the lease is no longer ours (it lapsed and another relay took over)."""
        return await self._update_leased(
            event_id,
            lease,
            status="delivered",
            delivered_at=func.now(),
            attempts=Event.attempts + 1,
            last_error=None,
            locked_until=None,
        )

    async def mark_failed(
        self, event_id: str, lease: datetime, *, error: str, retry_in: float | None
    ) -> bool:
        """Schedules the next try in `retry_in` seconds, or dead-letters when it is None."""
        values: dict[str, object] = {
            "attempts": Event.attempts + 1,
            "last_error": error,
            "locked_until": None,
        }
        if retry_in is None:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = func.now() + timedelta(seconds=retry_in)
        return await self._update_leased(event_id, lease, **values)

    async def release(self, event_id: str, lease: datetime) -> bool:
        """Gives a leased event back untried, for another pass."""
        return await self._update_leased(event_id, lease, locked_until=None)

    async def _update_leased(self, event_id: str, lease: datetime, **values: object) -> bool:
        stmt = (
            update(Event)
            .where(
                Event.id == event_id,
                Event.status == "pending",
                Event.locked_until == lease,
            )
            .values(**values)
            .returning(Event.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def add_attempt(
        self,
        event_id: str,
        *,
        attempted_at: datetime,
        status_code: int | None,
        latency_ms: int,
        error: str | None,
    ) -> None:
        """Numbered after the event's earlier attempts, including those before a redelivery."""
        number = (
            select(func.coalesce(func.max(DeliveryAttempt.attempt), 0) + 1)
            .where(DeliveryAttempt.event_id == event_id)
            .scalar_subquery()
        )
        await self.session.execute(
            insert(DeliveryAttempt).values(
                event_id=event_id,
                attempt=number,
                attempted_at=attempted_at,
                status_code=status_code,
                latency_ms=latency_ms,
                error=error,
            )
        )

    async def reset_for_redelivery(self, event_id: str) -> Event | None:
        """Pending and due now with a fresh retry schedule; its attempt rows stay."""
        stmt = (
            update(Event)
            .where(Event.id == event_id)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=func.now(),
                locked_until=None,
                delivered_at=None,
                last_error=None,
            )
            .returning(Event)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def delete_finished_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delivered or dead events made before `cutoff` (their attempts go with them),
        at most `limit` at a time; pending ones are kept whatever their age."""
        doomed = (
            select(Event.id)
            .where(Event.created_at < cutoff, Event.status != "pending")
            .limit(limit)
            .scalar_subquery()
        )
        result = await self.session.execute(
            delete(Event)
            .where(Event.id.in_(doomed))
            .returning(Event.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())
