from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert

from app.core.db import utcnow
from app.models import WebhookEvent
from app.repositories.base import Repository


class WebhookEventRepository(Repository):
    async def insert_once(
        self,
        *,
        provider: str,
        event_id: str,
        event_type: str,
        object_id: str | None,
        payload: Mapping[str, Any],
        provider_created_at: datetime,
        retry_in: timedelta,
    ) -> None:
        """A concurrent duplicate waits on the unique index, then does nothing."""
        now = utcnow()
        stmt = (
            insert(WebhookEvent)
            .values(
                provider=provider,
                event_id=event_id,
                event_type=event_type,
                object_id=object_id,
                payload=dict(payload),
                provider_created_at=provider_created_at,
                received_at=now,
                attempts=0,
                # If this delivery cannot be handled now, the janitor handles it then.
                retry_at=now + retry_in,
            )
            .on_conflict_do_nothing(index_elements=[WebhookEvent.provider, WebhookEvent.event_id])
        )
        await self.session.execute(stmt)

    async def get_for_update(self, provider: str, event_id: str) -> WebhookEvent:
        stmt = (
            select(WebhookEvent)
            .where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def postpone(self, provider: str, event_id: str, *, base: timedelta) -> None:
        """One more failed attempt: the next one waits twice as long as the last (at most
        64 times `base`)."""
        row = WebhookEvent
        seconds = func.power(2, func.least(row.attempts, 6)) * base.total_seconds()
        delay: ColumnElement[Any] = literal_column("interval '1 second'") * seconds
        await self.session.execute(
            update(row)
            .where(row.provider == provider, row.event_id == event_id, row.processed_at.is_(None))
            .values(attempts=row.attempts + 1, retry_at=func.now() + delay)
            .execution_options(synchronize_session=False)
        )

    async def list_due_retries(self, *, limit: int) -> Sequence[WebhookEvent]:
        stmt = (
            select(WebhookEvent)
            .where(WebhookEvent.processed_at.is_(None), WebhookEvent.retry_at <= func.now())
            .order_by(WebhookEvent.retry_at)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def delete_received_before(self, cutoff: datetime, *, limit: int) -> int:
        """Handled events older than `cutoff`, at most `limit` of them (in batches, so
        a purge never holds many locks at once). Unhandled ones are kept."""
        doomed = (
            select(WebhookEvent.id)
            .where(WebhookEvent.received_at < cutoff, WebhookEvent.processed_at.is_not(None))
            .limit(limit)
            .scalar_subquery()
        )
        result = await self.session.execute(
            delete(WebhookEvent)
            .where(WebhookEvent.id.in_(doomed))
            .returning(WebhookEvent.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())
