"""Refunds: never more than was captured, whatever arrives at the same time.

The amount is reserved on the payment under its row lock before the provider is called
(outside any transaction); a rejection releases it, a success moves it to refunded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import transaction
from app.core.ids import derived_id, new_id
from app.models import Payment, Refund
from app.providers.base import (
    CreateRefund,
    PaymentStatus,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    RefundStatus,
)
from app.providers.registry import ProviderRegistry
from app.repositories.payments import PaymentRepository
from app.repositories.refunds import RefundRepository
from app.services.outbox import stage_refund_event
from app.services.payments import provider_error
from app.services.transitions import Decision, decide_refund

logger = logging.getLogger(__name__)

STRIPE_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def refund_key(refund_id: str) -> str:
    return f"{refund_id}:create"


def refund_status_of(payment: Payment) -> str:
    if payment.amount_refunded == 0:
        return "none"
    return "full" if payment.amount_refunded >= payment.amount else "partial"


def move_refund(
    session: AsyncSession, payment: Payment, refund: Refund, target: RefundStatus
) -> Decision:
    """The only place a refund's status and the payment's refunded amounts change."""
    decision = decide_refund(RefundStatus(refund.status), target)
    if decision is not Decision.APPLY:
        return decision
    current = RefundStatus(refund.status)
    if current is RefundStatus.PENDING:
        payment.amount_refund_pending -= refund.amount
    elif current is RefundStatus.SUCCEEDED:
        payment.amount_refunded -= refund.amount
    if target is RefundStatus.SUCCEEDED:
        payment.amount_refunded += refund.amount
    refund.status = target.value
    payment.refund_status = refund_status_of(payment)
    stage_refund_event(session, refund)
    return decision


def apply_provider_refund(
    session: AsyncSession, payment: Payment, refund: Refund, snapshot: ProviderRefund
) -> Decision:
    if snapshot.amount != refund.amount or snapshot.currency != refund.currency:
        logger.error("provider refund disagrees on amount", extra={"refund_id": refund.id})
        return Decision.FORBIDDEN
    if refund.provider_reference is None:
        refund.provider_reference = snapshot.reference
    decision = move_refund(session, payment, refund, snapshot.status)
    if decision is Decision.APPLY and snapshot.failure_reason:
        refund.failure_reason = snapshot.failure_reason
    return decision


class RefundService:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], registry: ProviderRegistry
    ) -> None:
        self.sessionmaker = sessionmaker
        self.registry = registry

    async def get(self, refund_id: str) -> Refund:
        async with self.sessionmaker() as session:
            refund = await RefundRepository(session).get(refund_id)
        if refund is None:
            raise errors.RefundNotFound(f"No refund {refund_id!r}")
        return refund

    async def list_for_payment(self, payment_id: str) -> Sequence[Refund]:
        async with self.sessionmaker() as session:
            if await PaymentRepository(session).get(payment_id) is None:
                raise errors.PaymentNotFound(f"No payment {payment_id!r}")
            return await RefundRepository(session).list_for_payment(payment_id)

    async def create(
        self,
        payment_id: str,
        *,
        amount: int | None,
        reason: str | None,
        request_key: tuple[str, str] | None = None,
    ) -> Refund:
        """`request_key` (caller, Idempotency-Key): a retry resumes the same refund."""
        refund_id = derived_id("rf", payment_id, *request_key) if request_key else new_id("rf")
        refund, payment = await self._reserve(refund_id, payment_id, amount, reason)
        if refund.provider_reference is not None or refund.status != RefundStatus.PENDING:
            return refund
        return await self._refund_at_provider(refund, payment)

    async def _load(self, refund_id: str) -> tuple[Refund, Payment]:
        async with self.sessionmaker() as session:
            refund = await RefundRepository(session).get(refund_id)
            if refund is None:
                raise errors.RefundNotFound(f"No refund {refund_id!r}")
            payment = await PaymentRepository(session).get(refund.payment_id)
            assert payment is not None
            return refund, payment

    async def resume(self, refund_id: str) -> Refund:
        """Finish a refund whose provider answer never arrived: the call is repeated under
        the same `refund_key`, so the provider returns the refund it made, not a second one."""
        refund, payment = await self._load(refund_id)
        if refund.provider_reference is not None or refund.status != RefundStatus.PENDING:
            return refund
        return await self._refund_at_provider(refund, payment)

    async def sync(self, refund_id: str) -> Refund:
        """Pull a refund's state from the provider and apply it (a dropped webhook)."""
        refund, payment = await self._load(refund_id)
        if refund.provider_reference is None:
            return refund
        provider = self.registry.get(payment.payment_channel)
        try:
            result = await provider.retrieve_refund(refund.provider_reference)
        except (ProviderUnavailable, ProviderRejected) as exc:
            raise provider_error(exc, payment.payment_channel) from exc
        return await self.apply(refund.id, result)

    async def _refund_at_provider(self, refund: Refund, payment: Payment) -> Refund:
        provider = self.registry.get(payment.payment_channel)
        assert payment.provider_reference is not None
        try:
            result = await provider.refund(
                CreateRefund(
                    refund_id=refund.id,
                    payment_reference=payment.provider_reference,
                    amount=refund.amount,
                    currency=refund.currency,
                    reason=refund.reason,
                ),
                idempotency_key=refund_key(refund.id),
            )
        except ProviderUnavailable as exc:
            # The reservation stays: the outcome is unknown. A retry with the same
            # Idempotency-Key (or the janitor) repeats the call under the same provider key.
            raise provider_error(exc, payment.payment_channel) from exc
        except ProviderRejected as exc:
            await self._reject(refund.id, exc)
            raise _refund_rejection(exc, payment.payment_channel) from exc
        return await self.apply(refund.id, result)

    async def _reserve(
        self, refund_id: str, payment_id: str, amount: int | None, reason: str | None
    ) -> tuple[Refund, Payment]:
        async with transaction(self.sessionmaker) as session:
            payment = await PaymentRepository(session).get(payment_id, for_update=True)
            if payment is None:
                raise errors.PaymentNotFound(f"No payment {payment_id!r}")
            refunds = RefundRepository(session)
            existing = await refunds.get(refund_id)
            if existing is not None:
                return existing, payment
            if payment.status != PaymentStatus.SUCCEEDED:
                raise errors.PaymentNotRefundable(
                    f"The payment is {payment.status}", payment_channel=payment.payment_channel
                )
            remaining = payment.amount - payment.amount_refunded - payment.amount_refund_pending
            wanted = remaining if amount is None else amount
            if wanted > remaining or wanted <= 0:
                raise errors.RefundExceedsCaptured(
                    f"{remaining} of {payment.amount} {payment.currency} remains refundable",
                    payment_channel=payment.payment_channel,
                    extra={"amount_refundable": remaining},
                )
            refund = Refund(
                id=refund_id,
                payment_id=payment.id,
                amount=wanted,
                currency=payment.currency,
                reason=reason,
                status=RefundStatus.PENDING.value,
            )
            refunds.add(refund)
            payment.amount_refund_pending += wanted
            stage_refund_event(session, refund)
            return refund, payment

    async def _reject(self, refund_id: str, exc: ProviderRejected) -> None:
        async with transaction(self.sessionmaker) as session:
            refund, payment = await lock_refund(session, refund_id)
            refund.failure_reason = exc.code or exc.message
            move_refund(session, payment, refund, RefundStatus.FAILED)

    async def apply(self, refund_id: str, snapshot: ProviderRefund) -> Refund:
        async with transaction(self.sessionmaker) as session:
            refund, payment = await lock_refund(session, refund_id)
            apply_provider_refund(session, payment, refund, snapshot)
            return refund


async def lock_refund(session: AsyncSession, refund_id: str) -> tuple[Refund, Payment]:
    """Payment first, then refund: the same lock order as a new refund's reservation."""
    refund = await RefundRepository(session).get(refund_id)
    assert refund is not None
    payment = await PaymentRepository(session).get(refund.payment_id, for_update=True)
    assert payment is not None
    await session.refresh(refund, with_for_update=True)
    return refund, payment


def _refund_rejection(exc: ProviderRejected, channel: str) -> errors.AppError:
    if exc.code in ("charge_already_refunded", "amount_too_large"):
        return errors.RefundExceedsCaptured(exc.message, payment_channel=channel)
    return provider_error(exc, channel)
