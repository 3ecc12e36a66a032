"""Background work: the outbox relay, the reconciliation janitor and housekeeping.

`payments-service worker` runs them in their own process; with
PAYMENTS_RUN_WORKERS_IN_API=true the API process runs them as well.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from app.container import Container, build_container
from app.core.settings import Settings
from app.workers.janitor import run_janitor
from app.workers.maintenance import run_maintenance
from app.workers.relay import run_relay

logger = logging.getLogger(__name__)

Worker = Callable[[Container, asyncio.Event], Coroutine[Any, Any, None]]
STOP_GRACE_SECONDS = 15.0
WORKERS: dict[str, Worker] = {
    "relay": run_relay,
    "janitor": run_janitor,
    "maintenance": run_maintenance,
}


class BackgroundWorkers:
    def __init__(self, tasks: list[asyncio.Task[None]], stopping: asyncio.Event) -> None:
        self.tasks = tasks
        self.stopping = stopping

    async def stop(self) -> None:
        self.stopping.set()
        done, pending = await asyncio.wait(self.tasks, timeout=STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                logger.error("worker ended with an error", exc_info=task.exception())

    async def wait(self) -> None:
        await asyncio.gather(*self.tasks)


def start_background_workers(
    container: Container, names: tuple[str, ...] = tuple(WORKERS)
) -> BackgroundWorkers:
    stopping = asyncio.Event()
    tasks = [
        asyncio.create_task(WORKERS[name](container, stopping), name=f"worker-{name}")
        for name in names
    ]
    return BackgroundWorkers(tasks, stopping)


async def run_worker_process(settings: Settings, names: tuple[str, ...]) -> None:
    """Until SIGTERM or SIGINT; then finish the current batch and stop."""
    container = await build_container(settings)
    workers = start_background_workers(container, names)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, workers.stopping.set)
    logger.info("workers running", extra={"workers": list(names)})
    try:
        await workers.stopping.wait()
    finally:
        await workers.stop()
        await container.aclose()
