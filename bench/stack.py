"""The system under test: a fresh database, the Stripe sandbox and the API, each a real process.

Everything started here is stopped (and the database dropped) by the `AsyncExitStack` the
caller owns, on success, failure, Ctrl-C or SIGTERM alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.db import to_asyncpg_url
from app.core.migrations import upgrade_to_head

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
SANDBOX_SECRET_KEY = "sk_test_sandbox"
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Stack:
    api_url: str
    sandbox_url: str
    api_key: str
    webhook_secret: str
    database_url: str
    server_version: str
    api_pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the benchmark itself is killed."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Process:
    """A child process with its output in a log file; `stop()` is idempotent."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Our own session: Ctrl-C reaches us, and we stop the children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        self._log.flush()
        text_ = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text_[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()


async def _wait_until_ready(url: str, process: Process, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} not ready at {url} after {seconds} s:\n{process.tail()}")


async def create_database(stack: contextlib.AsyncExitStack) -> tuple[str, str]:
    """A fresh, migrated `payments_bench_<random>`; dropped when `stack` closes."""
    admin_url = to_asyncpg_url(os.environ.get("PAYMENTS_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))
    name = f"payments_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    stack.push_async_callback(admin.dispose)
    async with admin.connect() as connection:
        version = str((await connection.execute(text("SHOW server_version"))).scalar_one())
        await connection.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop() -> None:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        print(f"dropped database {name}", file=sys.stderr)

    stack.push_async_callback(drop)
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    await upgrade_to_head(url)
    return url, version


async def sessions_opened(database_url: str) -> int | None:
    """PostgreSQL's count of sessions opened on the database so far (pg_stat_database)."""
    await asyncio.sleep(1.1)  # backends flush their statistics about once a second
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            value = (
                await connection.execute(
                    text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
                )
            ).scalar_one_or_none()
    finally:
        await engine.dispose()
    return None if value is None else int(value)


def _api_command() -> list[str]:
    script = Path(sys.executable).parent / "payments-service"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "app.cli"]


async def start_stack(
    stack: contextlib.AsyncExitStack,
    log_dir: Path,
    log_level: str = "warning",
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    database_url, server_version = await create_database(stack)
    api_port, sandbox_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    webhook_secret = "whsec_" + secrets.token_hex(24)
    api_key = "bench_" + secrets.token_hex(16)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}

    sandbox = Process(
        "sandbox",
        [
            sys.executable,
            "-m",
            "sandbox.stripe",
            "--host",
            "127.0.0.1",
            "--port",
            str(sandbox_port),
            "--webhook-url",
            f"{api_url}/v1/webhooks/stripe",
            "--webhook-secret",
            webhook_secret,
        ],
        base_env,
        log_dir,
    )
    stack.callback(sandbox.stop)
    await _wait_until_ready(f"{sandbox_url}/_sandbox/health", sandbox, 20)

    api_env = base_env | {
        "PAYMENTS_ENVIRONMENT": "development",
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_API_KEYS": api_key,
        "PAYMENTS_STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
        "PAYMENTS_STRIPE_PUBLISHABLE_KEY": SANDBOX_PUBLISHABLE_KEY,
        "PAYMENTS_STRIPE_WEBHOOK_SECRETS": webhook_secret,
        "PAYMENTS_STRIPE_API_BASE": sandbox_url,
        "PAYMENTS_STRIPE_MAX_NETWORK_RETRIES": "0",
        "PAYMENTS_RUN_WORKERS_IN_API": "false",
        "PAYMENTS_MIGRATE_ON_START": "false",
        "PAYMENTS_LOG_LEVEL": log_level.upper(),
        **(extra_env or {}),
    }
    api = Process(
        "api",
        [
            *_api_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--log-level",
            log_level,
            "--workers",
            str(workers),
        ],
        api_env,
        log_dir,
    )
    stack.callback(api.stop)
    await _wait_until_ready(f"{api_url}/readyz", api, 30)
    return Stack(
        api_url, sandbox_url, api_key, webhook_secret, database_url, server_version, api.popen.pid
    )


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(child) for child in task.read_text().split()]
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time so far of a process and its children (uvicorn --workers);
    None where /proc does not say."""
    total = 0.0
    pending, seen = [pid], set[int]()
    while pending and len(seen) < 64:
        current = pending.pop()
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            if current == pid:
                return None
        pending += [c for c in _children(current) if c not in seen]
    return total
