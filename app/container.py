"""Everything a process needs, built once from settings: the API's lifespan and the
workers both start here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.db import create_engine, create_sessionmaker, resolve_database_url
from app.core.migrations import upgrade_to_head
from app.core.settings import Settings
from app.providers.registry import ProviderRegistry
from app.services.events import EventService
from app.services.idempotency import IdempotencyService
from app.services.payment_updates import PaymentPolicy, PaymentUpdater
from app.services.payments import PaymentService
from app.services.refunds import RefundService
from app.services.webhooks import WebhookService


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    registry: ProviderRegistry
    payments: PaymentService
    refunds: RefundService
    webhooks: WebhookService
    idempotency: IdempotencyService
    events: EventService
    api_key_digests: tuple[str, ...]

    async def aclose(self) -> None:
        await self.registry.aclose()
        await self.engine.dispose()


async def build_container(settings: Settings) -> Container:
    settings.check_startup()
    url = await asyncio.to_thread(resolve_database_url, settings)
    if settings.migrate_on_start:
        await upgrade_to_head(url)
    engine = create_engine(url, settings)
    sessionmaker = create_sessionmaker(engine)
    registry = ProviderRegistry.from_settings(settings)
    refunds = RefundService(sessionmaker, registry)
    updater = PaymentUpdater(PaymentPolicy.from_settings(settings), start_refund=refunds.resume)
    return Container(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        registry=registry,
        payments=PaymentService(sessionmaker, registry, updater, settings.default_channel),
        refunds=refunds,
        webhooks=WebhookService(sessionmaker, registry, updater),
        idempotency=IdempotencyService(
            sessionmaker, lease=timedelta(seconds=settings.idempotency_lease_seconds)
        ),
        events=EventService(sessionmaker),
        api_key_digests=tuple(settings.api_key_digests()),
    )
