"""Retention: old handled webhooks and finished events go; nothing unhandled or pending."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import create_sessionmaker
from app.services.housekeeping import Housekeeping


async def seed(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for name, age_days, processed in (
            ("evt_old_done", 40, True),
            ("evt_old_unhandled", 40, False),
            ("evt_new_done", 1, True),
        ):
            await connection.execute(
                text(
                    "INSERT INTO webhook_events (provider, event_id, event_type, payload, "
                    "provider_created_at, received_at, processed_at, attempts) VALUES "
                    "('stripe', :e, 'x', '{}', now(), now() - make_interval(days => :d), "
                    "CASE WHEN :p THEN now() END, 0)"
                ),
                {"e": name, "d": age_days, "p": processed},
            )
        for name, age_days, status in (
            ("evt_old_delivered", 40, "delivered"),
            ("evt_old_dead", 40, "dead"),
            ("evt_old_pending", 40, "pending"),
            ("evt_new_delivered", 1, "delivered"),
        ):
            await connection.execute(
                text(
                    "INSERT INTO outbox_events (id, type, payment_id, data, created_at, status, "
                    "attempts, next_attempt_at) VALUES (:e, 'payment.created', 'pay_x', '{}', "
                    "now() - make_interval(days => :d), :s, 1, now())"
                ),
                {"e": name, "d": age_days, "s": status},
            )
            await connection.execute(
                text(
                    "INSERT INTO delivery_attempts (event_id, attempt, attempted_at, latency_ms) "
                    "VALUES (:e, 1, now(), 5)"
                ),
                {"e": name},
            )


class TestRetention:
    async def test_what_is_past_retention_and_finished_is_pruned(self, db: AsyncEngine) -> None:
        await seed(db)
        housekeeping = Housekeeping(
            create_sessionmaker(db),
            webhook_retention=timedelta(days=30),
            event_retention=timedelta(days=30),
        )

        purged = await housekeeping.purge()

        assert (purged.webhooks, purged.events) == (1, 2)
        async with db.connect() as connection:
            webhooks = set(
                (await connection.execute(text("SELECT event_id FROM webhook_events"))).scalars()
            )
            events = set((await connection.execute(text("SELECT id FROM outbox_events"))).scalars())
            attempts = set(
                (await connection.execute(text("SELECT event_id FROM delivery_attempts"))).scalars()
            )
        assert webhooks == {"evt_old_unhandled", "evt_new_done"}
        assert events == {"evt_old_pending", "evt_new_delivered"}
        assert attempts == events
