"""`create_app(settings)`: everything is built in the lifespan; nothing happens at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api import problems
from app.api.deps import Services
from app.api.limits import BodySizeLimit
from app.api.routers import health, payments, public, refunds, webhooks
from app.core.db import create_engine, create_sessionmaker, resolve_database_url
from app.core.migrations import upgrade_to_head
from app.core.settings import Settings
from app.providers.base import PaymentProvider
from app.providers.registry import ProviderRegistry
from app.providers.stripe.adapter import StripeProvider
from app.services.idempotency import IdempotencyService
from app.services.payments import PaymentService
from app.services.refunds import RefundService
from app.services.webhooks import WebhookService

logger = logging.getLogger(__name__)

API_TITLE = "Payments service"
API_VERSION = "1.0.0"


def operation_id(route: APIRoute) -> str:
    """Stable ids for the generated client: the handler's name."""
    return route.name


def build_providers(settings: Settings) -> dict[str, PaymentProvider]:
    providers: dict[str, PaymentProvider] = {}
    if any(c.startswith("stripe") for c in settings.enabled_channels):
        assert settings.stripe_secret_key is not None
        providers["stripe"] = StripeProvider(
            secret_key=settings.stripe_secret_key.get_secret_value(),
            publishable_key=settings.stripe_publishable_key or "",
            webhook_secrets=[s.get_secret_value() for s in settings.stripe_webhook_secrets],
            api_base=settings.stripe_api_base,
            webhook_tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
            max_network_retries=settings.stripe_max_network_retries,
            timeout_seconds=settings.stripe_timeout_seconds,
        )
    return providers


def create_app(settings: Settings | None = None) -> FastAPI:
    resolved = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved.check_startup()
        url = await asyncio.to_thread(resolve_database_url, resolved)
        if resolved.migrate_on_start:
            await upgrade_to_head(url)
        engine = create_engine(url, resolved)
        sessionmaker = create_sessionmaker(engine)
        registry = ProviderRegistry(build_providers(resolved), set(resolved.enabled_channels))
        app.state.engine = engine
        app.state.services = Services(
            settings=resolved,
            payments=PaymentService(sessionmaker, registry, resolved.default_channel),
            refunds=RefundService(sessionmaker, registry),
            webhooks=WebhookService(sessionmaker, registry),
            idempotency=IdempotencyService(sessionmaker),
            api_key_digests=tuple(resolved.api_key_digests()),
        )
        try:
            yield
        finally:
            await registry.aclose()
            await engine.dispose()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description="Payments for the order service: Stripe and Ping++ behind one API.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    problems.install(app)
    for router in (
        payments.router,
        refunds.router,
        public.router,
        webhooks.router,
        health.router,
    ):
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=resolved.max_body_bytes)
    return app
