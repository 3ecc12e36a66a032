"""What every repository has: built from a session (it never commits), and, for tables
with a single-column primary key, a read by id that can lock the row."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Self, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Base

M = TypeVar("M", bound=Base)


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        return cls(session)


class ModelRepository(Repository, Generic[M]):
    model: ClassVar[type[Any]]

    async def get(self, id_: str, *, for_update: bool = False) -> M | None:
        stmt = select(self.model).where(self.model.id == id_)
        if for_update:
            stmt = stmt.with_for_update()
        found: M | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    def add(self, row: M) -> None:
        self.session.add(row)
