"""Idempotency-Key: the first complete answer to a request is kept and replayed.

A key is scoped to its owner (the caller's API-key digest) and its route (method and
path): one key string may serve a `/sync` and a `/cancel`. `begin` either replays a
stored answer or hands out a lease: the row is marked in flight with `locked_until`, and
no row lock is held while the handler runs, because handlers call payment providers and
a provider call never sits inside an open transaction. The lease's `locked_until` is
also its fencing token: a holder whose lease lapsed and was taken over can neither store
nor release the newer holder's key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import errors
from app.core.db import transaction
from app.repositories.idempotency_keys import IdempotencyKeyRepository

logger = logging.getLogger(__name__)

# A purge can delete the row between our insert's conflict and our read of it; one more
# round then inserts it afresh.
_BEGIN_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Lease:
    """A request's hold on its key. `locked_until` is the fencing token and moves on each
    renewal; `guard` keeps a renewal from crossing the final store or release."""

    id: int
    owner: str
    key: str
    locked_until: datetime
    guard: asyncio.Lock = field(default_factory=asyncio.Lock)
    finished: bool = False


def canonical_body(body: bytes) -> bytes:
    """JSON re-serialised with sorted keys and no whitespace; other bodies as they are."""
    if not body.strip():
        return b""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(
        parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    ).encode()


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical_body(body)):
        # Length-prefixed, so no two different (method, path, body) triples collide.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        ttl: timedelta = timedelta(hours=24),
        lease: timedelta = timedelta(seconds=6),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.ttl = ttl
        # Short, and renewed while the request runs: a holder that died frees its key
        # within one lease, and a live one slower than a lease keeps it.
        self.lease = lease

    async def begin(
        self, owner: str, key: str, method: str, path: str, fingerprint: str
    ) -> Replay | Lease:
        """Replay the stored answer, or lease the key to this request.

        Raises IdempotencyKeyReused when the key was first used for another request, and
        IdempotencyRequestInProgress while another request holds a live lease on it.
        """
        method = method.upper()
        async with transaction(self.sessionmaker) as session:
            repository = IdempotencyKeyRepository.from_session(session)
            for _ in range(_BEGIN_ROUNDS):
                inserted = await repository.insert_leased(
                    owner=owner,
                    key=key,
                    method=method,
                    path=path,
                    fingerprint=fingerprint,
                    lease=self.lease,
                    ttl=self.ttl,
                )
                if inserted is not None:
                    row_id, locked_until = inserted
                    return Lease(row_id, owner, key, locked_until)
                found = await repository.get_for_update(owner, method, path, key)
                if found is None:
                    continue
                record, now = found
                if record.expires_at > now:
                    if record.fingerprint != fingerprint:
                        raise errors.IdempotencyKeyReused(
                            f"The Idempotency-Key {key!r} was first used for another "
                            f"request ({record.request_method} {record.request_path} with "
                            "another body); use a new key for a new request"
                        )
                    if record.response_status is not None:
                        return Replay(
                            status=record.response_status,
                            body=record.response_body or b"",
                            headers=dict(record.response_headers or {}),
                        )
                    if record.locked_until is not None and record.locked_until > now:
                        raise errors.IdempotencyRequestInProgress(
                            f"A request with the Idempotency-Key {key!r} is still running"
                        )
                # Expired, or a lapsed lease whose holder died: this request takes it over.
                locked_until = await repository.restart(
                    record.id,
                    method=method,
                    path=path,
                    fingerprint=fingerprint,
                    lease=self.lease,
                    ttl=self.ttl,
                )
                return Lease(record.id, owner, key, locked_until)
        raise errors.ConcurrentUpdate(
            f"The Idempotency-Key {key!r} changed repeatedly while it was read; retry"
        )

    @contextlib.asynccontextmanager
    async def held(self, lease: Lease) -> AsyncIterator[None]:
        """Renews `lease` every third of its length while the body runs."""
        renewer = asyncio.create_task(self._keep_renewing(lease))
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _keep_renewing(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with lease.guard:
                if lease.finished:
                    return
                try:
                    async with transaction(self.sessionmaker) as session:
                        renewed = await IdempotencyKeyRepository.from_session(session).renew(
                            lease.id, lease.locked_until, lease=self.lease
                        )
                except Exception:
                    # The next round tries again; a lease that lapses meanwhile is lost,
                    # and then this request can store nothing (the fence says so).
                    logger.warning("could not renew an idempotency lease", exc_info=True)
                    continue
                if renewed is None:
                    logger.warning(
                        "idempotency lease lost while its request ran",
                        extra={"idempotency_key_id": lease.id},
                    )
                    return
                lease.locked_until = renewed

    async def complete(
        self, lease: Lease, status: int, body: bytes, headers: Mapping[str, str]
    ) -> bool:
        """Store the answer for replay; False when the lease was lost and nothing was stored."""
        async with lease.guard:
            lease.finished = True
            async with transaction(self.sessionmaker) as session:
                stored = await IdempotencyKeyRepository.from_session(session).store_response(
                    lease.id,
                    lease.locked_until,
                    status=status,
                    body=body,
                    headers=headers,
                    ttl=self.ttl,
                )
        if not stored:
            logger.warning(
                "idempotency lease lost before its response was stored",
                extra={"idempotency_key_id": lease.id},
            )
        return stored

    async def release(self, lease: Lease) -> bool:
        """Forget the key, so a retry with it runs again; False when the lease was lost."""
        async with lease.guard:
            lease.finished = True
            async with transaction(self.sessionmaker) as session:
                return await IdempotencyKeyRepository.from_session(session).delete_leased(
                    lease.id, lease.locked_until
                )

    async def purge_expired(self) -> int:
        async with transaction(self.sessionmaker) as session:
            return await IdempotencyKeyRepository.from_session(session).delete_expired()
