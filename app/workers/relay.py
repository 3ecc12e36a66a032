"""The outbox relay loop: deliver a batch, and when nothing is due, sleep until a commit's
NOTIFY wakes us or the poll interval passes (NOTIFY is lost while the listener is away)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import httpx
from sqlalchemy.engine import URL

from app.container import Container
from app.repositories.events import NOTIFY_CHANNEL
from app.services.event_delivery import MAX_CONCURRENT_DELIVERIES, EventRelay

logger = logging.getLogger(__name__)

LISTENER_APPLICATION_NAME = "payments-service-relay"
LISTENER_CHECK_SECONDS = 30.0
LISTENER_RETRY_SECONDS = 2.0
LISTENER_RECONNECT_PAUSE_SECONDS = 0.2


async def run_relay(container: Container, stopping: asyncio.Event) -> None:
    settings = container.settings
    if settings.notification_url is None:
        logger.warning(
            "PAYMENTS_NOTIFICATION_URL is not set: the relay idles and events stay pending"
        )
        await stopping.wait()
        return
    wake = asyncio.Event()
    listener = asyncio.create_task(
        listen(container.engine.url, wake, stopping), name="relay-listener"
    )
    try:
        async with httpx.AsyncClient(
            timeout=settings.notification_timeout_seconds,
            limits=httpx.Limits(
                max_connections=MAX_CONCURRENT_DELIVERIES,
                max_keepalive_connections=MAX_CONCURRENT_DELIVERIES,
            ),
            follow_redirects=False,
        ) as http:
            relay = EventRelay(container.sessionmaker, settings, http)
            while not stopping.is_set():
                wake.clear()
                try:
                    attempted = await relay.run_once()
                except Exception:
                    logger.exception("the relay could not claim or deliver a batch")
                    attempted = 0
                if attempted == 0:
                    await first_of(wake, stopping, within=settings.relay_poll_seconds)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def listen(url: URL, wake: asyncio.Event, stopping: asyncio.Event) -> None:
    """Sets `wake` on each NOTIFY, over a dedicated connection, reconnecting when it drops."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stopping.is_set():
        try:
            connection = await asyncpg.connect(
                dsn, server_settings={"application_name": LISTENER_APPLICATION_NAME}
            )
        except Exception as exc:
            # Polling carries on meanwhile, so a listener that cannot connect is not fatal.
            logger.warning("relay listener cannot connect (%s); polling meanwhile", exc)
            await first_of(stopping, within=LISTENER_RETRY_SECONDS)
            continue
        reason = await _listen_on(connection, wake, stopping)
        if reason is not None and not stopping.is_set():
            logger.warning("relay listener lost its connection (%s); reconnecting", reason)
            await first_of(stopping, within=LISTENER_RECONNECT_PAUSE_SECONDS)


async def _listen_on(
    connection: asyncpg.Connection, wake: asyncio.Event, stopping: asyncio.Event
) -> str | None:
    """Until stopping (None) or until the connection fails (why)."""
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _: lost.set())
    try:
        await connection.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
        logger.info("relay listening on %s", NOTIFY_CHANNEL)
        # Whatever was committed while nobody listened.
        wake.set()
        while not stopping.is_set():
            if lost.is_set():
                return "closed by the server"
            if not await first_of(lost, stopping, within=LISTENER_CHECK_SECONDS):
                # A half-open connection delivers nothing and never says so.
                await asyncio.wait_for(connection.fetchval("SELECT 1"), LISTENER_RETRY_SECONDS)
        return None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return str(exc) or type(exc).__name__
    finally:
        if not connection.is_closed():
            connection.terminate()


async def first_of(*events: asyncio.Event, within: float) -> bool:
    """Waits until one of `events` is set, for at most `within` seconds; True if one was."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)
