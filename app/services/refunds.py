"""Refunds: never more than was captured, whatever arrives at the same time.

The amount is reserved on the payment under its row lock before the provider is called
(outside any transaction); a rejection releases it, a success moves it to refunded.
A refund's id and its provider key come from the operation (the payment and the caller's
Idempotency-Key), never from the caller's credential, so a retry under a rotated API key
resumes the refund it started.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import transaction, utcnow
from app.core.ids import derived_id, new_id
from app.core.statuses import PaymentStatus, RefundState, RefundStatus
from app.models import Payment, Refund
from app.providers.base import (
    AmountOutOfRange,
    CreateRefund,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
)
from app.providers.registry import ProviderRegistry
from app.repositories.payments import PaymentRepository
from app.repositories.refunds import RefundRepository
from app.services.events import stage_refund_event
from app.services.provider_errors import amount_error, provider_error
from app.services.transitions import Decision, decide_refund

logger = logging.getLogger(__name__)

DUPLICATE_REASON = "duplicate"


def refund_key(refund_id: str) -> str:
    return f"{refund_id}:create"


def request_refund_id(payment_id: str, idempotency_key: str) -> str:
    """The refund a request with this Idempotency-Key makes, whoever sends it."""
    return derived_id("rf", payment_id, "request", idempotency_key)


def duplicate_refund_id(payment_id: str) -> str:
    return derived_id("rf", payment_id, DUPLICATE_REASON)


def request_fingerprint(amount: int | None, reason: str | None) -> str:
    canonical = json.dumps({"amount": amount, "reason": reason}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def refund_state_of(payment: Payment) -> str:
    if payment.amount_refunded == 0:
        return RefundState.NONE.value
    full = payment.amount_refunded >= payment.amount
    return (RefundState.FULL if full else RefundState.PARTIAL).value


def reserve(session: AsyncSession, payment: Payment, refund: Refund) -> None:
    """Count a new pending refund against the payment and announce it.

    A refund made at the provider directly (its dashboard) may not fit beside our own
    pending ones: the provider refunded it, so it is recorded as it is, and the room it
    took from our reservations is marked overbooked (the provider will refuse that much
    of them). The payment's CHECK holds either way."""
    room = payment.amount_refundable
    payment.amount_refund_pending += refund.amount
    if refund.amount > room:
        payment.amount_refund_overbooked += refund.amount - room
    payment.updated_at = utcnow()
    stage_refund_event(session, refund)


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
        payment.amount_refund_overbooked = min(
            payment.amount_refund_overbooked, payment.amount_refund_pending
        )
    elif current is RefundStatus.SUCCEEDED:
        payment.amount_refunded -= refund.amount
    if target is RefundStatus.SUCCEEDED:
        payment.amount_refunded += refund.amount
    now = utcnow()
    refund.status = target.value
    refund.updated_at = now
    payment.refund_status = refund_state_of(payment)
    payment.updated_at = now
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
    if (
        snapshot.failure_reason
        and decide_refund(RefundStatus(refund.status), snapshot.status) is Decision.APPLY
    ):
        refund.failure_reason = snapshot.failure_reason
    return move_refund(session, payment, refund, snapshot.status)


async def reserve_duplicate_refund(session: AsyncSession, payment: Payment) -> str | None:
    """Everything that remains of a duplicate payment, once: its id is derived from the
    payment, so a second attempt finds the first."""
    amount = payment.amount_refundable
    if amount <= 0:
        return None
    now = utcnow()
    refund = Refund(
        id=duplicate_refund_id(payment.id),
        payment_id=payment.id,
        amount=amount,
        currency=payment.currency,
        reason=DUPLICATE_REASON,
        status=RefundStatus.PENDING.value,
        created_at=now,
        updated_at=now,
    )
    if not await RefundRepository(session).insert_if_absent(refund):
        return None
    reserve(session, payment, refund)
    return refund.id


