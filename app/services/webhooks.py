"""The webhook inbox: store each verified provider event once, then apply it.

A terminal snapshot (succeeded, canceled) is final at the provider too, so it is applied
as it stands. Any other snapshot may be overtaken by a newer event delivered earlier
(Stripe does not order its deliveries, and several events share one second), so it is
only a hint: the current object is fetched from the provider and that is applied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import transaction, utcnow
from app.core.ids import new_id
from app.models import Payment, Refund, WebhookEvent
from app.providers.base import (
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    RefundStatus,
    WebhookMalformed,
    WebhookSignatureMissing,
    WebhookVerificationFailed,
)
from app.providers.registry import ProviderRegistry
from app.repositories.payments import PaymentRepository
from app.repositories.refunds import RefundRepository
from app.repositories.webhook_events import WebhookEventRepository
from app.services.outbox import stage_refund_event
from app.services.payments import apply_provider_payment
from app.services.refunds import apply_provider_refund, lock_refund, move_refund
from app.services.transitions import Decision, is_terminal

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    IGNORED = "ignored"  # a backward move, refused by the transition table
    STALE = "stale"  # a newer read of the provider object was applied first
    UNKNOWN_PAYMENT = "unknown_payment"
    UNHANDLED_TYPE = "unhandled_type"
    DUPLICATE = "duplicate"


_DECISION_OUTCOME = {
    Decision.APPLY: Outcome.APPLIED,
    Decision.SAME: Outcome.UNCHANGED,
    Decision.STALE: Outcome.STALE,
    Decision.FORBIDDEN: Outcome.IGNORED,
}


class WebhookService:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], registry: ProviderRegistry
    ) -> None:
        self.sessionmaker = sessionmaker
        self.registry = registry

    def verify(self, provider_name: str, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        if not self.registry.has(provider_name):
            raise errors.WebhookNotConfigured()
        provider = self.registry.get(provider_name)
        try:
            return provider.parse_webhook(headers, body)
        except WebhookSignatureMissing as exc:
            raise errors.WebhookSignatureMissing(payment_channel=provider_name) from exc
        except WebhookVerificationFailed as exc:
            raise errors.WebhookSignatureInvalid(payment_channel=provider_name) from exc
        except WebhookMalformed as exc:
            raise errors.WebhookPayloadInvalid(payment_channel=provider_name) from exc

    async def handle(self, provider_name: str, event: ProviderEvent) -> Outcome:
        async with transaction(self.sessionmaker) as session:
            inbox = WebhookEventRepository(session)
            await inbox.insert_once(
                provider=provider_name,
                event_id=event.event_id,
                event_type=event.event_type,
                object_id=event.object_id,
                payload=event.raw,
                provider_created_at=event.created_at,
            )
            row = await inbox.get_for_update(provider_name, event.event_id)
            if row.processed_at is not None:
                return Outcome.DUPLICATE
            if event.refund is not None:
                outcome = await _apply_refund_event(session, provider_name, event.refund)
                return _finish(row, outcome)
            if event.payment is None:
                return _finish(row, Outcome.UNHANDLED_TYPE)
            payment = await _find_payment(session, provider_name, event.payment)
            if payment is None:
                logger.info("event for a payment we do not know", extra={"event": event.event_id})
                return _finish(row, Outcome.UNKNOWN_PAYMENT)
            row.payment_id = payment.id
            if is_terminal(event.payment.status) or payment.is_terminal:
                decision = await apply_provider_payment(
                    session, payment, event.payment, source="webhook",
                    provider_event_id=event.event_id,
                )  # fmt: skip
                return _finish(row, _DECISION_OUTCOME[decision])
            payment_id, reference = payment.id, event.payment.reference
            observed_at = await PaymentRepository(session).database_now()
        # Not final: fetch the current object outside the transaction and apply that.
        current = await self._retrieve(provider_name, reference)
        async with transaction(self.sessionmaker) as session:
            row = await WebhookEventRepository(session).get_for_update(
                provider_name, event.event_id
            )
            if row.processed_at is not None:
                return Outcome.DUPLICATE
            locked = await PaymentRepository(session).get(payment_id, for_update=True)
            assert locked is not None
            decision = await apply_provider_payment(
                session,
                locked,
                current,
                source="webhook",
                provider_event_id=event.event_id,
                observed_at=observed_at,
            )
            return _finish(row, _DECISION_OUTCOME[decision])

    async def _retrieve(self, provider_name: str, reference: str) -> ProviderPayment:
        try:
            return await self.registry.get(provider_name).retrieve_payment(reference)
        except (ProviderUnavailable, ProviderRejected) as exc:
            # The event stays in the inbox unprocessed; the provider's redelivery retries it.
            raise errors.ProviderUnavailableError(payment_channel=provider_name) from exc


async def _find_payment(
    session: AsyncSession, provider_name: str, snapshot: ProviderPayment
) -> Payment | None:
    repo = PaymentRepository(session)
    if snapshot.payment_id is not None:
        payment = await repo.get(snapshot.payment_id, for_update=True)
        if payment is not None and payment.payment_channel == provider_name:
            return payment
    return await repo.get_by_provider_reference(provider_name, snapshot.reference, for_update=True)


async def _apply_refund_event(
    session: AsyncSession, provider_name: str, snapshot: ProviderRefund
) -> Outcome:
    """Refund statuses only move forward (pending -> succeeded -> failed), so a snapshot
    can be applied as it stands: the transition table refuses a late, older one."""
    refunds = RefundRepository(session)
    refund = await refunds.get(snapshot.refund_id) if snapshot.refund_id else None
    if refund is None:
        refund = await refunds.get_by_provider_reference(snapshot.reference)
    if refund is None:
        return await _import_refund(session, provider_name, snapshot)
    refund, payment = await lock_refund(session, refund.id)
    return _DECISION_OUTCOME[apply_provider_refund(session, payment, refund, snapshot)]


async def _import_refund(
    session: AsyncSession, provider_name: str, snapshot: ProviderRefund
) -> Outcome:
    """A refund made at the provider directly (its dashboard) still counts against the cap."""
    if snapshot.payment_reference is None:
        return Outcome.UNKNOWN_PAYMENT
    payment = await PaymentRepository(session).get_by_provider_reference(
        provider_name, snapshot.payment_reference, for_update=True
    )
    if payment is None:
        return Outcome.UNKNOWN_PAYMENT
    remaining = payment.amount - payment.amount_refunded - payment.amount_refund_pending
    if snapshot.amount > remaining or snapshot.currency != payment.currency:
        logger.error("provider refund exceeds what we hold", extra={"payment_id": payment.id})
        return Outcome.IGNORED
    refund = Refund(
        id=new_id("rf"),
        payment_id=payment.id,
        amount=snapshot.amount,
        currency=snapshot.currency,
        reason=None,
        status=RefundStatus.PENDING.value,
        provider_reference=snapshot.reference,
    )
    RefundRepository(session).add(refund)
    payment.amount_refund_pending += refund.amount
    stage_refund_event(session, refund)
    move_refund(session, payment, refund, snapshot.status)
    return Outcome.APPLIED


def _finish(row: WebhookEvent, outcome: Outcome) -> Outcome:
    row.processed_at = utcnow()
    row.outcome = outcome.value
    return outcome
