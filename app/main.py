"""`create_app(settings)`: everything is built in the lifespan; nothing happens at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api import problems
from app.api.limits import BodySizeLimit
from app.api.routers import events, health, payments, public, refunds, webhooks
from app.container import build_container
from app.core.settings import Settings
from app.workers import start_background_workers

logger = logging.getLogger(__name__)

API_TITLE = "Payments service"
API_VERSION = "1.0.0"


def operation_id(route: APIRoute) -> str:
    """Stable ids for the generated client: the handler's name."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    resolved = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build_container(resolved)
        app.state.engine = container.engine
        app.state.services = container
        workers = start_background_workers(container) if resolved.run_workers_in_api else None
        try:
            yield
        finally:
            if workers is not None:
                await workers.stop()
            await container.aclose()

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
        events.router,
        public.router,
        webhooks.router,
        health.router,
    ):
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=resolved.max_body_bytes)
    return app
