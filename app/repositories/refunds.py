from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, inspect, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import make_transient_to_detached

from app.models import Refund
from app.repositories.base import ModelRepository


class RefundRepository(ModelRepository[Refund]):
    model = Refund

    async def get_by_provider_reference(
        self, reference: str, *, for_update: bool = False
    ) -> Refund | None:
        stmt = select(Refund).where(Refund.provider_reference == reference)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def payment_id_of(self, refund_id: str) -> str | None:
        stmt = select(Refund.payment_id).where(Refund.id == refund_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_payment(self, payment_id: str) -> Sequence[Refund]:
        stmt = (
            select(Refund)
            .where(Refund.payment_id == payment_id)
            .order_by(Refund.created_at.desc(), Refund.id.desc())
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def list_stale_pending(
        self, *, stale_after: timedelta, limit: int, after: tuple[datetime, str] | None = None
    ) -> Sequence[Refund]:
        """Pending refunds unchanged for `stale_after` (database clock), oldest first;
        `after` is a keyset cursor (updated_at, id)."""
        stmt = (
            select(Refund)
            .where(
                Refund.status == "pending",
                Refund.updated_at < func.now() - stale_after,
            )
            .order_by(Refund.updated_at, Refund.id)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(tuple_(Refund.updated_at, Refund.id) > tuple_(*after))
        return (await self.session.execute(stmt)).scalars().all()

    async def insert_if_absent(self, refund: Refund) -> bool:
        """Insert, or do nothing when a refund with its id or provider reference exists
        (a concurrent insert of the same one waits on the index, then does nothing).
        Once inserted, `refund` belongs to the session as a stored row."""
        for attr in inspect(Refund).column_attrs:
            # Unset attributes would be "expired" once attached, and load lazily.
            if attr.key not in refund.__dict__:
                setattr(refund, attr.key, None)
        values = {attr.key: getattr(refund, attr.key) for attr in inspect(Refund).column_attrs}
        stmt = insert(Refund).values(**values).on_conflict_do_nothing().returning(Refund.id)
        if (await self.session.execute(stmt)).scalar_one_or_none() is None:
            return False
        make_transient_to_detached(refund)
        self.session.add(refund)
        return True
