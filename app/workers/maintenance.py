"""Housekeeping: expired idempotency keys are purged every hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.container import Container

logger = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 3600.0


async def run_maintenance(container: Container, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            purged = await container.idempotency.purge_expired()
            if purged:
                logger.info("purged expired idempotency keys", extra={"count": purged})
        except Exception:
            logger.exception("idempotency key purge failed; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), PURGE_EVERY_SECONDS)
