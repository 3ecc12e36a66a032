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


WEBHOOK_PROBLEMS = responses(
    errors.WebhookSignatureMissing,
    errors.WebhookSignatureInvalid,
    errors.WebhookNotConfigured,
    errors.WebhookPayloadInvalid,
    errors.ProviderUnavailableError,
)


async def _receive(
    provider: str, header: str, request: Request, webhooks: WebhookServiceDep
) -> WebhookAck:
    if not request.headers.get(header):
        # Before anything else, a provider configured or not: the same 400 for a caller
        # that sends no signature at all.
        raise errors.WebhookSignatureMissing(payment_channel=provider)
    event = webhooks.verify(provider, request.headers, await request.body())
    outcome = await webhooks.handle(provider, event)
    return WebhookAck(received=True, outcome=outcome.value)


@router.post(
    "/stripe",
    response_model=WebhookAck,
    summary="Stripe's signed event notifications",
    openapi_extra=_signature_header(
        "Stripe-Signature", "`t=<unix time>,v1=<hex HMAC-SHA256 of t.body>`, per Stripe"
    ),
    responses=WEBHOOK_PROBLEMS,
)
async def receive_stripe_webhook(request: Request, webhooks: WebhookServiceDep) -> WebhookAck:
    return await _receive("stripe", "Stripe-Signature", request, webhooks)


@router.post(
    "/pingxx",
    response_model=WebhookAck,
    summary="Ping++'s signed event notifications (Alipay, WeChat Pay)",
    openapi_extra=_signature_header(
        "X-Pingplusplus-Signature",
        "base64 RSA-SHA256 (PKCS#1 v1.5) of the raw body, with Ping++'s key",
    ),
    responses=WEBHOOK_PROBLEMS,
)
async def receive_pingxx_webhook(request: Request, webhooks: WebhookServiceDep) -> WebhookAck:
    return await _receive("pingxx", "X-Pingplusplus-Signature", request, webhooks)
