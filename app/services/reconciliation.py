"""Reconciliation: repair what a dropped webhook or a crash between two transactions left,
and end what was abandoned.

Each pass of the leader takes, in order:

- open payments whose next check is due (each payment carries its own schedule, backing
  off with its age and with the checks that found nothing new; never-checked ones come
  first, so a payment just paid whose webhook was lost is reached before the thousands
  abandoned beside it): one past its `expires_at` is canceled at the provider and becomes
  `expired`; one without a provider object (the create's answer was lost) has its create
  repeated under the deterministic `create_key`; any other is fetched and applied through
  the same `PaymentUpdater` a webhook uses, so the order service hears the same events;
- pending refunds unchanged for `stale_after`: fetched and applied when they have a
  provider reference, otherwise the refund call is repeated under its `refund_key`;
- inbox events left unprocessed because the provider could not be read then.

One process at a time does this: the leader holds a PostgreSQL advisory lock for the run on
a connection in autocommit mode, so no transaction stays open across a provider call. Each
candidate is handled by the services, which read, call the provider and apply in their own
short transactions with the row locked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import transaction
from app.core.errors import AppError, ProviderUnavailableError
from app.models import Payment, Refund, WebhookEvent
from app.providers.registry import ProviderRegistry
from app.repositories.payments import PaymentRepository
from app.repositories.refunds import RefundRepository
from app.repositories.webhook_events import WebhookEventRepository
from app.services.payments import PaymentService
from app.services.refunds import RefundService
from app.services.webhooks import WebhookService

logger = logging.getLogger(__name__)

# The advisory lock every janitor process contends for; any constant unique to this job.
RECONCILIATION_LOCK_KEY = 0x7061_7952_6563_6F6E  # "payRecon"

T = TypeVar("T")


@dataclass(slots=True)
class ReconciliationReport:
    leader: bool = False
    payments_checked: int = 0
    payments_changed: int = 0  # status or last error moved, so events were written
    payments_expired: int = 0
    creates_completed: int = 0  # a lost create answer recovered under the same key
    refunds_checked: int = 0
    refunds_changed: int = 0
    refunds_completed: int = 0  # a lost refund answer recovered under the same key
    webhooks_retried: int = 0
    errors: int = 0

    def add(self, other: ReconciliationReport) -> None:
        for f in fields(self):
            if f.name != "leader":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class CheckSchedule:
    """When the janitor looks at an open payment again after a check found nothing new:
    `first` times 2**attempts, at least half the payment's age, at most `longest`, and
    never past its expiry, which must be acted on in time."""

    first: timedelta
    longest: timedelta

    def next_check(self, payment: Payment, attempts: int, now: datetime) -> datetime:
        age = max(now - payment.created_at, timedelta(0))
        delay = max(self.first * (1 << min(attempts, 30)), age / 2)
        due: datetime = min(now + min(delay, self.longest), max(payment.expires_at, now))
        return due


def _next_cursor(rows: Sequence[Refund], batch_size: int) -> tuple[datetime, str] | None:
    """A full batch: continue after its last row next run; a short one: start over.

    Refunds the janitor cannot settle (the provider keeps failing, a refund pending for
    days) keep their `updated_at`; without the cursor they would fill every batch and
    starve the rows behind them.
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
        webhooks: WebhookService,
        *,
        stale_after: timedelta,
        schedule: CheckSchedule,
        batch_size: int = 200,
        concurrency: int = 4,
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be at least 1")
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.payments = payments
        self.refunds = refunds
        self.webhooks = webhooks
        self.stale_after = stale_after
        self.schedule = schedule
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.totals = ReconciliationReport()
        self._refund_cursor: tuple[datetime, str] | None = None

    async def run_once(self, stopping: asyncio.Event | None = None) -> ReconciliationReport:
        """One pass over due payments, pending refunds and unprocessed webhooks;
        `stopping` ends it early, between two candidates."""
        report = ReconciliationReport()
        async with self._leadership() as leader:
            if not leader:
                logger.info("reconciliation skipped: another janitor holds the lock")
                return report
            report.leader = True
            await self._reconcile_payments(report, stopping)
            await self._reconcile_refunds(report, stopping)
            await self._retry_webhooks(report, stopping)
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

    async def _each(
        self,
        items: Sequence[T],
        work: Callable[[T], Awaitable[None]],
        stopping: asyncio.Event | None,
    ) -> None:
        """`work` on every item, `concurrency` at a time; no new one once stopping."""
        bound = asyncio.Semaphore(self.concurrency)

        async def one(item: T) -> None:
            async with bound:
                if stopping is None or not stopping.is_set():
                    await work(item)

        await asyncio.gather(*(one(item) for item in items))

    # -- payments ----------------------------------------------------------------------

    async def _reconcile_payments(
        self, report: ReconciliationReport, stopping: asyncio.Event | None
    ) -> None:
        async with self.sessionmaker() as session:
            candidates, now = await PaymentRepository(session).list_due_for_check(
                limit=self.batch_size
            )

        async def check(payment: Payment) -> None:
            report.payments_checked += 1
            changed = False
            try:
                changed = await self._reconcile_payment(payment, now, report)
            except Exception as exc:
                report.errors += 1
                logger.warning(
                    "reconciliation of a payment failed; retried later",
                    extra={"payment_id": payment.id, "error": repr(exc)},
                    exc_info=not isinstance(exc, AppError),
                )
            if not changed:
                await self._back_off(payment, now)

        await self._each(candidates, check, stopping)

    async def _reconcile_payment(
        self, payment: Payment, now: datetime, report: ReconciliationReport
    ) -> bool:
        """True when the payment changed (its change scheduled the next check)."""
        if not self.registry.has(payment.payment_channel):
            raise LookupError(f"no provider {payment.payment_channel!r} is configured")
        if payment.expires_at <= now:
            current = await self.payments.expire(payment.id)
            action = "expired an abandoned payment"
            if current.status == "expired":
                report.payments_expired += 1
        elif payment.provider_reference is None:
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
        return changed

    async def _back_off(self, payment: Payment, now: datetime) -> None:
        attempts = payment.reconcile_attempts + 1
        async with transaction(self.sessionmaker) as session:
            await PaymentRepository(session).schedule_check(
                payment.id,
                after_attempts=payment.reconcile_attempts,
                attempts=attempts,
                at=self.schedule.next_check(payment, attempts, now),
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

        async def check(refund: Refund) -> None:
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

        await self._each(candidates, check, stopping)

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

    # -- the inbox ---------------------------------------------------------------------

    async def _retry_webhooks(
        self, report: ReconciliationReport, stopping: asyncio.Event | None
    ) -> None:
        async with self.sessionmaker() as session:
            rows = await WebhookEventRepository(session).list_due_retries(limit=self.batch_size)

        async def retry(row: WebhookEvent) -> None:
            try:
                outcome = await self.webhooks.retry(row)
            except Exception as exc:
                report.errors += 1
                if not isinstance(exc, ProviderUnavailableError):
                    # (A provider that could not be read postponed the event already.)
                    await self.webhooks.postpone(row)
                logger.warning(
                    "an unprocessed webhook failed again; retried later",
                    extra={"event_id": row.event_id, "error": repr(exc)},
                    exc_info=not isinstance(exc, AppError),
                )
                return
            report.webhooks_retried += 1
            logger.info(
                "reconciliation: handled a webhook left unprocessed",
                extra={"event_id": row.event_id, "outcome": outcome.value},
            )

        await self._each(rows, retry, stopping)
