from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from app.api.deps import (
    AuthenticatedRoute,
    IdempotentDep,
    RefundServiceDep,
    require_api_key,
)
from app.api.params import PaymentIdPath, RefundIdPath
from app.api.problems import responses
from app.core import errors
from app.schemas.refunds import RefundCreate, RefundList, RefundRead

router = APIRouter(
    prefix="/v1",
    tags=["refunds"],
    dependencies=[Depends(require_api_key)],
    route_class=AuthenticatedRoute,
    responses=responses(errors.Unauthorized),
)


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundRead,
    summary="Refund all that remains of a payment, or `amount` of it",
    responses=responses(
        errors.PaymentNotFound,
        errors.PaymentNotRefundable,
        errors.RefundExceedsCaptured,
        errors.AmountNotRepresentable,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
        errors.ProviderRejectedError,
        errors.ProviderUnavailableError,
    ),
)
async def create_refund(
    payment_id: PaymentIdPath,
    body: RefundCreate,
    refunds: RefundServiceDep,
    idempotent: IdempotentDep,
) -> Response:
    async def handler() -> Response:
        refund = await refunds.create(
            payment_id,
            amount=body.amount,
            reason=body.reason,
            request_key=idempotent.key,
        )
        return JSONResponse(
            RefundRead.model_validate(refund).model_dump(mode="json"), status_code=201
        )

    return await idempotent.run(handler)


@router.get(
    "/payments/{payment_id}/refunds",
    response_model=RefundList,
    summary="A payment's refunds, newest first",
    responses=responses(errors.PaymentNotFound),
)
async def list_refunds(payment_id: PaymentIdPath, refunds: RefundServiceDep) -> RefundList:
    rows = await refunds.list_for_payment(payment_id)
    return RefundList(data=[RefundRead.model_validate(r) for r in rows])


@router.get(
    "/refunds/{refund_id}",
    response_model=RefundRead,
    responses=responses(errors.RefundNotFound),
)
async def get_refund(refund_id: RefundIdPath, refunds: RefundServiceDep) -> RefundRead:
    return RefundRead.model_validate(await refunds.get(refund_id))
