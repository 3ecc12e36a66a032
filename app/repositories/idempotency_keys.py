from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import DateTime, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.functions import Function

from app.models import IdempotencyKey
from app.repositories.base import Repository


def _clock() -> Function[datetime]:
    # clock_timestamp(), not now(): a lease's end doubles as its fencing token, so two
    # leases taken in one long transaction must still differ.
    return func.clock_timestamp(type_=DateTime(timezone=True))


class IdempotencyKeyRepository(Repository):
    async def insert_leased(
        self,
        *,
        owner: str,
        key: str,
        method: str,
        path: str,
        fingerprint: str,
        lease: timedelta,
        ttl: timedelta,
    ) -> tuple[int, datetime] | None:
        """(id, locked_until) of the new row, or None when the key exists already.

        A concurrent insert of the same key waits on the unique index, then does nothing.
        """
        stmt = (
            insert(IdempotencyKey)
            .values(
                owner=owner,
                key=key,
                request_method=method,
                request_path=path,
                fingerprint=fingerprint,
                locked_until=_clock() + lease,
                created_at=_clock(),
                expires_at=_clock() + ttl,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    IdempotencyKey.owner,
                    IdempotencyKey.request_method,
                    IdempotencyKey.request_path,
                    IdempotencyKey.key,
                ]
            )
            .returning(IdempotencyKey.id, IdempotencyKey.locked_until)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        row_id, locked_until = row
        assert locked_until is not None
        return row_id, locked_until

    async def get_for_update(
        self, owner: str, method: str, path: str, key: str
    ) -> tuple[IdempotencyKey, datetime] | None:
        """The row, locked, with the database's time at the moment it was read."""
        stmt = (
            select(IdempotencyKey, _clock())
            .where(
                IdempotencyKey.owner == owner,
                IdempotencyKey.request_method == method,
                IdempotencyKey.request_path == path,
                IdempotencyKey.key == key,
            )
            .with_for_update(of=IdempotencyKey)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        record, now = row
        return record, now

    async def restart(
        self,
        row_id: int,
        *,
        method: str,
        path: str,
        fingerprint: str,
        lease: timedelta,
        ttl: timedelta,
    ) -> datetime:
        """Make a lapsed or expired row a fresh lease; returns the new locked_until."""
        stmt = (
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id)
            .values(
                request_method=method,
                request_path=path,
                fingerprint=fingerprint,
                response_status=None,
                response_body=None,
                response_headers=None,
                locked_until=_clock() + lease,
                created_at=_clock(),
                completed_at=None,
                expires_at=_clock() + ttl,
            )
            .returning(IdempotencyKey.locked_until)
            .execution_options(synchronize_session=False)
        )
        locked_until = (await self.session.execute(stmt)).scalar_one()
        assert locked_until is not None
        return locked_until

    async def store_response(
        self,
        row_id: int,
        locked_until: datetime,
        *,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        ttl: timedelta,
    ) -> bool:
        """False when the lease was lost (lapsed and taken over, or released)."""
        stmt = (
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id, IdempotencyKey.locked_until == locked_until)
            .values(
                response_status=status,
                response_body=body,
                response_headers=dict(headers),
                locked_until=None,
                completed_at=_clock(),
                expires_at=_clock() + ttl,
            )
            .returning(IdempotencyKey.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def renew(
        self, row_id: int, locked_until: datetime, *, lease: timedelta
    ) -> datetime | None:
        """Extends a lease still held under `locked_until`; the new token, or None if lost."""
        stmt = (
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == row_id,
                IdempotencyKey.locked_until == locked_until,
                IdempotencyKey.response_status.is_(None),
            )
            .values(locked_until=_clock() + lease)
            .returning(IdempotencyKey.locked_until)
            .execution_options(synchronize_session=False)
        )
        renewed: datetime | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return renewed

    async def delete_leased(self, row_id: int, locked_until: datetime) -> bool:
        """False when the lease was lost already."""
        stmt = (
            delete(IdempotencyKey)
            .where(IdempotencyKey.id == row_id, IdempotencyKey.locked_until == locked_until)
            .returning(IdempotencyKey.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def delete_expired(self) -> int:
        deleted = (
            delete(IdempotencyKey)
            .where(IdempotencyKey.expires_at <= _clock())
            .returning(IdempotencyKey.id)
            .cte("deleted")
        )
        count: int = (
            await self.session.execute(select(func.count()).select_from(deleted))
        ).scalar_one()
        return count