async def import_provider_refund(
    session: AsyncSession, payment: Payment, snapshot: ProviderRefund
) -> Decision:
    """A refund made at the provider directly still counts: recorded as the provider
    says, however it fits. `payment` is locked."""
    repository = RefundRepository(session)
    existing = await repository.get_by_provider_reference(snapshot.reference, for_update=True)
    if existing is not None:
        return apply_provider_refund(session, payment, existing, snapshot)
    if snapshot.currency != payment.currency:
        logger.error(
            "provider refund in another currency; not recorded",
            extra={"payment_id": payment.id, "reference": snapshot.reference},
        )
        return Decision.FORBIDDEN
    now = utcnow()
    refund = Refund(
        id=new_id("rf"),
        payment_id=payment.id,
        amount=snapshot.amount,
        currency=snapshot.currency,
        reason=None,
        status=RefundStatus.PENDING.value,
        provider_reference=snapshot.reference,
        failure_reason=snapshot.failure_reason,
        created_at=now,
        updated_at=now,
    )
    if not await repository.insert_if_absent(refund):
        # Another transaction recorded it between our read and our insert.
        existing = await repository.get_by_provider_reference(snapshot.reference, for_update=True)
        assert existing is not None
        return apply_provider_refund(session, payment, existing, snapshot)
    if refund.amount > payment.amount_refundable:
        logger.warning(
            "a refund made at the provider exceeds what our records hold refundable",
            extra={"payment_id": payment.id, "refund_id": refund.id},
        )
    reserve(session, payment, refund)
    move_refund(session, payment, refund, snapshot.status)
    return Decision.APPLY


async def lock_refund(session: AsyncSession, refund_id: str) -> tuple[Refund, Payment]:
    """Payment first, then refund: the same lock order as a new refund's reservation."""
    payment_id = await RefundRepository(session).payment_id_of(refund_id)
    if payment_id is None:
        raise errors.RefundNotFound(f"No refund {refund_id!r}")
    payment = await PaymentRepository(session).get(payment_id, for_update=True)
    refund = await RefundRepository(session).get(refund_id, for_update=True)
    assert payment is not None
    assert refund is not None
    return refund, payment


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
        request_key: str | None = None,
    ) -> Refund:
        """`request_key` (the caller's Idempotency-Key): a retry resumes the same refund,
        and the same key with another amount or reason is refused, for good."""
        refund_id = request_refund_id(payment_id, request_key) if request_key else new_id("rf")
        fingerprint = request_fingerprint(amount, reason) if request_key else None
        refund, payment = await self._reserve(
            refund_id, payment_id, amount, reason, request_key, fingerprint
        )
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
        """Finish a refund whose provider answer never arrived (or that was reserved by
        a change that could not call the provider itself): the call is repeated under the
        same `refund_key`, so the provider returns the refund it made, not a second one."""
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
            assert payment.provider_reference is not None
            result = await provider.retrieve_refund(
                refund.provider_reference, payment.provider_reference
            )
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
        self,
        refund_id: str,
        payment_id: str,
        amount: int | None,
        reason: str | None,
        request_key: str | None,
        fingerprint: str | None,
    ) -> tuple[Refund, Payment]:
        async with transaction(self.sessionmaker) as session:
            payment = await PaymentRepository(session).get(payment_id, for_update=True)
            if payment is None:
                raise errors.PaymentNotFound(f"No payment {payment_id!r}")
            refunds = RefundRepository(session)
            existing = await refunds.get(refund_id)
            if existing is not None:
                if existing.request_fingerprint != fingerprint:
                    raise errors.IdempotencyKeyReused(
                        f"The Idempotency-Key {request_key!r} made refund {existing.id} of "
                        f"{existing.amount} {existing.currency}; use a new key for a new refund",
                        payment_channel=payment.payment_channel,
                    )
                return existing, payment
            if payment.status != PaymentStatus.SUCCEEDED:
                raise errors.PaymentNotRefundable(
                    f"The payment is {payment.status}", payment_channel=payment.payment_channel
                )
            remaining = payment.amount_refundable
            wanted = remaining if amount is None else amount
            if wanted > remaining or wanted <= 0:
                raise errors.RefundExceedsCaptured(
                    f"{remaining} of {payment.amount} {payment.currency} remains refundable",
                    payment_channel=payment.payment_channel,
                    extra={"amount_refundable": remaining},
                )
            try:
                self.registry.get(payment.payment_channel).check_amount(
                    wanted, payment.currency, refund=True
                )
            except AmountOutOfRange as exc:
                raise amount_error(exc, payment.payment_channel) from None
            now = utcnow()
            refund = Refund(
                id=refund_id,
                payment_id=payment.id,
                amount=wanted,
                currency=payment.currency,
                reason=reason,
                status=RefundStatus.PENDING.value,
                request_key=request_key,
                request_fingerprint=fingerprint,
                created_at=now,
                updated_at=now,
            )
            refunds.add(refund)
            reserve(session, payment, refund)
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


def _refund_rejection(exc: ProviderRejected, channel: str) -> errors.AppError:
    if exc.code in ("charge_already_refunded", "amount_too_large"):
        return errors.RefundExceedsCaptured(exc.message, payment_channel=channel)
    return provider_error(exc, channel)
