"""A closed-loop load generator: `concurrency` workers share one bounded list of requests."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

Item = TypeVar("Item")
# Sends one request for `item`; returns None when the answer is the expected one, else a
# short description of what went wrong (counted as an error).
Send = Callable[[httpx.AsyncClient, Item], Awaitable[str | None]]


@dataclass
class Result:
    scenario: str
    concurrency: int
    planned: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request
    errors: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    skipped: int = 0  # not sent: the level's time limit passed first
    api_cpu_seconds: float | None = None  # the API process's CPU time during the level
    client_cpu_seconds: float | None = None  # this process's (the load generator's) CPU time

    @property
    def completed(self) -> int:
        return len(self.latencies) + self.transport_errors

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    @property
    def api_cpu_ms_per_request(self) -> float:
        if self.api_cpu_seconds is None or not self.completed:
            return math.nan
        return self.api_cpu_seconds / self.completed * 1000

    @property
    def client_cpu_ms_per_request(self) -> float:
        if self.client_cpu_seconds is None or not self.completed:
            return math.nan
        return self.client_cpu_seconds / self.completed * 1000

    def percentile_ms(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


@dataclass
class Runner:
    base_url: str
    headers: dict[str, str]
    timeout: float = 30.0

    def client(self) -> httpx.AsyncClient:
        # One keep-alive connection per client and one client per worker: httpcore's shared
        # pool costs the generator about twice the CPU per request at 32 connections.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout, limits=limits
        )

    async def run(
        self,
        scenario: str,
        items: Sequence[Item],
        send: Send[Item],
        concurrency: int,
        *,
        max_seconds: float,
    ) -> Result:
        """Send every item once, `concurrency` at a time; stop issuing after `max_seconds`."""
        result = Result(scenario, concurrency, len(items))
        iterator = iter(items)
        async with contextlib.AsyncExitStack() as clients:
            pool = [await clients.enter_async_context(self.client()) for _ in range(concurrency)]
            started = time.perf_counter()
            cpu_started = time.process_time()
            deadline = started + max_seconds

            async def worker(client: httpx.AsyncClient) -> None:
                for item in iterator:
                    if time.perf_counter() > deadline:
                        result.skipped += 1
                        continue
                    sent = time.perf_counter()
                    try:
                        problem = await send(client, item)
                    except httpx.HTTPError as exc:
                        result.transport_errors += 1
                        result.errors[f"transport {type(exc).__name__}"] += 1
                        continue
                    result.latencies.append(time.perf_counter() - sent)
                    if problem is not None:
                        result.errors[problem] += 1

            await asyncio.gather(*(worker(client) for client in pool))
            result.seconds = time.perf_counter() - started
            result.client_cpu_seconds = time.process_time() - cpu_started
        return result
