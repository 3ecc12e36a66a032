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

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import transaction, utcnow
from app.core.event_types import PAYMENT_CREATED
from app.core.ids import new_client_token, new_id, token_digest
from app.core.statuses import PaymentStatus, RefundState
from app.models import Payment, PaymentStatusHistory
from app.providers.base import (
    AmountOutOfRange,
    CreatePayment,
    OperationNotSupported,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
    RequestNotAccepted,
)
from app.providers.registry import Channel, ProviderRegistry, UnknownChannel, parse_channel
from app.repositories.payments import PaymentRepository, PaymentStatusHistoryRepository
from app.repositories.provider_records import ProviderRecordRepository
from app.schemas.payments import PaymentCreate
from app.services.events import stage_payment_event
from app.services.payment_updates import PaymentUpdater
from app.services.provider_errors import amount_error, provider_error
from app.services.transitions import is_terminal

logger = logging.getLogger(__name__)

# Replacing an order's payment can race another request for the same order; a few
# rounds settle it, and a loser past that gets a retryable 409.
_CREATE_ROUNDS = 3


def create_key(payment_id: str) -> str:
    return f"{payment_id}:create"


def cancel_key(payment_id: str, attempt_started_at: datetime) -> str:
    """One key per cancel attempt: canceling is idempotent at the provider anyway, and a
    key for life would make the provider replay a first refusal (a payment that was
    processing then) for a day."""
    return f"{payment_id}:cancel:{int(attempt_started_at.timestamp() * 1_000_000)}"


@dataclass(frozen=True, slots=True)
class CreateResult:
    payment: Payment
    # True when this request made the payment, or finished making it after an earlier
    # attempt failed retryably: it then answers as a first success would.
    created: bool
    client_token: str


class PaymentService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        updater: PaymentUpdater,
        default_channel: str,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.updater = updater
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
        enabled = {"enabled_channels": self.registry.enabled_channels}
        try:
            channel = parse_channel(name)
        except UnknownChannel:
            raise errors.UnknownPaymentChannel(
                f"{name!r} is not a payment channel", payment_channel=name, extra=enabled
            ) from None
        if not self.registry.is_enabled(channel):
            raise errors.PaymentChannelNotEnabled(
                f"{channel.name!r} is not enabled on this service",
                payment_channel=channel.provider,
                extra=enabled,
            )
        return channel

    async def create(self, request: PaymentCreate) -> CreateResult:
        channel = self.resolve_channel(request.payment_channel)
        provider = self.registry.get(channel.provider)
        payment_id = new_id("pay")
        try:
            # Before anything is stored, sent or replaced: what the provider would refuse
            # leaves the order's open payment as it is.
            provider.check_amount(request.amount, request.currency)
            provider.check_request(_provider_request(_new_payment(payment_id, request, channel)))
        except AmountOutOfRange as exc:
            raise amount_error(exc, channel.provider) from None
        except RequestNotAccepted as exc:
            raise errors.ValidationFailed(
                f"{exc.field}: {exc}",
                payment_channel=channel.provider,
                extra={
                    "errors": [{"loc": ["body", exc.field], "msg": str(exc), "type": "missing"}]
                },
            ) from None
        for _ in range(_CREATE_ROUNDS):
            token = new_client_token()
            async with transaction(self.sessionmaker) as session:
                repo = PaymentRepository(session)
                # Read before any provider call below; see PaymentUpdater.apply.
                observed_at = await repo.lock_order(request.order_id)
                paid, payment = await repo.order_payments(request.order_id)
                if paid is not None:
                    raise _already_paid(paid.id, paid.payment_channel)
                inserted = payment is None
                if payment is None:
                    payment = self._insert(
                        session, _new_payment(payment_id, request, channel), token
                    )
            same = inserted or _same_request(payment, request, channel)
            if not inserted and same:
                # Not under the order's lock: a webhook holding this payment's row may be
                # waiting for that lock.
                async with transaction(self.sessionmaker) as session:
                    await PaymentRepository(session).add_client_token(
                        payment.id, token_digest(token)
                    )
            if not same:
                if payment.status == PaymentStatus.PROCESSING:
                    raise errors.PaymentProcessing(
                        f"Payment {payment.id} for this order is processing",
                        payment_channel=payment.payment_channel,
                    )
                # The order changed (a coupon, another channel): close the old one first.
                try:
                    await self._cancel(payment, observed_at)
                except errors.PaymentAlreadySucceeded:
                    current = await self.get(payment.id)
                    raise _already_paid(
                        current.duplicate_of or current.id, current.payment_channel
                    ) from None
                continue
            if payment.provider_reference is None and not payment.is_terminal:
                payment = await self._create_at_provider(payment, observed_at)
                return CreateResult(payment, created=True, client_token=token)
            return CreateResult(payment, created=inserted, client_token=token)
        raise errors.ConcurrentUpdate(payment_channel=channel.provider)

    def _insert(self, session: AsyncSession, payment: Payment, token: str) -> Payment:
        now = payment.created_at
        payment.client_token_digests = [token_digest(token)]
        self.updater.schedule_new(payment, now)
        PaymentRepository(session).add(payment)
        PaymentStatusHistoryRepository(session).record(
            PaymentStatusHistory(
                payment_id=payment.id,
                from_status=None,
                to_status=payment.status,
                source="api",
                created_at=now,
            )
        )
        stage_payment_event(session, PAYMENT_CREATED, payment)
        return payment

    async def _create_at_provider(self, payment: Payment, observed_at: datetime) -> Payment:
        provider = self.registry.get(payment.payment_channel)
        try:
            result = await provider.create_payment(
                _provider_request(payment),
                idempotency_key=create_key(payment.id),
            )
        except ProviderUnavailable as exc:
            # The payment stays open without a provider object; asking again with the same
            # order repeats the call under the same key, so the provider returns the same
            # object (the janitor does so too).
            logger.warning(
                "provider unavailable on create",
                extra={"payment_id": payment.id, "provider_code": exc.code},
            )
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
        locked = await self._apply(payment.id, result, source="api", observed_at=observed_at)
        if locked.is_terminal and not is_terminal(result.status):
            # Closed here while the create was in flight: close the provider object too.
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
        try:
            return await self._create_at_provider(payment, observed_at)
        except (errors.ProviderRejectedError, errors.CardDeclined):
            # A refusal is an answer: the payment was failed with it.
            return await self.get(payment_id)

    async def _fail_creation(self, payment_id: str, exc: ProviderRejected) -> None:
        async with transaction(self.sessionmaker) as session:
            payment = await PaymentRepository(session).get(payment_id, for_update=True)
            assert payment is not None
            payment.last_error = {
                "code": exc.code,
                "message": exc.message,
                "decline_code": exc.decline_code,
            }
            self.updater.move(session, payment, PaymentStatus.FAILED, source="api")

    # -- cancel / expire / sync --------------------------------------------------------

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

    async def expire(self, payment_id: str) -> Payment:
        """An open payment past its `expires_at`: canceled at the provider, `expired` here.
        A provider that says it was paid (or is paying) meanwhile is believed instead."""
        payment, observed_at = await self._get_observed(payment_id)
        if payment.is_terminal:
            return payment
        return await self._cancel(
            payment, observed_at, abandoned=True, target=PaymentStatus.EXPIRED
        )

    async def _cancel(
        self,
        payment: Payment,
        observed_at: datetime,
        *,
        abandoned: bool = False,
        target: PaymentStatus = PaymentStatus.CANCELED,
    ) -> Payment:
        if payment.provider_reference is None:
            # Nothing at the provider yet; a create still in flight finds the payment closed.
            return await self._apply(payment.id, None, source="api", target=target)
        provider = self.registry.get(payment.payment_channel)
        try:
            result = await provider.cancel_payment(
                payment.provider_reference,
                idempotency_key=cancel_key(payment.id, observed_at),
                abandoned=abandoned,
            )
        except OperationNotSupported:
            # The provider cannot close it (an Alipay page): it lapses at its time_expire,
            # and if it is paid before that the money is recorded (as the order's duplicate
            # when the order has been paid otherwise).
            logger.info(
                "closed here only: the provider object stays payable until it lapses",
                extra={"payment_id": payment.id, "reference": payment.provider_reference},
            )
            return await self._apply(payment.id, None, source="api", target=target)
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
        return await self._apply(
            payment.id,
            result,
            source="api",
            observed_at=observed_at,
            target=target if result.status == PaymentStatus.CANCELED else None,
        )

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
                await self.updater.apply(
                    session, payment, result, source=source, observed_at=observed_at, target=target
                )
            elif target is not None:
                self.updater.move(session, payment, target, source=source)
            return payment


