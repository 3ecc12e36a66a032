"""A real `payments-service serve` process on 127.0.0.1, its output kept in a file: what
an operator runs, with uvicorn's own HTTP parsing, our protocol classes and our logs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port

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
    with log.open("wb") as output:
        process = subprocess.Popen(
            [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"serve exited with {process.returncode}:\n{log.read_text()}"
                    )
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"serve did not answer:\n{log.read_text()}")
                time.sleep(0.1)
            yield Served(url, log)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
