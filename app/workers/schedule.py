"""Run a job every N seconds until told to stop; a failing run waits for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def every(
    seconds: float, stopping: asyncio.Event, job: Callable[[], Awaitable[object]], name: str
) -> None:
    while not stopping.is_set():
        try:
            await job()
        except Exception:
            logger.exception("%s failed; trying again in %s s", name, seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)
