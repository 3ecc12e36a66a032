from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from app.api.deps import (
    AuthenticatedRoute,
    EventServiceDep,
    IdempotentDep,
    require_api_key,
)
from app.api.params import EventCursor, EventIdPath, Limit, PaymentIdQuery
from app.api.problems import responses
from app.core import errors
from app.schemas.events import DeliveryAttemptRead, EventList, EventRead, EventType
from app.services.events import EventWithAttempts

router = APIRouter(
    prefix="/v1/events",
    tags=["events"],
    dependencies=[Depends(require_api_key)],
    route_class=AuthenticatedRoute,
    responses=responses(errors.Unauthorized),
)


def event_read(item: EventWithAttempts) -> EventRead:
    event = item.event
    return EventRead(
        id=event.id,
        type=event.type,
        created_at=event.created_at,
        payment_id=event.payment_id,
        refund_id=event.refund_id,
        data=event.data,
        delivery_status=event.status,
        next_attempt_at=event.next_attempt_at if event.status == "pending" else None,
        delivered_at=event.delivered_at,
        attempts=[DeliveryAttemptRead.model_validate(a) for a in item.attempts],
    )


@router.get(
    "",
    response_model=EventList,
    summary="The notifications sent (or to be sent) to the order service, newest first",
)
async def list_events(
    events: EventServiceDep,
    payment_id: PaymentIdQuery = None,
    type: EventType | None = None,
    limit: Limit = 20,
    starting_after: EventCursor = None,
) -> EventList:
    rows, has_more = await events.list(
        payment_id=payment_id, type=type, limit=limit, starting_after=starting_after
    )
    data = [event_read(r) for r in rows]
    return EventList(
        data=data, has_more=has_more, next_cursor=data[-1].id if has_more and data else None
    )


@router.get("/{event_id}", response_model=EventRead, responses=responses(errors.EventNotFound))
async def get_event(event_id: EventIdPath, events: EventServiceDep) -> EventRead:
    item = await events.get(event_id)
    if item is None:
        raise errors.EventNotFound(f"No event {event_id!r}")
    return event_read(item)


@router.post(
    "/{event_id}/redeliver",
    response_model=EventRead,
    status_code=202,
    summary="Send one notification again",
    responses=responses(
        errors.EventNotFound, errors.IdempotencyKeyReused, errors.IdempotencyRequestInProgress
    ),
)
async def redeliver_event(
    event_id: EventIdPath,
    events: EventServiceDep,
    idempotent: IdempotentDep,
) -> Response:
    async def handler() -> Response:
        item = await events.redeliver(event_id)
        if item is None:
            raise errors.EventNotFound(f"No event {event_id!r}")
        return JSONResponse(event_read(item).model_dump(mode="json"), status_code=202)

    return await idempotent.run(handler)
