"""The reconciliation janitor: every `reconcile_interval_seconds`, one pass by the leader.

Every worker process runs this loop; the advisory lock inside `Reconciler.run_once` lets
one of them do the work at a time, so scaling the workers out needs no coordination here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.container import Container
from app.services.reconciliation import CheckSchedule, Reconciler
from app.workers.schedule import every


def build_reconciler(container: Container) -> Reconciler:
    settings = container.settings
    stale_after = timedelta(seconds=settings.reconcile_stale_after_seconds)
    return Reconciler(
        container.sessionmaker,
        container.registry,
        container.payments,
        container.refunds,
        container.webhooks,
        stale_after=stale_after,
        schedule=CheckSchedule(
            first=max(stale_after, timedelta(seconds=1)),
            longest=timedelta(seconds=settings.reconcile_max_delay_seconds),
        ),
        batch_size=settings.reconcile_batch_size,
        concurrency=settings.reconcile_concurrency,
    )


async def run_janitor(container: Container, stopping: asyncio.Event) -> None:
    reconciler = build_reconciler(container)
    await every(
        container.settings.reconcile_interval_seconds,
        stopping,
        lambda: reconciler.run_once(stopping),
        "reconciliation run",
    )
