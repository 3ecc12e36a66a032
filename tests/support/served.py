"""A real `payments-service serve` process on 127.0.0.1, its output kept in a file: what
an operator runs, with uvicorn's own HTTP parsing, our protocol classes and our logs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.core.settings import Settings
from app.main import create_app
from sandbox.runner import ServerThread
from tests.conftest import API_KEY, free_port
from tests.support.processes import running

COMMAND = str(Path(sys.executable).parent / "payments-service")


@dataclass(frozen=True)
class Served:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def served(env: dict[str, str], log: Path, *, port: int | None = None) -> Iterator[Served]:
    port = port or free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    environment.update(env)
    url = f"http://127.0.0.1:{port}"
    command = [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)]
    log.write_bytes(b"")
    with running(command, ready=f"{url}/healthz", env=environment, log=log):
        yield Served(url, log)


def in_thread(settings: Settings) -> Iterator[httpx.AsyncClient]:
    """The API with other settings in a thread of this process, over HTTP, with a key."""
    with ServerThread(create_app(settings)) as server:
        yield httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
        )
