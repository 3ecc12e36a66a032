"""Payment use cases. Each owns its transactions; provider calls happen between them, never inside.

The shape of every write: commit the intent, call the provider with a deterministic
idempotency key, then apply the answer in a second transaction. A crash in between leaves
a row that a repeated request (or the janitor) completes with the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import transaction
from app.core.ids import new_client_token, new_id
from app.models import Payment, PaymentStatusHistory
from app.providers.base import (
    CreatePayment,
    PaymentStatus,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
)
from app.providers.registry import Channel, ProviderRegistry, UnknownChannel, parse_channel
from app.repositories.payments import PaymentRepository, PaymentStatusHistoryRepository
from app.repositories.provider_records import ProviderRecordRepository
from app.schemas.payments import PaymentCreate
from app.services.outbox import PAYMENT_EVENT_TYPES, stage_payment_event
from app.services.transitions import Decision, decide

logger = logging.getLogger(__name__)

# Replacing an order's payment can race another request for the same order; a few
# rounds settle it, and a loser past that gets a retryable 409.
_CREATE_ROUNDS = 3


def create_key(payment_id: str) -> str:
    return f"{payment_id}:create"


def cancel_key(payment_id: str) -> str:
    return f"{payment_id}:cancel"


@dataclass(frozen=True, slots=True)
class CreateResult:
    payment: Payment
    created: bool


def provider_error(exc: ProviderUnavailable | ProviderRejected, channel: str) -> errors.AppError:
    """Provider errors stay apart from API errors until this boundary."""
    if isinstance(exc, ProviderUnavailable):
        return errors.ProviderUnavailableError(payment_channel=channel)
    extra = {"provider_code": exc.code} if exc.code else {}
    if exc.code == "card_declined" or exc.decline_code:
        return errors.CardDeclined(
            exc.message, payment_channel=channel, extra={**extra, "decline_code": exc.decline_code}
        )
    if exc.http_status == 409:
        return errors.ConcurrentUpdate(payment_channel=channel)
    return errors.ProviderRejectedError(exc.message, payment_channel=channel, extra=extra)


class PaymentService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        default_channel: str,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.default_channel = default_channel

    # -- reads -------------------------------------------------------------------------

    async def get(self, payment_id: str) -> Payment:
        async with self.sessionmaker() as session:
            payment = await PaymentRepository(session).get(payment_id)
        if payment is None:
            raise errors.PaymentNotFound(f"No payment {payment_id!r}")
        return payment

    async def list(
        self, *, order_id: str | None, status: str | None, limit: int, starting_after: str | None
    ) -> tuple[Sequence[Payment], bool]:
        async with self.sessionmaker() as session:
            rows = await PaymentRepository(session).list(
                order_id=order_id, status=status, limit=limit + 1, starting_after=starting_after
            )
        return rows[:limit], len(rows) > limit

    async def detail(
        self, payment_id: str, *, refresh: bool
    ) -> tuple[Payment, dict[str, Any] | None, bool, Sequence[PaymentStatusHistory]]:
        payment = await self.get(payment_id)
        refreshed = False
        if refresh and payment.provider_reference is not None:
            payment = await self.sync(payment_id)
            refreshed = True
        async with self.sessionmaker() as session:
            record = (
                await ProviderRecordRepository(session).get(
                    payment.payment_channel, payment.provider_reference
                )
                if payment.provider_reference
                else None
            )
            history = await PaymentStatusHistoryRepository(session).list_for_payment(payment_id)
        return payment, (dict(record.payload) if record else None), refreshed, history

    # -- create ------------------------------------------------------------------------

    def resolve_channel(self, requested: str | None) -> Channel:
        name = requested or self.default_channel
        try:
            channel = parse_channel(name)
        except UnknownChannel:
            raise errors.UnknownPaymentChannel(
                f"{name!r} is not a payment channel", payment_channel=name
            ) from None
        if not self.registry.is_enabled(channel):
            raise errors.PaymentChannelNotEnabled(
                f"{channel.name!r} is not enabled on this service", payment_channel=channel.name
            )
        return channel

    async def create(self, request: PaymentCreate) -> CreateResult:
        channel = self.resolve_channel(request.payment_channel)
        for _ in range(_CREATE_ROUNDS):
            async with transaction(self.sessionmaker) as session:
                repo = PaymentRepository(session)
                open_payment = await repo.get_open_for_order(request.order_id, for_update=True)
                if open_payment is None:
                    payment = await self._insert(session, request, channel)
                    created = True
                else:
                    payment, created = open_payment, False
                # Read before any provider call below; see apply_provider_payment.
                observed_at = await repo.database_now()
            if payment is None:
                continue  # another request opened a payment for this order first
            if not created and not _same_request(payment, request, channel):
                if payment.status == PaymentStatus.PROCESSING:
                    raise errors.PaymentProcessing(
                        f"Payment {payment.id} for this order is processing",
                        payment_channel=payment.payment_channel,
                    )
                # The order changed (a coupon, another channel): close the old one first.
                await self._cancel(payment, observed_at)
                continue
            if payment.provider_reference is None:
                payment = await self._create_at_provider(payment, observed_at)
            return CreateResult(payment, created)
        raise errors.ConcurrentUpdate(payment_channel=channel.provider)

    async def _insert(
        self, session: AsyncSession, request: PaymentCreate, channel: Channel
    ) -> Payment | None:
        payment = Payment(
            id=new_id("pay"),
            order_id=request.order_id,
            amount=request.amount,
            currency=request.currency,
            payment_channel=channel.provider,
            method=channel.method,
            status=PaymentStatus.REQUIRES_PAYMENT_METHOD.value,
            amount_refunded=0,
            refund_status="none",
            description=request.description,
            customer_email=request.customer_email,
            metadata_=dict(request.metadata),
            livemode=False,
            return_url=request.return_url,
            payment_payload={},
            client_token=new_client_token(),
        )
        try:
            async with session.begin_nested():
                session.add(payment)
                await session.flush()
        except IntegrityError:
            return None
        PaymentStatusHistoryRepository(session).record(
            PaymentStatusHistory(
                payment_id=payment.id,
                from_status=None,
                to_status=payment.status,
                source="api",
            )
        )
        stage_payment_event(session, "payment.created", payment)
        return payment

    async def _create_at_provider(self, payment: Payment, observed_at: datetime) -> Payment:
        provider = self.registry.get(payment.payment_channel)
        try:
            result = await provider.create_payment(
                CreatePayment(
                    payment_id=payment.id,
                    order_id=payment.order_id,
                    amount=payment.amount,
                    currency=payment.currency,
                    method=payment.method,
                    description=payment.description,
                    customer_email=payment.customer_email,
                    metadata=payment.metadata_,
                    return_url=payment.return_url,
                ),
                idempotency_key=create_key(payment.id),
            )
        except ProviderUnavailable as exc:
            # The payment stays open without a provider object; asking again with the same
            # order repeats the call under the same key, so Stripe returns the same object.
            logger.warning("provider unavailable on create", extra={"payment_id": payment.id})
            raise provider_error(exc, payment.payment_channel) from exc
        except ProviderRejected as exc:
            await self._fail_creation(payment.id, exc)
            raise provider_error(exc, payment.payment_channel) from exc
        if result.amount != payment.amount or result.currency != payment.currency:
            # Never store money the provider did not echo back exactly.
            await self._fail_creation(
                payment.id,
                ProviderRejected(
                    "provider echoed a different amount or currency",
                    provider=payment.payment_channel,
                    code="amount_mismatch",
                ),
            )
            raise errors.ProviderRejectedError(
                "The provider echoed a different amount or currency",
                payment_channel=payment.payment_channel,
            )
        async with transaction(self.sessionmaker) as session:
            locked = await PaymentRepository(session).get(payment.id, for_update=True)
            assert locked is not None
            await apply_provider_payment(
                session, locked, result, source="api", observed_at=observed_at
            )
        if locked.status == PaymentStatus.CANCELED and result.status != PaymentStatus.CANCELED:
            # Canceled here while the create was in flight: close the provider object too.
            await self._cancel(locked, await self._database_now())
        return locked

    async def resume_create(self, payment_id: str) -> Payment:
        """Finish a create whose provider answer never arrived (a crash, a lost response).

        The call is repeated under the same `create_key`, so the provider returns the object
        the first call made instead of opening a second one.
        """
        payment, observed_at = await self._get_observed(payment_id)
        if payment.provider_reference is not None or payment.is_terminal:
            return payment
        return await self._create_at_provider(payment, observed_at)

    async def _fail_creation(self, payment_id: str, exc: ProviderRejected) -> None:
        async with transaction(self.sessionmaker) as session:
            payment = await PaymentRepository(session).get(payment_id, for_update=True)
            assert payment is not None
            payment.last_error = {
                "code": exc.code,
                "message": exc.message,
                "decline_code": exc.decline_code,
            }
            move_status(session, payment, PaymentStatus.FAILED, source="api")

    # -- cancel / sync -----------------------------------------------------------------

    async def cancel(self, payment_id: str) -> Payment:
        payment, observed_at = await self._get_observed(payment_id)
        if payment.status == PaymentStatus.CANCELED:
            return payment
        if payment.status == PaymentStatus.SUCCEEDED:
            raise errors.PaymentAlreadySucceeded(payment_channel=payment.payment_channel)
        if payment.is_terminal or payment.status == PaymentStatus.PROCESSING:
            raise errors.PaymentNotCancelable(
                f"A {payment.status} payment cannot be canceled",
                payment_channel=payment.payment_channel,
            )
        return await self._cancel(payment, observed_at)

    async def _cancel(self, payment: Payment, observed_at: datetime) -> Payment:
        if payment.provider_reference is None:
            # Nothing at the provider yet; a create still in flight finds the payment closed.
            return await self._apply(payment.id, None, source="api", target=PaymentStatus.CANCELED)
        provider = self.registry.get(payment.payment_channel)
        try:
            result = await provider.cancel_payment(
                payment.provider_reference, idempotency_key=cancel_key(payment.id)
            )
        except ProviderUnavailable as exc:
            raise provider_error(exc, payment.payment_channel) from exc
        except ProviderRejected as exc:
            if exc.payment is None:
                raise provider_error(exc, payment.payment_channel) from exc
            # The provider would not cancel: it moved on (paid, processing). Record what it is.
            current = await self._apply(
                payment.id, exc.payment, source="api", observed_at=observed_at
            )
            if current.status == PaymentStatus.SUCCEEDED:
                raise errors.PaymentAlreadySucceeded(
                    payment_channel=payment.payment_channel
                ) from exc
            if current.status == PaymentStatus.PROCESSING:
                raise errors.PaymentProcessing(payment_channel=payment.payment_channel) from exc
            raise errors.PaymentNotCancelable(
                exc.message, payment_channel=payment.payment_channel
            ) from exc
        return await self._apply(payment.id, result, source="api", observed_at=observed_at)

    async def sync(self, payment_id: str, *, source: str = "sync") -> Payment:
        payment, observed_at = await self._get_observed(payment_id)
        if payment.provider_reference is None:
            return payment
        provider = self.registry.get(payment.payment_channel)
        try:
            result = await provider.retrieve_payment(payment.provider_reference)
        except (ProviderUnavailable, ProviderRejected) as exc:
            raise provider_error(exc, payment.payment_channel) from exc
        return await self._apply(payment_id, result, source=source, observed_at=observed_at)

    async def _database_now(self) -> datetime:
        async with self.sessionmaker() as session:
            return await PaymentRepository(session).database_now()

    async def _get_observed(self, payment_id: str) -> tuple[Payment, datetime]:
        """The payment and the database clock, read before a provider call about it."""
        async with self.sessionmaker() as session:
            repo = PaymentRepository(session)
            payment = await repo.get(payment_id)
            if payment is None:
                raise errors.PaymentNotFound(f"No payment {payment_id!r}")
            return payment, await repo.database_now()

    async def _apply(
        self,
        payment_id: str,
        result: ProviderPayment | None,
        *,
        source: str,
        target: PaymentStatus | None = None,
        observed_at: datetime | None = None,
    ) -> Payment:
        async with transaction(self.sessionmaker) as session:
            payment = await PaymentRepository(session).get(payment_id, for_update=True)
            assert payment is not None
            if result is not None:
                await apply_provider_payment(
                    session, payment, result, source=source, observed_at=observed_at
                )
            elif target is not None:
                move_status(session, payment, target, source=source)
            return payment


def _same_request(payment: Payment, request: PaymentCreate, channel: Channel) -> bool:
    return (
        payment.amount == request.amount
        and payment.currency == request.currency
        and payment.payment_channel == channel.provider
        and payment.method == channel.method
    )


def move_status(
    session: AsyncSession,
    payment: Payment,
    target: PaymentStatus,
    *,
    source: str,
    provider_event_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Decision:
    """The only place a payment's status is written."""
    transition = decide(PaymentStatus(payment.status), target)
    if transition.moves:
        PaymentStatusHistoryRepository(session).record(
            PaymentStatusHistory(
                payment_id=payment.id,
                from_status=payment.status,
                to_status=target.value,
                source=source,
                provider_event_id=provider_event_id,
                detail=detail,
            )
        )
        payment.status = target.value
        stage_payment_event(session, PAYMENT_EVENT_TYPES[target], payment)
    elif transition.decision is Decision.FORBIDDEN:
        logger.info(
            "ignored a backward status change",
            extra={"payment_id": payment.id, "from": payment.status, "to": target.value},
        )
    return transition.decision


