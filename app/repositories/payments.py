from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import TERMINAL_STATUSES, Payment, PaymentStatusHistory


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PaymentRepository:
        return cls(session)

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        stmt = select(Payment).where(Payment.id == payment_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_by_provider_reference(
        self, provider: str, reference: str, *, for_update: bool = False
    ) -> Payment | None:
        stmt = select(Payment).where(
            Payment.payment_channel == provider, Payment.provider_reference == reference
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_open_for_order(
        self, order_id: str, *, for_update: bool = False
    ) -> Payment | None:
        stmt = select(Payment).where(
            Payment.order_id == order_id, Payment.status.not_in(TERMINAL_STATUSES)
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list(
        self,
        *,
        order_id: str | None,
        status: str | None,
        limit: int,
        starting_after: str | None,
    ) -> Sequence[Payment]:
        """Newest first; ids sort by creation time, so the cursor is the last id seen."""
        stmt = select(Payment).order_by(Payment.id.desc()).limit(limit)
        if order_id is not None:
            stmt = stmt.where(Payment.order_id == order_id)
        if status is not None:
            stmt = stmt.where(Payment.status == status)
        if starting_after is not None:
            stmt = stmt.where(Payment.id < starting_after)
        return (await self.session.execute(stmt)).scalars().all()

    async def database_now(self) -> datetime:
        """The database's clock: one clock for every process that reads a provider."""
        now: datetime = (await self.session.execute(select(func.clock_timestamp()))).scalar_one()
        return now

    async def list_stale_open(
        self, *, stale_after: timedelta, limit: int, after: tuple[datetime, str] | None = None
    ) -> Sequence[Payment]:
        """Open payments unchanged for `stale_after` (database clock), oldest first.

        `after` is a keyset cursor (updated_at, id) so a caller can page past rows it
        could not settle instead of meeting them again at the head of every batch.
        """
        stmt = (
            select(Payment)
            .where(
                Payment.status.not_in(TERMINAL_STATUSES),
                Payment.updated_at < func.now() - stale_after,
            )
            .order_by(Payment.updated_at, Payment.id)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(tuple_(Payment.updated_at, Payment.id) > tuple_(*after))
        return (await self.session.execute(stmt)).scalars().all()

    async def try_advisory_lock(self, key: int) -> bool:
        """A session-level advisory lock: held by this connection until released or closed."""
        taken: bool = (
            await self.session.execute(select(func.pg_try_advisory_lock(key)))
        ).scalar_one()
        return taken

    async def advisory_unlock(self, key: int) -> bool:
        released: bool = (
            await self.session.execute(select(func.pg_advisory_unlock(key)))
        ).scalar_one()
        return released

    def add(self, payment: Payment) -> None:
        self.session.add(payment)

    async def flush(self) -> None:
        await self.session.flush()


class PaymentStatusHistoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PaymentStatusHistoryRepository:
        return cls(session)

    def record(self, entry: PaymentStatusHistory) -> None:
        self.session.add(entry)

    async def list_for_payment(self, payment_id: str) -> Sequence[PaymentStatusHistory]:
        stmt = (
            select(PaymentStatusHistory)
            .where(PaymentStatusHistory.payment_id == payment_id)
            .order_by(PaymentStatusHistory.id)
        )
        return (await self.session.execute(stmt)).scalars().all()
