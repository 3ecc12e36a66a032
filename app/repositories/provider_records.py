from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.core.db import utcnow
from app.models import ProviderRecord
from app.repositories.base import Repository


class ProviderRecordRepository(Repository):
    async def upsert(
        self,
        *,
        provider: str,
        object_type: str,
        object_id: str,
        payment_id: str | None,
        payload: Mapping[str, Any],
    ) -> None:
        stmt = insert(ProviderRecord).values(
            provider=provider,
            object_type=object_type,
            object_id=object_id,
            payment_id=payment_id,
            payload=dict(payload),
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[ProviderRecord.provider, ProviderRecord.object_id],
            set_={"payload": stmt.excluded.payload, "updated_at": stmt.excluded.updated_at},
        )
        await self.session.execute(stmt)

    async def get(self, provider: str, object_id: str) -> ProviderRecord | None:
        stmt = select(ProviderRecord).where(
            ProviderRecord.provider == provider, ProviderRecord.object_id == object_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
