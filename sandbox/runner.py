"""Serve an ASGI app with uvicorn on 127.0.0.1, in a background thread or in the foreground."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .pingxx.config import PingxxSandboxConfig
from .stripe.config import StripeSandboxConfig
from .stripe.server import create_app


class ServerThread:
    """Runs `app` in a thread with its own event loop.

    >>> with ServerThread(create_app(StripeSandboxConfig())) as server:
    ...     client = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": server.url})
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        if self._thread is not None:
            raise RuntimeError("server already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            # The host process (pytest, the dev command) owns logging configuration.
            log_config=None,
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                assert self._server is not None
                loop.run_until_complete(self._server.serve(sockets=[sock]))
            except BaseException as exc:  # reported to start() and re-raised there
                errors.append(exc)
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if errors or not self._thread.is_alive():
                self._thread = None
                self._cleanup_socket()
                raise RuntimeError(f"server failed to start: {errors[0] if errors else 'exited'}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"server did not start within {self._startup_timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._server = None
        self._cleanup_socket()

    def _cleanup_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_stripe_sandbox(
    host: str = "127.0.0.1", port: int = 12111, config: StripeSandboxConfig | None = None
) -> None:
    """Serve the Stripe sandbox in the foreground until interrupted."""
    uvicorn.run(create_app(config or StripeSandboxConfig()), host=host, port=port, log_level="info")


def run_pingxx_sandbox(
    host: str = "127.0.0.1", port: int = 12112, config: PingxxSandboxConfig | None = None
) -> None:
    """Serve the Ping++ sandbox in the foreground until interrupted."""
    # Imported here so the Stripe-only callers of this module do not load the RSA stack.
    from .pingxx.server import create_app as create_pingxx_app

    app = create_pingxx_app(config or PingxxSandboxConfig())
    uvicorn.run(app, host=host, port=port, log_level="info")
