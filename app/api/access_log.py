"""One line per request, written by us rather than uvicorn: its access log prints the
query string verbatim, and callers do send credentials in query strings."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.redaction import redact, redact_query

logger = logging.getLogger("payments.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            query = redact_query(scope.get("query_string", b"").decode("latin-1"))
            path = redact(scope["path"]) + (f"?{query}" if query else "")
            client = scope.get("client")
            logger.info(
                '%s "%s %s" %d %.1fms',
                client[0] if client else "-",
                scope["method"],
                path,
                status,
                (time.perf_counter() - started) * 1000,
                extra={"status": status, "method": scope["method"], "path": scope["path"]},
            )
