"""The schema comes only from migrations, and they run both ways on an empty database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url, text
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
