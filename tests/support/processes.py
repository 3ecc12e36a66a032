"""A program of ours run as its user runs it: started, waited for until it answers over
HTTP, and stopped (SIGTERM, then SIGKILL) whatever the test did."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

import httpx


@contextmanager
def running(
    command: list[str],
    *,
    ready: str,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
    seconds: float = 30,
) -> Iterator[subprocess.Popen[bytes]]:
    """Until `ready` answers 200; its output goes to `log` (appended), or nowhere."""
    with ExitStack() as stack:
        output: IO[bytes] | int = (
            stack.enter_context(log.open("ab")) if log is not None else subprocess.DEVNULL
        )
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + seconds
            while True:
                if process.poll() is not None:
                    said = log.read_text(errors="replace") if log is not None else ""
                    raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{said}")
                try:
                    if httpx.get(ready, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nothing answered at {ready}")
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
