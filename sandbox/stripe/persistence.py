"""The sandbox's state in a JSON file, so a restarted sandbox still knows its objects.

Saved: every store (objects, events, webhook endpoints), the test card behind each
PaymentMethod, what the sandbox keeps beside PaymentIntents, finished idempotency records and
the id generators' positions. Not saved: runtime settings, counters, the delivery log and
scheduled background work (deliveries, delayed refund failures), which die with the process.

The file is replaced atomically (a temporary file in the same directory, fsync, rename), so a
crash leaves either the old state or the new one, never half of each. A write happens before
the answer to any request that may have changed something is sent, and otherwise at most every
`interval` seconds when background work changed the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .cards import lookup
from .state import IdempotencyRecord, PaymentIntentSide, Stores, StripeSandbox

Obj = dict[str, Any]

log = logging.getLogger("sandbox.stripe.persistence")

FORMAT_VERSION = 1
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class StateFileError(RuntimeError):
    """The state file exists but cannot be used; the sandbox refuses to start over it."""


def snapshot(sb: StripeSandbox) -> Obj:
    return {
        "version": FORMAT_VERSION,
        # Keyed as in memory (side tables need not carry an `id`); JSON keeps the order, which
        # is creation order, which lists rely on.
        "stores": {f.name: sb.stores.get(f.name) for f in fields(Stores)},
        "pm_cards": {pm_id: card.number for pm_id, card in sb.pm_cards.items()},
        "pi_side": {pi_id: asdict(side) for pi_id, side in sb.pi_side.items()},
        # A record still running belongs to a request the restart cut off; keeping it would
        # answer 409 for that key forever.
        "idempotency": [
            {
                "api_key": api_key,
                "key": key,
                "path": record.path,
                "params": record.params,
                "created": record.created,
                "request_id": record.request_id,
                "status": record.status,
                "body": record.body.decode(),
            }
            for (api_key, key), record in sb.idempotency.items()
            if record.done
        ],
        "rng": _state_to_json(sb.rng.getstate()),
        "fault_rng": _state_to_json(sb.fault_rng.getstate()),
    }


def restore(sb: StripeSandbox, data: Obj) -> None:
    """Replace the sandbox's memory with a snapshot, then add configured endpoints it lacks."""
    if data.get("version") != FORMAT_VERSION:
        raise StateFileError(f"unsupported state file version {data.get('version')!r}")
    stores = Stores()
    for f in fields(Stores):
        stores.get(f.name).update(data["stores"].get(f.name, {}))
    sb.stores = stores
    sb.pm_cards = {}
    for pm_id, number in data["pm_cards"].items():
        card = lookup(number)
        if card is None:
            raise StateFileError(f"PaymentMethod {pm_id} has no test card {number}")
        sb.pm_cards[pm_id] = card
    sb.pi_side = {pi_id: PaymentIntentSide(**side) for pi_id, side in data["pi_side"].items()}
    sb.idempotency = {
        (row["api_key"], row["key"]): IdempotencyRecord(
            path=row["path"],
            params=row["params"],
            created=row["created"],
            request_id=row["request_id"],
            done=True,
            status=row["status"],
            body=row["body"].encode(),
        )
        for row in data["idempotency"]
    }
    sb.rng.setstate(_state_from_json(data["rng"]))
    sb.fault_rng.setstate(_state_from_json(data["fault_rng"]))
    known = {(e["url"], e["secret"]) for e in sb.stores.webhook_endpoints.values()}
    for url, secret in sb.config.webhook_endpoints:
        if (url, secret) not in known:
            sb.add_webhook_endpoint(url, secret, ["*"], description="configured at start")


def _state_to_json(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _state_from_json(value: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = value
    return (version, tuple(internal), gauss)


class StateFile:
    """One sandbox's state file: loaded once at start, rewritten whenever the state changed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._written: str | None = None

    def load(self, sb: StripeSandbox) -> bool:
        """Restore `sb` from the file; False when there is no file yet."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return False
        try:
            restore(sb, json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateFileError(f"cannot load sandbox state from {self.path}: {exc}") from exc
        self._written = text
        log.info("loaded sandbox state from %s", self.path)
        return True

    def save(self, sb: StripeSandbox) -> bool:
        """Write the state if it changed since the last write; True when it wrote."""
        text = json.dumps(snapshot(sb), separators=(",", ":"))
        if text == self._written:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        self._written = text
        return True

    async def save_periodically(self, sb: StripeSandbox, interval: float = 0.5) -> None:
        """Catch what background work changes (deliveries, delayed transitions)."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.save(sb)
            except OSError:
                log.exception("could not write sandbox state to %s", self.path)


class SaveBeforeAnswering:
    """ASGI middleware: after a request that may change state, write it before answering."""

    def __init__(self, app: ASGIApp, sb: StripeSandbox, state: StateFile) -> None:
        self.app = app
        self.sb = sb
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READ_ONLY_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_after_saving(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.state.save(self.sb)
            await send(message)

        await self.app(scope, receive, send_after_saving)
