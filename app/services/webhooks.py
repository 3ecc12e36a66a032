"""The webhook inbox: store each verified provider event once, then apply it.

A terminal snapshot (succeeded, canceled) is final at the provider too, so it is applied
as it stands; so are refund and dispute snapshots, which carry their own order. Any other
payment snapshot may be overtaken by a newer event delivered earlier (providers do not
order their deliveries, and several events share one second), so it is only a hint: the
current object is fetched from the provider and that is applied. An event whose provider
read fails stays in the inbox unprocessed; the janitor handles it again later, as does
the provider's own redelivery, whichever comes first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import transaction, utcnow
from app.models import Payment, WebhookEvent
from app.providers.base import (
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    WebhookMalformed,
    WebhookSignatureMissing,
    WebhookVerificationFailed,
)
from app.providers.registry import ProviderRegistry
from app.repositories.payments import PaymentRepository
from app.repositories.refunds import RefundRepository
from app.repositories.webhook_events import WebhookEventRepository
from app.services.payment_updates import PaymentUpdater
from app.services.refunds import apply_provider_refund, import_provider_refund, lock_refund
from app.services.transitions import Decision, is_terminal

logger = logging.getLogger(__name__)

# The janitor's first retry of an event this process could not handle, doubling after.
INBOX_RETRY_BASE = timedelta(seconds=30)
# A read that began before the last applied one is read again, this many times at most.
_REREADS = 3


class Outcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    IGNORED = "ignored"  # a backward move, refused by the transition table
    STALE = "stale"  # a newer read of the provider object was applied first
    FLAGGED = "flagged"  # the provider object contradicts itself; left for an operator
    UNKNOWN_PAYMENT = "unknown_payment"
    UNHANDLED_TYPE = "unhandled_type"
    DUPLICATE = "duplicate"
    OTHER_MODE = "livemode_mismatch"  # a test event in a live deployment, or the reverse


_DECISION_OUTCOME = {
    Decision.APPLY: Outcome.APPLIED,
    Decision.SAME: Outcome.UNCHANGED,
    Decision.STALE: Outcome.STALE,
    Decision.FORBIDDEN: Outcome.IGNORED,
    Decision.FLAGGED: Outcome.FLAGGED,
}


@dataclass(frozen=True, slots=True)
class _ReadPayment:
    """The event is a hint: read this payment's provider object and apply it."""

    payment_id: str
    reference: str


@dataclass(frozen=True, slots=True)
class _ReadRefunds:
    """The event says a payment's refunds changed: read them all and apply each."""

    payment_id: str
    reference: str


_Read = _ReadPayment | _ReadRefunds
# What a read brought back, with the database clock read before the call: the read's
# place in the order of reads.
_Fetched = tuple[ProviderPayment | Sequence[ProviderRefund], datetime]


