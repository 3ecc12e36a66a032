"""Housekeeping: expired idempotency keys are purged every hour."""

from __future__ import annotations

import asyncio
import logging

from app.container import Container
from app.workers.schedule import every

logger = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 3600.0


async def run_maintenance(container: Container, stopping: asyncio.Event) -> None:
    async def purge() -> None:
        purged = await container.idempotency.purge_expired()
        if purged:
            logger.info("purged expired idempotency keys", extra={"count": purged})

    await every(PURGE_EVERY_SECONDS, stopping, purge, "idempotency key purge")
