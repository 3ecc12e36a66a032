"""Annotated dependency aliases: what a route needs, by name."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.idempotency import IdempotentRequest
from app.container import Container
from app.core import errors
from app.core.settings import Settings, hash_api_key
from app.providers.registry import ProviderRegistry
from app.schemas.types import IDEMPOTENCY_KEY_PATTERN
from app.services.events import EventService
from app.services.payments import PaymentService
from app.services.refunds import RefundService
from app.services.webhooks import WebhookService


def get_services(request: Request) -> Container:
    services: Container = request.app.state.services
    return services


ServicesDep = Annotated[Container, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="An internal caller's API key")


def authenticate(request: Request) -> str:
    """The caller's API-key digest, or Unauthorized; remembered for the request."""
    owner: str | None = getattr(request.state, "api_key_owner", None)
    if owner is not None:
        return owner
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise errors.Unauthorized("Send `Authorization: Bearer <api key>`")
    digest = hash_api_key(credentials.strip())
    # Compare against every key so the time taken does not say which one nearly matched.
    matched = False
    for known in get_services(request).api_key_digests:
        matched |= hmac.compare_digest(digest, known)
    if not matched:
        raise errors.Unauthorized("The API key is not valid")
    request.state.api_key_owner = digest
    return digest


class AuthenticatedRoute(APIRoute):
    """Checks the API key before FastAPI reads the body: a caller without a valid key
    learns nothing about what its body would have made of the request (401, not 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            authenticate(request)
            return await handler(request)

        return authenticated


def require_api_key(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """For the OpenAPI document's security scheme, and the caller's identity."""
    return authenticate(request)


ApiKeyDep = Annotated[str, Depends(require_api_key)]


def get_payment_service(services: ServicesDep) -> PaymentService:
    return services.payments


def get_webhook_service(services: ServicesDep) -> WebhookService:
    return services.webhooks


def get_refund_service(services: ServicesDep) -> RefundService:
    return services.refunds


def get_event_service(services: ServicesDep) -> EventService:
    return services.events


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_registry(services: ServicesDep) -> ProviderRegistry:
    return services.registry


PaymentServiceDep = Annotated[PaymentService, Depends(get_payment_service)]
WebhookServiceDep = Annotated[WebhookService, Depends(get_webhook_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[ProviderRegistry, Depends(get_registry)]
EventServiceDep = Annotated[EventService, Depends(get_event_service)]
RefundServiceDep = Annotated[RefundService, Depends(get_refund_service)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="recommended on every POST: a retry with the same key and body replays "
        "the first response; kept 24 hours",
    ),
]


def get_idempotent_request(
    request: Request,
    owner: ApiKeyDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> IdempotentRequest:
    return IdempotentRequest(services.idempotency, owner, idempotency_key, request)


IdempotentDep = Annotated[IdempotentRequest, Depends(get_idempotent_request)]