class WebhookService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        updater: PaymentUpdater,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.updater = updater

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
        other_mode = event.livemode != self.registry.get(provider_name).livemode
        async with transaction(self.sessionmaker) as session:
            inbox = WebhookEventRepository(session)
            await inbox.insert_once(
                provider=provider_name,
                event_id=event.event_id,
                event_type=event.event_type,
                object_id=event.object_id,
                payload=event.raw,
                provider_created_at=event.created_at,
                retry_in=INBOX_RETRY_BASE,
            )
            if other_mode:
                # A test-mode event reaching a live deployment (or the reverse): kept for
                # the record and acknowledged, so the provider stops sending it; never applied.
                row = await inbox.get_for_update(provider_name, event.event_id)
                if row.processed_at is not None:
                    return Outcome.DUPLICATE
                return _finish(row, Outcome.OTHER_MODE)
        return await self._process(provider_name, event)

    async def retry(self, row: WebhookEvent) -> Outcome:
        """Handle an event the inbox kept unprocessed, from its stored (verified) payload."""
        event = self.registry.get(row.provider).parse_event(row.payload)
        return await self._process(row.provider, event)

    async def postpone(self, row: WebhookEvent) -> None:
        async with transaction(self.sessionmaker) as session:
            await WebhookEventRepository(session).postpone(
                row.provider, row.event_id, base=INBOX_RETRY_BASE
            )

    async def _process(self, provider_name: str, event: ProviderEvent) -> Outcome:
        async with transaction(self.sessionmaker) as session:
            row = await WebhookEventRepository(session).get_for_update(
                provider_name, event.event_id
            )
            if row.processed_at is not None:
                return Outcome.DUPLICATE
            planned = await self._apply_snapshot(session, provider_name, event, row)
            if isinstance(planned, Outcome):
                return _finish(row, planned)
        for _ in range(_REREADS):
            fetched = await self._read(provider_name, event, planned)
            async with transaction(self.sessionmaker) as session:
                row = await WebhookEventRepository(session).get_for_update(
                    provider_name, event.event_id
                )
                if row.processed_at is not None:
                    return Outcome.DUPLICATE
                outcome = await self._apply_read(session, provider_name, event, planned, fetched)
                if outcome is not Outcome.STALE or _final(fetched):
                    return _finish(row, outcome)
        # Every read was overtaken by a newer one, which was applied: nothing is lost.
        async with transaction(self.sessionmaker) as session:
            row = await WebhookEventRepository(session).get_for_update(
                provider_name, event.event_id
            )
            return _finish(row, Outcome.STALE)

    async def _apply_snapshot(
        self, session: AsyncSession, provider_name: str, event: ProviderEvent, row: WebhookEvent
    ) -> Outcome | _Read:
        """Apply what the event carries, or say what must be read from the provider first."""
        if event.refund is not None:
            return await self._apply_refund(session, provider_name, event.refund, row)
        if event.dispute is not None:
            payment = await PaymentRepository(session).get_by_provider_reference(
                provider_name, event.dispute.payment_reference, for_update=True
            )
            if payment is None:
                return Outcome.UNKNOWN_PAYMENT
            row.payment_id = payment.id
            decision = await self.updater.apply_dispute(
                session, payment, event.dispute, event.created_at
            )
            return _DECISION_OUTCOME[decision]
        if event.refunds_of is not None:
            payment = await PaymentRepository(session).get_by_provider_reference(
                provider_name, event.refunds_of
            )
            if payment is None:
                return Outcome.UNKNOWN_PAYMENT
            row.payment_id = payment.id
            return _ReadRefunds(payment.id, event.refunds_of)
        if event.payment is None:
            return Outcome.UNHANDLED_TYPE
        payment = await _find_payment(session, provider_name, event.payment)
        if payment is None:
            logger.info("event for a payment we do not know", extra={"event": event.event_id})
            return Outcome.UNKNOWN_PAYMENT
        row.payment_id = payment.id
        if event.believed and (is_terminal(event.payment.status) or payment.is_terminal):
            decision = await self.updater.apply(
                session, payment, event.payment, source="webhook",
                provider_event_id=event.event_id,
            )  # fmt: skip
            return _DECISION_OUTCOME[decision]
        return _ReadPayment(payment.id, event.payment.reference)

    async def _read(self, provider_name: str, event: ProviderEvent, planned: _Read) -> _Fetched:
        """Outside any transaction: the provider's current word."""
        async with self.sessionmaker() as session:
            observed_at = await PaymentRepository(session).database_now()
        provider = self.registry.get(provider_name)
        try:
            if isinstance(planned, _ReadPayment):
                return await provider.retrieve_payment(planned.reference), observed_at
            return await provider.list_refunds(planned.reference), observed_at
        except (ProviderUnavailable, ProviderRejected) as exc:
            async with transaction(self.sessionmaker) as session:
                await WebhookEventRepository(session).postpone(
                    provider_name, event.event_id, base=INBOX_RETRY_BASE
                )
            raise errors.ProviderUnavailableError(payment_channel=provider_name) from exc

    async def _apply_read(
        self,
        session: AsyncSession,
        provider_name: str,
        event: ProviderEvent,
        planned: _Read,
        fetched: _Fetched,
    ) -> Outcome:
        current, observed_at = fetched
        payment = await PaymentRepository(session).get(planned.payment_id, for_update=True)
        assert payment is not None
        if isinstance(current, ProviderPayment):
            decision = await self.updater.apply(
                session,
                payment,
                current,
                source="webhook",
                provider_event_id=event.event_id,
                observed_at=observed_at,
            )
            return _DECISION_OUTCOME[decision]
        outcomes = [await _apply_refund_to(session, payment, refund) for refund in current]
        return _DECISION_OUTCOME[Decision.APPLY if Decision.APPLY in outcomes else Decision.SAME]

    async def _apply_refund(
        self,
        session: AsyncSession,
        provider_name: str,
        snapshot: ProviderRefund,
        row: WebhookEvent,
    ) -> Outcome:
        """Refund statuses only move forward (pending -> succeeded -> failed), so a snapshot
        can be applied as it stands: the transition table refuses a late, older one."""
        refunds = RefundRepository(session)
        if snapshot.refund_id is not None and await refunds.payment_id_of(snapshot.refund_id):
            refund, payment = await lock_refund(session, snapshot.refund_id)
            row.payment_id = payment.id
            return _DECISION_OUTCOME[apply_provider_refund(session, payment, refund, snapshot)]
        if snapshot.payment_reference is None:
            return Outcome.UNKNOWN_PAYMENT
        paid = await PaymentRepository(session).get_by_provider_reference(
            provider_name, snapshot.payment_reference, for_update=True
        )
        if paid is None:
            return Outcome.UNKNOWN_PAYMENT
        row.payment_id = paid.id
        return _DECISION_OUTCOME[await _apply_refund_to(session, paid, snapshot)]


async def _apply_refund_to(
    session: AsyncSession, payment: Payment, snapshot: ProviderRefund
) -> Decision:
    """One provider refund of a locked payment: ours (by its metadata), or one made at
    the provider directly, which is recorded as it is."""
    if snapshot.refund_id is not None:
        refund = await RefundRepository(session).get(snapshot.refund_id, for_update=True)
        if refund is not None and refund.payment_id == payment.id:
            return apply_provider_refund(session, payment, refund, snapshot)
    return await import_provider_refund(session, payment, snapshot)


async def _find_payment(
    session: AsyncSession, provider_name: str, snapshot: ProviderPayment
) -> Payment | None:
    repo = PaymentRepository(session)
    if snapshot.payment_id is not None:
        payment = await repo.get(snapshot.payment_id, for_update=True)
        if payment is not None and payment.payment_channel == provider_name:
            return payment
    return await repo.get_by_provider_reference(provider_name, snapshot.reference, for_update=True)


def _final(fetched: _Fetched) -> bool:
    current = fetched[0]
    return not isinstance(current, ProviderPayment) or is_terminal(current.status)


def _finish(row: WebhookEvent, outcome: Outcome) -> Outcome:
    row.processed_at = utcnow()
    row.outcome = outcome.value
    return outcome
