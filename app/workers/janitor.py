from __future__ import annotations

import asyncio

from app.container import Container


async def run_janitor(container: Container, stopping: asyncio.Event) -> None:
    await stopping.wait()
