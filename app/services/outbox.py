"""The transactional outbox: each change of a payment or refund stages its event, and the
event is written in the same transaction, just before it commits. A rolled-back change
announces nothing; a committed one is never lost."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import before_commit
from app.core.ids import new_id
from app.models import OutboxEvent, Payment, Refund
from app.providers.base import PaymentStatus
from app.repositories.outbox import OutboxRepository
from app.schemas.payments import PaymentRead
from app.schemas.refunds import RefundRead

PAYMENT_EVENT_TYPES: dict[PaymentStatus, str] = {
    # Back to the customer after a declined attempt or a failed 3-D Secure challenge.
    PaymentStatus.REQUIRES_PAYMENT_METHOD: "payment.failed",
    PaymentStatus.REQUIRES_ACTION: "payment.requires_action",
    PaymentStatus.PROCESSING: "payment.processing",
    PaymentStatus.SUCCEEDED: "payment.succeeded",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.CANCELED: "payment.canceled",
    PaymentStatus.EXPIRED: "payment.expired",
}

REFUND_EVENT_TYPES = {
    "pending": "refund.created",
    "succeeded": "refund.succeeded",
    "failed": "refund.failed",
    "canceled": "refund.failed",
}


@dataclass(frozen=True, slots=True)
class _Staged:
    type: str
    subject: Payment | Refund


def stage_payment_event(session: AsyncSession, event_type: str, payment: Payment) -> None:
    _stage(session, _Staged(event_type, payment))


def stage_refund_event(session: AsyncSession, refund: Refund) -> None:
    _stage(session, _Staged(REFUND_EVENT_TYPES[refund.status], refund))


def _stage(session: AsyncSession, staged: _Staged) -> None:
    session.info.setdefault("outbox", []).append(staged)
    before_commit(session, _write_staged)


async def _write_staged(session: AsyncSession) -> None:
    staged: list[_Staged] = session.info.pop("outbox", [])
    if not staged:
        return
    # Flushed first, so each event carries the row exactly as it is committed.
    await session.flush()
    outbox = OutboxRepository(session)
    for item in staged:
        await session.refresh(item.subject)
        outbox.add(_event(item))
    await session.flush()
    await outbox.notify()


def _event(item: _Staged) -> OutboxEvent:
    subject = item.subject
    if isinstance(subject, Payment):
        data = PaymentRead.model_validate(subject).model_dump(mode="json")
        payment_id, refund_id = subject.id, None
    else:
        data = RefundRead.model_validate(subject).model_dump(mode="json")
        payment_id, refund_id = subject.payment_id, subject.id
    return OutboxEvent(
        id=new_id("evt"),
        type=item.type,
        payment_id=payment_id,
        refund_id=refund_id,
        data=data,
    )
