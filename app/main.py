"""`create_app(settings)`: everything is built in the lifespan; nothing happens at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api import problems
from app.api.access_log import AccessLog
from app.api.failures import LastResort
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
    if not logging.getLogger().handlers:
        # A uvicorn worker process configures only uvicorn's own loggers.
        logging.basicConfig(level=resolved.log_level)

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

    docs = resolved.api_docs_enabled
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description="Payments for the order service: Stripe and Ping++ behind one API.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        responses=problems.responses(),
        # No redirects at all: a trailing-slash redirect would echo the request's Host.
        redirect_slashes=False,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    problems.install(app)
    routers = (
        payments.router,
        refunds.router,
        events.router,
        public.router,
        webhooks.router,
        health.router,
    )
    for router in routers:
        app.include_router(router)
    app.state.method_index = problems.method_index(routers)
    # Innermost first: the body is read whole before any route; whatever escapes the
    # routes and their handlers is answered by LastResort; the access log sees it all.
    app.add_middleware(BodySizeLimit, max_bytes=resolved.max_body_bytes)
    app.add_middleware(LastResort)
    app.add_middleware(AccessLog)
    return app
