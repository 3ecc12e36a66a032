from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.api.deps import WebhookServiceDep
from app.api.problems import responses
from app.core import errors

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookAck(BaseModel):
    received: bool
    outcome: str


@router.post(
    "/stripe",
    response_model=WebhookAck,
    summary="Stripe's signed event notifications",
    responses=responses(
        errors.WebhookSignatureMissing,
        errors.WebhookSignatureInvalid,
        errors.WebhookNotConfigured,
        errors.WebhookPayloadInvalid,
        errors.ProviderUnavailableError,
    ),
)
async def receive_stripe_webhook(request: Request, webhooks: WebhookServiceDep) -> WebhookAck:
    body = await request.body()
    event = webhooks.verify("stripe", request.headers, body)
    outcome = await webhooks.handle("stripe", event)
    return WebhookAck(received=True, outcome=outcome.value)
