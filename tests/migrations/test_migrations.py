"""The schema comes only from migrations, and they run both ways on an empty database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.db import Base
from app.core.migrations import alembic_config, downgrade_to_base, upgrade_to_head


@pytest.fixture
async def empty_database(admin_database_url: str) -> AsyncIterator[str]:
    name = f"payments_migrations_{secrets.token_hex(4)}"
    admin = create_async_engine(admin_database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(admin_database_url).set(database=name).render_as_string(hide_password=False)
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


class TestMigrations:
    async def test_upgrade_downgrade_upgrade(self, empty_database: str) -> None:
        await upgrade_to_head(empty_database)
        assert await table_names(empty_database) == set(Base.metadata.tables)
        await downgrade_to_base(empty_database)
        assert await table_names(empty_database) == set()
        await upgrade_to_head(empty_database)
        assert await table_names(empty_database) == set(Base.metadata.tables)

    async def test_models_and_migrations_agree(self, empty_database: str) -> None:
        await upgrade_to_head(empty_database)
        engine = create_async_engine(empty_database)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        await engine.dispose()
        assert diff == [], "the models changed without a migration"

    def test_one_head(self) -> None:
        from alembic.script import ScriptDirectory

        heads = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_heads()
        assert len(heads) == 1


async def _payment(connection: object, amount: int) -> None:
    await connection.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO payments (id, order_id, amount, currency, payment_channel, method, "
            "status, refund_status, livemode, client_token_digests, created_at, updated_at, "
            "expires_at) VALUES ('pay_cap', 'order-cap', :a, 'USD', 'stripe', "
            "'payment_intent', 'succeeded', 'none', false, ARRAY['0'], now(), now(), now())"
        ),
        {"a": amount},
    )


class TestTheDatabaseHoldsTheRefundCap:
    """The Python check runs first everywhere, so only a direct write shows the CHECK."""

    @pytest.mark.parametrize(
        ("refunded", "pending", "overbooked", "allowed"),
        [
            (1000, 0, 0, True),
            (400, 600, 0, True),
            (1001, 0, 0, False),
            (400, 601, 0, False),
            # A refund made at the provider took room from ours: recorded, and overbooked.
            (1000, 600, 600, True),
            (1000, 600, 599, False),
            (0, 100, 101, False),
            (-1, 0, 0, False),
        ],
    )
    async def test_refuses_a_row_over_the_cap_and_accepts_exactly_the_cap(
        self,
        empty_database: str,
        refunded: int,
        pending: int,
        overbooked: int,
        allowed: bool,
    ) -> None:
        await upgrade_to_head(empty_database)
        engine = create_async_engine(empty_database)
        try:
            async with engine.begin() as connection:
                await _payment(connection, 1000)
            update = text(
                "UPDATE payments SET amount_refunded = :r, amount_refund_pending = :p, "
                "amount_refund_overbooked = :o WHERE id = 'pay_cap'"
            )
            values = {"r": refunded, "p": pending, "o": overbooked}
            if allowed:
                async with engine.begin() as connection:
                    await connection.execute(update, values)
            else:
                with pytest.raises(IntegrityError, match="ck_payments_refund_cap"):
                    async with engine.begin() as connection:
                        await connection.execute(update, values)
        finally:
            await engine.dispose()


async def _definitions(url: str) -> dict[str, str]:
    """Every constraint and index of our tables, by name, as PostgreSQL states it."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            constraints = await connection.execute(
                text(
                    "SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) "
                    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
                )
            )
            indexes = await connection.execute(
                text(
                    "SELECT tablename || '.' || indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = 'public'"
                )
            )
            found: dict[str, str] = {name: definition for name, definition in constraints}  # noqa: C416
            found.update({name: definition for name, definition in indexes})  # noqa: C416
    finally:
        await engine.dispose()
    return {k: v for k, v in found.items() if not k.startswith("alembic_version.")}


class TestModelsAndMigrationsDefineTheSameConstraints:
    async def test_every_check_unique_key_and_index_is_the_same(
        self, empty_database: str, admin_database_url: str
    ) -> None:
        """Autogenerate compares no CHECK: a cap loosened in a migration (or in a model)
        alone would pass every other test."""
        await upgrade_to_head(empty_database)
        name = f"payments_models_{secrets.token_hex(4)}"
        admin = create_async_engine(admin_database_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        from_models = (
            make_url(admin_database_url).set(database=name).render_as_string(hide_password=False)
        )
        try:
            engine = create_async_engine(from_models)
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            await engine.dispose()
            migrated, modelled = await _definitions(empty_database), await _definitions(from_models)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
        assert "payments.ck_payments_refund_cap" in migrated
        assert migrated == modelled
