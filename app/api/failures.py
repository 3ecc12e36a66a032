"""What becomes of an exception no handler took: a database that went away is a retryable
503 (with Retry-After), anything else a logged 500; either way a problem+json answer on a
connection that stays open. Starlette's own last-resort handler re-raises after answering,
which makes uvicorn drop the caller's keep-alive connection."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import from_app_error, problem_response
from app.core import errors

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
_CONNECTION_ERRORS = (
    OSError,  # refused, reset, unreachable, and connect timeouts
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed"
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,  # pg_terminate_backend, a server shutting down
    asyncpg.CrashShutdownError,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def database_unavailable(exc: BaseException) -> bool:
    for link in _chain(exc):
        if isinstance(link, sa_exc.TimeoutError):  # no pooled connection came free
            return True
        if isinstance(link, sa_exc.DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, _CONNECTION_ERRORS):
            return True
    return False


class LastResort:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started:
                raise
            if database_unavailable(exc):
                logger.warning(
                    "database unavailable: %s", type(exc).__name__, extra={"path": scope["path"]}
                )
                response = from_app_error(errors.DatabaseUnavailable())
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            else:
                logger.exception("unhandled error", extra={"path": scope["path"]})
                response = problem_response(
                    status=500,
                    code="internal_error",
                    title="Internal error",
                    detail="The service failed to handle this request; it has been logged.",
                    retryable=True,
                )
            await response(scope, receive, send)