async def apply_provider_payment(
    session: AsyncSession,
    payment: Payment,
    snapshot: ProviderPayment,
    *,
    source: str,
    provider_event_id: str | None = None,
    observed_at: datetime | None = None,
) -> Decision:
    """Bring a locked payment up to a provider object's state; records the raw object.

    `observed_at`: when the read that produced `snapshot` began. Reads finish out of order
    (two webhooks, a sync), so one that began before the last applied read is stale.
    """
    if (
        observed_at is not None
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
    if payment.provider_reference is None:
        # The create call succeeded but its answer was lost (a crash, a timeout).
        payment.provider_reference = snapshot.reference
        payment.livemode = snapshot.livemode
    if observed_at is not None:
        payment.provider_observed_at = observed_at
    decision = move_status(
        session, payment, snapshot.status, source=source, provider_event_id=provider_event_id
    )
    if decision in (Decision.APPLY, Decision.SAME):
        last_error = snapshot.last_error.as_dict() if snapshot.last_error else None
        if decision is Decision.SAME and last_error and last_error != payment.last_error:
            # A declined attempt leaves the status as it was; it is still worth a record.
            PaymentStatusHistoryRepository(session).record(
                PaymentStatusHistory(
                    payment_id=payment.id,
                    from_status=payment.status,
                    to_status=payment.status,
                    source=source,
                    provider_event_id=provider_event_id,
                    detail={"last_error": last_error},
                )
            )
            stage_payment_event(session, "payment.failed", payment)
        payment.last_error = last_error
        if snapshot.payload:
            payment.payment_payload = {**payment.payment_payload, **snapshot.payload}
    await ProviderRecordRepository(session).upsert(
        provider=payment.payment_channel,
        object_type=snapshot.object_type,
        object_id=snapshot.reference,
        payment_id=payment.id,
        payload=snapshot.raw,
    )
    return decision
