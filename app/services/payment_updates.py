"""How a payment changes: the one place its status is written and a provider object is
applied, where one charge per order is enforced and the janitor's schedule is kept.

Every function here works inside a transaction its caller owns, on a payment row the
caller has locked; none calls a provider. Work that needs one (refunding a duplicate) is
recorded in the transaction and started once it has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import after_commit, utcnow
from app.core.event_types import PAYMENT_DISPUTED, PAYMENT_DUPLICATE_DETECTED, PAYMENT_STATUS_EVENTS
from app.core.settings import Settings
from app.core.statuses import PaymentStatus
from app.models import Payment, PaymentStatusHistory
from app.providers.base import ProviderDispute, ProviderPayment
from app.repositories.payments import PaymentRepository, PaymentStatusHistoryRepository
from app.repositories.provider_records import ProviderRecordRepository
from app.services.events import stage_payment_event
from app.services.refunds import reserve_duplicate_refund
from app.services.transitions import Decision, decide, is_terminal

logger = logging.getLogger(__name__)

StartRefund = Callable[[str], Awaitable[object]]
AMOUNT_RECEIVED_MISMATCH = "amount_received_mismatch"


@dataclass(frozen=True, slots=True)
class PaymentPolicy:
    check_after: timedelta  # the janitor's first look at an open payment that stays put
    ttl: timedelta  # an open payment lapses this long after it was made
    refund_duplicates: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> PaymentPolicy:
        return cls(
            check_after=timedelta(seconds=settings.reconcile_stale_after_seconds),
            ttl=timedelta(seconds=settings.payment_ttl_seconds),
            refund_duplicates=settings.refund_duplicates,
        )


class PaymentUpdater:
    def __init__(self, policy: PaymentPolicy, start_refund: StartRefund | None = None) -> None:
        self.policy = policy
        self.start_refund = start_refund

    def schedule_new(self, payment: Payment, now: datetime) -> None:
        payment.expires_at = now + self.policy.ttl
        payment.next_reconcile_at = now + self.policy.check_after
        payment.reconcile_attempts = 0

    def move(
        self,
        session: AsyncSession,
        payment: Payment,
        target: PaymentStatus,
        *,
        source: str,
        provider_event_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Decision:
        """The only place a payment's status is written; stages its event."""
        transition = decide(PaymentStatus(payment.status), target)
        if transition.moves:
            now = utcnow()
            self._history(session, payment, target, source, provider_event_id, detail)
            payment.status = target.value
            payment.updated_at = now
            if is_terminal(target):
                payment.next_reconcile_at = None
            else:
                # Something happened: the janitor looks again if nothing else does.
                payment.next_reconcile_at = min(now + self.policy.check_after, payment.expires_at)
                payment.reconcile_attempts = 0
            stage_payment_event(session, PAYMENT_STATUS_EVENTS[target], payment)
        elif transition.decision is Decision.FORBIDDEN:
            logger.info(
                "ignored a backward status change",
                extra={"payment_id": payment.id, "from": payment.status, "to": target.value},
            )
        return transition.decision

    async def apply(
        self,
        session: AsyncSession,
        payment: Payment,
        snapshot: ProviderPayment,
        *,
        source: str,
        provider_event_id: str | None = None,
        observed_at: datetime | None = None,
        target: PaymentStatus | None = None,
    ) -> Decision:
        """Bring a locked payment up to a provider object's state and keep the object.

        `observed_at`: when the read that produced `snapshot` began. Reads finish out of
        order (two webhooks, a sync), so a non-final one that began before the last
        applied read is stale; a final state cannot be overtaken and always applies.
        `target`: the status to record instead of the snapshot's (an expiry we asked for
        comes back from the provider as canceled).
        """
        target = target or snapshot.status
        if (
            not is_terminal(target)
            and observed_at is not None
            and payment.provider_observed_at is not None
            and observed_at <= payment.provider_observed_at
        ):
            return Decision.STALE
        if (
            snapshot.amount != payment.amount
            or snapshot.currency != payment.currency
            or payment.provider_reference not in (None, snapshot.reference)
        ):
            logger.error(
                "provider object disagrees with the payment; not applied",
                extra={"payment_id": payment.id, "reference": snapshot.reference},
            )
            return Decision.FORBIDDEN
        if target is PaymentStatus.SUCCEEDED and snapshot.amount_received != payment.amount:
            return await self._flag_amount_received(session, payment, snapshot, source)
        decision = decide(PaymentStatus(payment.status), target).decision
        if decision is Decision.FORBIDDEN:
            # A late event: neither the status nor the stored provider object moves back.
            logger.info(
                "ignored a backward status change",
                extra={"payment_id": payment.id, "from": payment.status, "to": target.value},
            )
            return decision
        if payment.provider_reference is None:
            # The create call succeeded but its answer was lost (a crash, a timeout).
            payment.provider_reference = snapshot.reference
            payment.livemode = snapshot.livemode
        if observed_at is not None and (
            payment.provider_observed_at is None or observed_at > payment.provider_observed_at
        ):
            payment.provider_observed_at = observed_at
        last_error = snapshot.last_error.as_dict() if snapshot.last_error else None
        new_error = last_error is not None and last_error != payment.last_error
        payment.last_error = last_error
        if snapshot.payload:
            payment.payment_payload = {**payment.payment_payload, **snapshot.payload}
        if decision is Decision.APPLY:
            if target is PaymentStatus.SUCCEEDED:
                await self._claim_order(session, payment)
            self.move(session, payment, target, source=source, provider_event_id=provider_event_id)
            if payment.duplicate_of is not None:
                await self._handle_duplicate(session, payment)
        elif new_error:
            # A declined attempt leaves the status as it was; it is still worth a record.
            payment.updated_at = utcnow()
            self._history(
                session, payment, target, source, provider_event_id, {"last_error": last_error}
            )
            stage_payment_event(session, "payment.failed", payment)
        await self._keep_provider_object(session, payment, snapshot)
        return decision

    async def apply_dispute(
        self, session: AsyncSession, payment: Payment, dispute: ProviderDispute, seen_at: datetime
    ) -> Decision:
        """Record a chargeback on a locked payment; `seen_at` orders the provider's events
        about it, so a late `created` does not undo a `closed`."""
        stored = payment.dispute or {}
        if (
            stored.get("id") == dispute.reference
            and stored.get("seen_at", "") > seen_at.isoformat()
        ):
            return Decision.STALE
        current = {
            "id": dispute.reference,
            "status": dispute.status,
            "amount": dispute.amount,
            "currency": dispute.currency,
            "reason": dispute.reason,
        }
        changed = {key: stored.get(key) for key in current} != current
        payment.dispute = {**current, "seen_at": seen_at.isoformat()}
        if not changed:
            return Decision.SAME
        payment.updated_at = utcnow()
        self._history(
            session, payment, PaymentStatus(payment.status), "webhook", None, {"dispute": current}
        )
        stage_payment_event(session, PAYMENT_DISPUTED, payment)
        return Decision.APPLY

    async def _claim_order(self, session: AsyncSession, payment: Payment) -> None:
        """Under the order's lock: the first success is the order's charge, any later one
        its duplicate (the partial unique index on paid orders backs this up)."""
        repository = PaymentRepository(session)
        await repository.lock_order(payment.order_id)
        first = await repository.paid_payment_id(payment.order_id, other_than=payment.id)
        if first is not None:
            payment.duplicate_of = first

    async def _handle_duplicate(self, session: AsyncSession, payment: Payment) -> None:
        logger.warning(
            "a second successful payment for an order that was already paid",
            extra={
                "payment_id": payment.id,
                "order_id": payment.order_id,
                "duplicate_of": payment.duplicate_of,
            },
        )
        stage_payment_event(session, PAYMENT_DUPLICATE_DETECTED, payment)
        if not self.policy.refund_duplicates:
            return
        refund_id = await reserve_duplicate_refund(session, payment)
        if refund_id is not None and self.start_refund is not None:
            after_commit(session, partial(self.start_refund, refund_id))

    async def _flag_amount_received(
        self, session: AsyncSession, payment: Payment, snapshot: ProviderPayment, source: str
    ) -> Decision:
        """A success whose received amount is not the amount is not trusted: the payment
        stays as it is, with the contradiction recorded for an operator."""
        error = {
            "code": AMOUNT_RECEIVED_MISMATCH,
            "message": f"the provider reports {snapshot.amount_received} of {payment.amount} "
            f"{payment.currency} received for {snapshot.reference}",
            "decline_code": None,
        }
        if payment.last_error != error:
            logger.error(
                "provider reports a success with another amount received; not applied",
                extra={"payment_id": payment.id, "reference": snapshot.reference},
            )
            payment.last_error = error
            payment.updated_at = utcnow()
            self._history(
                session,
                payment,
                PaymentStatus(payment.status),
                source,
                None,
                {"flag": AMOUNT_RECEIVED_MISMATCH, "amount_received": snapshot.amount_received},
            )
        await self._keep_provider_object(session, payment, snapshot)
        return Decision.FLAGGED

    @staticmethod
    def _history(
        session: AsyncSession,
        payment: Payment,
        target: PaymentStatus,
        source: str,
        provider_event_id: str | None,
        detail: dict[str, Any] | None,
    ) -> None:
        PaymentStatusHistoryRepository(session).record(
            PaymentStatusHistory(
                payment_id=payment.id,
                from_status=payment.status,
                to_status=target.value,
                source=source,
                provider_event_id=provider_event_id,
                detail=detail,
                created_at=utcnow(),
            )
        )

    @staticmethod
    async def _keep_provider_object(
        session: AsyncSession, payment: Payment, snapshot: ProviderPayment
    ) -> None:
        await ProviderRecordRepository(session).upsert(
            provider=payment.payment_channel,
            object_type=snapshot.object_type,
            object_id=snapshot.reference,
            payment_id=payment.id,
            payload=snapshot.raw,
        )
