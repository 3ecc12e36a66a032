from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from app.api.deps import (
    AuthenticatedRoute,
    IdempotentDep,
    PaymentServiceDep,
    require_api_key,
)
from app.api.params import Limit, OrderIdQuery, PaymentCursor, PaymentIdPath
from app.api.problems import responses
from app.core import errors
from app.schemas.payments import (
    PaymentCreate,
    PaymentCreated,
    PaymentDetail,
    PaymentList,
    PaymentRead,
    PaymentStatusChange,
    PaymentStatusName,
)

router = APIRouter(
    prefix="/v1/payments",
    tags=["payments"],
    dependencies=[Depends(require_api_key)],
    route_class=AuthenticatedRoute,
    responses=responses(errors.Unauthorized),
)

IDEMPOTENCY_ERRORS = (errors.IdempotencyKeyReused, errors.IdempotencyRequestInProgress)


def _payment_response(payment: object, status_code: int = 200) -> Response:
    return JSONResponse(
        PaymentRead.model_validate(payment).model_dump(mode="json"), status_code=status_code
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentCreated,
    summary="Create (or return) the open payment for an order",
    responses={
        200: {"model": PaymentCreated, "description": "the order's open payment, unchanged"},
        **responses(
            errors.UnknownPaymentChannel,
            errors.PaymentChannelNotEnabled,
            errors.AmountNotRepresentable,
            errors.AmountBelowMinimum,
            errors.AmountAboveMaximum,
            errors.CurrencyNotSupported,
            errors.RequestTooLarge,
            errors.OrderAlreadyPaid,
            errors.PaymentProcessing,
            errors.ConcurrentUpdate,
            errors.ProviderRejectedError,
            errors.ProviderUnavailableError,
            *IDEMPOTENCY_ERRORS,
        ),
    },
)
async def create_payment(
    body: PaymentCreate,
    payments: PaymentServiceDep,
    idempotent: IdempotentDep,
) -> Response:
    async def handler() -> Response:
        result = await payments.create(body)
        created = PaymentRead.model_validate(result.payment).model_dump(mode="json")
        return JSONResponse(
            {**created, "client_token": result.client_token},
            status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    return await idempotent.run(handler)


@router.get("", response_model=PaymentList, summary="List payments, newest first")
async def list_payments(
    payments: PaymentServiceDep,
    order_id: OrderIdQuery = None,
    status: PaymentStatusName | None = None,
    limit: Limit = 20,
    starting_after: PaymentCursor = None,
) -> PaymentList:
    rows, has_more = await payments.list(
        order_id=order_id, status=status, limit=limit, starting_after=starting_after
    )
    data = [PaymentRead.model_validate(p) for p in rows]
    return PaymentList(
        data=data, has_more=has_more, next_cursor=data[-1].id if has_more and data else None
    )


@router.get(
    "/{payment_id}",
    response_model=PaymentRead,
    responses=responses(errors.PaymentNotFound),
)
async def get_payment(payment_id: PaymentIdPath, payments: PaymentServiceDep) -> PaymentRead:
    return PaymentRead.model_validate(await payments.get(payment_id))


@router.get(
    "/{payment_id}/detail",
    response_model=PaymentDetail,
    summary="The payment, the provider's object for it, and its status history",
    responses=responses(errors.PaymentNotFound, errors.ProviderUnavailableError),
)
async def get_payment_detail(
    payment_id: PaymentIdPath, payments: PaymentServiceDep, refresh: bool = False
) -> PaymentDetail:
    payment, provider_object, refreshed, history = await payments.detail(
        payment_id, refresh=refresh
    )
    return PaymentDetail(
        payment=PaymentRead.model_validate(payment),
        provider_object=provider_object,
        provider_object_refreshed=refreshed,
        status_history=[PaymentStatusChange.model_validate(h) for h in history],
    )


@router.post(
    "/{payment_id}/cancel",
    response_model=PaymentRead,
    summary="Cancel at the provider",
    responses=responses(
        errors.PaymentNotFound,
        errors.PaymentNotCancelable,
        errors.PaymentAlreadySucceeded,
        errors.PaymentProcessing,
        errors.ProviderRejectedError,
        errors.ProviderUnavailableError,
        *IDEMPOTENCY_ERRORS,
    ),
)
async def cancel_payment(
    payment_id: PaymentIdPath,
    payments: PaymentServiceDep,
    idempotent: IdempotentDep,
) -> Response:
    async def handler() -> Response:
        return _payment_response(await payments.cancel(payment_id))

    return await idempotent.run(handler)


@router.post(
    "/{payment_id}/sync",
    response_model=PaymentRead,
    summary="Pull the status from the provider now",
    responses=responses(
        errors.PaymentNotFound,
        errors.ProviderRejectedError,
        errors.ProviderUnavailableError,
        *IDEMPOTENCY_ERRORS,
    ),
)
async def sync_payment(
    payment_id: PaymentIdPath,
    payments: PaymentServiceDep,
    idempotent: IdempotentDep,
) -> Response:
    async def handler() -> Response:
        return _payment_response(await payments.sync(payment_id))

    return await idempotent.run(handler)
