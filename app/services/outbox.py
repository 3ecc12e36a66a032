"""The transactional outbox: each change of a payment or refund stages its event in the
transaction of the change, carrying the subject as it is at that moment. A rolled-back
change announces nothing; a committed one is never lost."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import before_commit, utcnow
from app.core.event_types import REFUND_STATUS_EVENTS
from app.core.ids import new_id
from app.core.statuses import RefundStatus
from app.models import OutboxEvent, Payment, Refund
from app.repositories.outbox import OutboxRepository
from app.schemas.payments import PaymentRead
from app.schemas.refunds import RefundRead


def payment_data(payment: Payment) -> dict[str, Any]:
    return PaymentRead.model_validate(payment).model_dump(mode="json")


def stage_payment_event(session: AsyncSession, event_type: str, payment: Payment) -> None:
    _stage(session, event_type, payment.id, None, payment_data(payment))


def stage_refund_event(session: AsyncSession, refund: Refund) -> None:
    data = RefundRead.model_validate(refund).model_dump(mode="json")
    event_type = REFUND_STATUS_EVENTS[RefundStatus(refund.status)]
    _stage(session, event_type, refund.payment_id, refund.id, data)


def _stage(
    session: AsyncSession,
    event_type: str,
    payment_id: str,
    refund_id: str | None,
    data: dict[str, Any],
) -> None:
    # The data is the subject now, not at commit: two events of one transaction (a
    # refund created and settled at once) each tell the state they announce.
    now = utcnow()
    session.add(
        OutboxEvent(
            id=new_id("evt"),
            type=event_type,
            payment_id=payment_id,
            refund_id=refund_id,
            data=data,
            created_at=now,
            status="pending",
            attempts=0,
            next_attempt_at=now,
        )
    )
    before_commit(session, _notify)


async def _notify(session: AsyncSession) -> None:
    await OutboxRepository(session).notify()
