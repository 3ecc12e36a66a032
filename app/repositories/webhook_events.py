from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.models import WebhookEvent


class WebhookEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> WebhookEventRepository:
        return cls(session)

    async def insert_once(
        self,
        *,
        provider: str,
        event_id: str,
        event_type: str,
        object_id: str | None,
        payload: Mapping[str, Any],
        provider_created_at: datetime,
    ) -> None:
        """A concurrent duplicate waits on the unique index, then does nothing."""
        stmt = (
            insert(WebhookEvent)
            .values(
                provider=provider,
                event_id=event_id,
                event_type=event_type,
                object_id=object_id,
                payload=dict(payload),
                provider_created_at=provider_created_at,
                received_at=utcnow(),
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
