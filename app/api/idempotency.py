"""The route side of Idempotency-Key: fingerprint the request, then replay or run and keep.

Routes call `run_idempotent` only after FastAPI has checked the API key and validated the
body, so a request refused before doing anything never takes a key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from fastapi import Request, Response

from app.api.problems import from_app_error
from app.core import errors
from app.services.idempotency import IdempotencyService, Lease, Replay, fingerprint

logger = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"
# Only what a replay needs to mean the same; the rest (dates, lengths) is made afresh.
STORED_HEADERS = ("content-type", "location")


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A POST's Idempotency-Key, bound to its caller and request; routes `run` their work."""

    service: IdempotencyService
    owner: str
    key: str | None
    request: Request

    async def run(self, handler: Callable[[], Awaitable[Response]]) -> Response:
        return await run_idempotent(
            self.service, owner=self.owner, key=self.key, request=self.request, handler=handler
        )


async def run_idempotent(
    service: IdempotencyService,
    *,
    owner: str,
    key: str | None,
    request: Request,
    handler: Callable[[], Awaitable[Response]],
) -> Response:
    if key is None:
        return await handler()
    body = await request.body()
    path = request.url.path
    # The query string is part of what was asked, though the column keeps only the path.
    target = f"{path}?{request.url.query}" if request.url.query else path
    outcome = await service.begin(
        owner, key, request.method, path, fingerprint(request.method, target, body)
    )
    if isinstance(outcome, Replay):
        return replay_response(outcome)
    retryable = False
    try:
        async with service.held(outcome):
            response = await handler()
    except errors.AppError as exc:
        response = from_app_error(exc)
        # The one decision: an error that says "retry" is not kept; one that proves the
        # outcome (a decline, a conflict, a provider's refusal) is replayed. A key the
        # service knows was first used for another request (a refund made before the key's
        # row here was purged) is not this request's to keep either.
        retryable = exc.retryable or isinstance(exc, errors.IdempotencyKeyReused)
    except BaseException:
        await _release(service, outcome)
        raise
    response_body = _body_of(response)
    if response_body is None or retryable:
        # A retry with this key must run again; the services make that safe by reusing
        # their deterministic provider keys.
        await _release(service, outcome)
        return response
    try:
        await service.complete(
            outcome, response.status_code, response_body, stored_headers(response)
        )
    except Exception:
        # The work is done and the caller should learn its result; the key stays leased
        # until the lease lapses, after which a retry runs again.
        logger.exception("could not store an idempotent response", extra={"path": path})
    return response


def replay_response(replay: Replay) -> Response:
    headers = {k: v for k, v in replay.headers.items() if k.lower() != "content-type"}
    headers[REPLAYED_HEADER] = "true"
    return Response(
        content=replay.body,
        status_code=replay.status,
        headers=headers,
        media_type=replay.headers.get("content-type"),
    )


def stored_headers(response: Response) -> dict[str, str]:
    return {name: response.headers[name] for name in STORED_HEADERS if name in response.headers}


def _body_of(response: Response) -> bytes | None:
    # A streamed response has no body to keep; it runs again on a retry instead.
    body = getattr(response, "body", None)
    return bytes(body) if isinstance(body, bytes | memoryview) else None


async def _release(service: IdempotencyService, lease: Lease) -> None:
    # Shielded: a cancelled request must still give its key back rather than leave it
    # locked until the lease lapses.
    with anyio.CancelScope(shield=True):
        try:
            await service.release(lease)
        except Exception:
            logger.exception("could not release an idempotency key", extra={"lease": lease.id})
