from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update

from app.models import OPEN_SQL, Payment, PaymentStatusHistory
from app.repositories.base import ModelRepository, Repository

OPEN = text(OPEN_SQL)
# The class key of the per-order advisory lock (two-int form, so it never meets the
# janitor's single-bigint lock): "ordr".
ORDER_LOCK_CLASS = 0x6F72_6472
CLIENT_TOKENS_KEPT = 8


class PaymentRepository(ModelRepository[Payment]):
    model = Payment

    async def get_by_provider_reference(
        self, provider: str, reference: str, *, for_update: bool = False
    ) -> Payment | None:
        stmt = select(Payment).where(
            Payment.payment_channel == provider, Payment.provider_reference == reference
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock_order(self, order_id: str) -> datetime:
        """Holds the order until this transaction ends; returns the database clock.

        Everything that decides about an order's charge (a create, a payment becoming
        succeeded) takes this lock, so "is this order paid?" cannot race. A lock before
        any payment row lock: creators never wait on a payment row while holding it.
        """
        stmt = select(
            func.pg_advisory_xact_lock(ORDER_LOCK_CLASS, func.hashtext(order_id)),
            func.clock_timestamp(),
        )
        now: datetime = (await self.session.execute(stmt)).one()[1]
        return now

    async def order_payments(self, order_id: str) -> tuple[Payment | None, Payment | None]:
        """(the order's successful payment, its open payment); either may be None."""
        stmt = select(Payment).where(
            Payment.order_id == order_id,
            text(f"({OPEN_SQL} OR (status = 'succeeded' AND duplicate_of IS NULL))"),
        )
        paid = open_payment = None
        for payment in (await self.session.execute(stmt)).scalars():
            if payment.is_terminal:
                paid = payment
            else:
                open_payment = payment
        return paid, open_payment

    async def paid_payment_id(self, order_id: str, *, other_than: str) -> str | None:
        """The order's first successful payment, if it is not `other_than`."""
        stmt = select(Payment.id).where(
            Payment.order_id == order_id,
            Payment.status == "succeeded",
            Payment.duplicate_of.is_(None),
            Payment.id != other_than,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add_client_token(self, payment_id: str, digest: str) -> None:
        """A newly handed-out token works beside the last few given for this payment."""
        column = Payment.client_token_digests
        newest = func.array_prepend(digest, column, type_=column.type)[1:CLIENT_TOKENS_KEPT]
        await self.session.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(client_token_digests=newest)
            .execution_options(synchronize_session=False)
        )

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

    async def list_due_for_check(self, *, limit: int) -> tuple[Sequence[Payment], datetime]:
        """Open payments whose next janitor check is due, never-checked ones first (a
        payment just paid whose webhook was lost is found before the long-abandoned),
        with the database clock."""
        stmt = (
            select(Payment, func.clock_timestamp())
            .where(OPEN, Payment.next_reconcile_at <= func.clock_timestamp())
            .order_by(Payment.reconcile_attempts, Payment.next_reconcile_at)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        now = rows[0][1] if rows else await self.database_now()
        return [row[0] for row in rows], now

    async def schedule_check(
        self, payment_id: str, *, after_attempts: int, attempts: int, at: datetime
    ) -> None:
        """The next janitor check, unless the payment changed meanwhile (a change
        schedules its own)."""
        await self.session.execute(
            update(Payment)
            .where(
                Payment.id == payment_id,
                Payment.reconcile_attempts == after_attempts,
                OPEN,
            )
            .values(reconcile_attempts=attempts, next_reconcile_at=at)
            .execution_options(synchronize_session=False)
        )

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


class PaymentStatusHistoryRepository(Repository):
    def record(self, entry: PaymentStatusHistory) -> None:
        self.session.add(entry)

    async def list_for_payment(self, payment_id: str) -> Sequence[PaymentStatusHistory]:
        stmt = (
            select(PaymentStatusHistory)
            .where(PaymentStatusHistory.payment_id == payment_id)
            .order_by(PaymentStatusHistory.id)
        )
        return (await self.session.execute(stmt)).scalars().all()