def _new_payment(payment_id: str, request: PaymentCreate, channel: Channel) -> Payment:
    """A new open payment for the request, in no session yet."""
    now = utcnow()
    return Payment(
        id=payment_id,
        order_id=request.order_id,
        amount=request.amount,
        currency=request.currency,
        payment_channel=channel.provider,
        method=channel.method,
        status=PaymentStatus.REQUIRES_PAYMENT_METHOD.value,
        amount_refunded=0,
        amount_refund_pending=0,
        amount_refund_overbooked=0,
        refund_status=RefundState.NONE.value,
        description=request.description,
        customer_email=request.customer_email,
        metadata_=dict(request.metadata),
        livemode=False,
        return_url=request.return_url,
        client_ip=str(request.client_ip) if request.client_ip else None,
        provider_extra=dict(request.extra),
        payment_payload={},
        provider_reference=None,
        last_error=None,
        duplicate_of=None,
        dispute=None,
        client_token_digests=[],
        created_at=now,
        updated_at=now,
    )


def _provider_request(payment: Payment) -> CreatePayment:
    """What the provider is asked to open (and checks before anything is stored)."""
    return CreatePayment(
        payment_id=payment.id,
        order_id=payment.order_id,
        amount=payment.amount,
        currency=payment.currency,
        method=payment.method,
        description=payment.description,
        customer_email=payment.customer_email,
        metadata=payment.metadata_,
        return_url=payment.return_url,
        expires_at=payment.expires_at,
        created_at=payment.created_at,
        client_ip=payment.client_ip,
        extra=payment.provider_extra,
    )


def _same_request(payment: Payment, request: PaymentCreate, channel: Channel) -> bool:
    return (
        payment.amount == request.amount
        and payment.currency == request.currency
        and payment.payment_channel == channel.provider
        and payment.method == channel.method
    )


def _already_paid(payment_id: str, channel: str) -> errors.OrderAlreadyPaid:
    return errors.OrderAlreadyPaid(
        f"The order was paid by {payment_id}; refund it instead of charging again",
        payment_channel=channel,
        extra={"payment_id": payment_id},
    )
