"""Housekeeping, every hour: expired idempotency keys, and the inbox and the events sent
once past their retention."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app.container import Container
from app.services.housekeeping import Housekeeping
from app.workers.schedule import every

logger = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 3600.0


async def run_maintenance(container: Container, stopping: asyncio.Event) -> None:
    settings = container.settings
    housekeeping = Housekeeping(
        container.sessionmaker,
        webhook_retention=timedelta(days=settings.webhook_retention_days),
        event_retention=timedelta(days=settings.event_retention_days),
    )

    async def purge() -> None:
        keys = await container.idempotency.purge_expired()
        purged = await housekeeping.purge()
        if keys or purged.webhooks or purged.events:
            logger.info(
                "purged expired rows",
                extra={
                    "idempotency_keys": keys,
                    "webhooks": purged.webhooks,
                    "events": purged.events,
                },
            )

    await every(PURGE_EVERY_SECONDS, stopping, purge, "maintenance purge")
