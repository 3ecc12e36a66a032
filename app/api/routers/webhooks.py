from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.api.deps import WebhookServiceDep
from app.api.problems import responses
from app.core import errors

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookAck(BaseModel):
    received: bool
    outcome: str


def _signature_header(name: str, description: str) -> dict[str, Any]:
    """The signature header, stated in the document; the route reads it from the raw
    request itself, so that a missing one is the provider's 400, not a validation 422."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 4096},
                "description": description,
            }
        ]
    }


@router.post(
    "/stripe",
    response_model=WebhookAck,
    summary="Stripe's signed event notifications",
    openapi_extra=_signature_header(
        "Stripe-Signature", "`t=<unix time>,v1=<hex HMAC-SHA256 of t.body>`, per Stripe"
    ),
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
