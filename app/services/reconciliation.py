"""Reconciliation: repair what a dropped webhook or a crash between two transactions left.

Three kinds of row are found by age (unchanged for `stale_after`, by the database clock):

- an open payment with a provider object: fetched and applied through `PaymentService.sync`,
  the same `apply_provider_payment` path a webhook takes, so the order service hears the
  same events;
- an open payment without one (the create's answer was lost): the create is repeated under
  its deterministic `create_key`, so the provider hands back the object the first call made;
- a pending refund: fetched and applied when it has a provider reference, otherwise the
  refund call is repeated under its `refund_key`.

One process at a time does this: the leader holds a PostgreSQL advisory lock for the run on
a connection in autocommit mode, so no transaction stays open across a provider call. Each
candidate is handled by the services, which read, call the provider and apply in their own
short transactions with the row locked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import AppError
from app.models import Payment, Refund
from app.providers.registry import ProviderRegistry
from app.repositories.payments import PaymentRepository
from app.repositories.refunds import RefundRepository
from app.services.payments import PaymentService
from app.services.refunds import RefundService

logger = logging.getLogger(__name__)

# The advisory lock every janitor process contends for; any constant unique to this job.
RECONCILIATION_LOCK_KEY = 0x7061_7952_6563_6F6E  # "payRecon"


@dataclass(slots=True)
class ReconciliationReport:
    leader: bool = False
    payments_checked: int = 0
    payments_changed: int = 0  # status or last error moved, so events were written
    creates_completed: int = 0  # a lost create answer recovered under the same key
    refunds_checked: int = 0
    refunds_changed: int = 0
    refunds_completed: int = 0  # a lost refund answer recovered under the same key
    errors: int = 0

    def add(self, other: ReconciliationReport) -> None:
        for f in fields(self):
            if f.name != "leader":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _next_cursor(
    rows: Sequence[Payment] | Sequence[Refund], batch_size: int
) -> tuple[datetime, str] | None:
    """A full batch: continue after its last row next run; a short one: start over.

    Rows the janitor cannot settle (the provider keeps failing, a refund pending for days)
    keep their `updated_at`; without the cursor they would fill every batch and starve the
    rows behind them.
    """
    if len(rows) < batch_size or not rows:
        return None
    return rows[-1].updated_at, rows[-1].id


class Reconciler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        payments: PaymentService,
        refunds: RefundService,
        stale_after: timedelta,
        batch_size: int = 100,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.payments = payments
        self.refunds = refunds
        self.stale_after = stale_after
        self.batch_size = batch_size
        self.totals = ReconciliationReport()
        self._payment_cursor: tuple[datetime, str] | None = None
        self._refund_cursor: tuple[datetime, str] | None = None

    async def run_once(self, stopping: asyncio.Event | None = None) -> ReconciliationReport:
        """One pass over stale payments, then pending refunds; `stopping` ends it early,
        between two candidates."""
        report = ReconciliationReport()
        async with self._leadership() as leader:
            if not leader:
                logger.info("reconciliation skipped: another janitor holds the lock")
                return report
            report.leader = True
            await self._reconcile_payments(report, stopping)
            await self._reconcile_refunds(report, stopping)
        self.totals.add(report)
        logger.info("reconciliation run finished", extra=asdict(report))
        return report

    @asynccontextmanager
    async def _leadership(self) -> AsyncIterator[bool]:
        async with self.sessionmaker() as session:
            # Autocommit: the lock belongs to the connection, not to a transaction, so
            # holding it for the whole run keeps no transaction open across provider calls.
            connection = await session.connection(
                execution_options={"isolation_level": "AUTOCOMMIT"}
            )
            repository = PaymentRepository(session)
            if not await repository.try_advisory_lock(RECONCILIATION_LOCK_KEY):
                yield False
                return
            try:
                yield True
            finally:
                released = False
                try:
                    released = await repository.advisory_unlock(RECONCILIATION_LOCK_KEY)
                finally:
                    if not released:
                        # Never hand a connection that may still hold the lock back to the
                        # pool: closing it is what releases the lock for sure.
                        await connection.invalidate()

    # -- payments ----------------------------------------------------------------------

    async def _reconcile_payments(
        self, report: ReconciliationReport, stopping: asyncio.Event | None
    ) -> None:
        async with self.sessionmaker() as session:
            candidates = await PaymentRepository(session).list_stale_open(
                stale_after=self.stale_after, limit=self.batch_size, after=self._payment_cursor
            )
        self._payment_cursor = _next_cursor(candidates, self.batch_size)
        for payment in candidates:
            if stopping is not None and stopping.is_set():
                return
            report.payments_checked += 1
            try:
                await self._reconcile_payment(payment, report)
            except Exception as exc:
                report.errors += 1
                logger.warning(
                    "reconciliation of a payment failed; retried next run",
                    extra={"payment_id": payment.id, "error": repr(exc)},
                    exc_info=not isinstance(exc, AppError),
                )

    async def _reconcile_payment(self, payment: Payment, report: ReconciliationReport) -> None:
        if not self.registry.has(payment.payment_channel):
            raise LookupError(f"no provider {payment.payment_channel!r} is configured")
        if payment.provider_reference is None:
            current = await self.payments.resume_create(payment.id)
            if current.provider_reference is not None:
                report.creates_completed += 1
            action = "completed a create whose answer was lost"
        else:
            current = await self.payments.sync(payment.id, source="janitor")
            action = "checked a payment at its provider"
        changed = (current.status, current.last_error) != (payment.status, payment.last_error)
        if changed:
            report.payments_changed += 1
        logger.info(
            "reconciliation: " + action,
            extra={
                "payment_id": payment.id,
                "provider_reference": current.provider_reference,
                "from_status": payment.status,
                "to_status": current.status,
                "changed": changed,
            },
        )

    # -- refunds -----------------------------------------------------------------------

    async def _reconcile_refunds(
        self, report: ReconciliationReport, stopping: asyncio.Event | None
    ) -> None:
        async with self.sessionmaker() as session:
            candidates = await RefundRepository(session).list_stale_pending(
                stale_after=self.stale_after, limit=self.batch_size, after=self._refund_cursor
            )
        self._refund_cursor = _next_cursor(candidates, self.batch_size)
        for refund in candidates:
            if stopping is not None and stopping.is_set():
                return
            report.refunds_checked += 1
            try:
                await self._reconcile_refund(refund, report)
            except Exception as exc:
                report.errors += 1
                logger.warning(
                    "reconciliation of a refund failed; retried next run",
                    extra={
                        "refund_id": refund.id,
                        "payment_id": refund.payment_id,
                        "error": repr(exc),
                    },
                    exc_info=not isinstance(exc, AppError),
                )

    async def _reconcile_refund(self, refund: Refund, report: ReconciliationReport) -> None:
        if refund.provider_reference is None:
            current = await self.refunds.resume(refund.id)
            if current.provider_reference is not None:
                report.refunds_completed += 1
            action = "completed a refund whose answer was lost"
        else:
            current = await self.refunds.sync(refund.id)
            action = "checked a refund at its provider"
        changed = current.status != refund.status
        if changed:
            report.refunds_changed += 1
        logger.info(
            "reconciliation: " + action,
            extra={
                "refund_id": refund.id,
                "payment_id": refund.payment_id,
                "provider_reference": current.provider_reference,
                "from_status": refund.status,
                "to_status": current.status,
                "changed": changed,
            },
        )
