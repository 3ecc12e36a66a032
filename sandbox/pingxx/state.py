"""The sandbox's memory: objects by id, the event log, webhook endpoints, counters, the file."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from . import objects, signing
from .config import PingxxSandboxConfig, RuntimeSettings
from .errors import resource_missing
from .params import Params

Obj = dict[str, Any]

log = logging.getLogger("sandbox.pingxx")

STATE_VERSION = 1


@dataclass
class RequestContext:
    params: Params
    path_params: dict[str, str]
    api_key: str
    request_id: str
    base_url: str
    livemode: bool


@dataclass
class ChargeSide:
    """What the sandbox keeps about a charge but Ping++ does not show on it."""

    # None while payable; "expired", "failed" or "reversed" once it can no longer be paid.
    closed: str | None = None
    credential: Obj = field(default_factory=dict)


@dataclass
class WebhookEndpoint:
    id: str
    url: str
    events: list[str]
    enabled: bool = True

    def wants(self, type_: str) -> bool:
        return self.enabled and ("*" in self.events or type_ in self.events)


@dataclass
class Delivery:
    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    status_code: int | None
    outcome: str
    error: str | None
    at: float
    duration_ms: float

    def as_dict(self) -> Obj:
        return asdict(self)


@dataclass
class Stores:
    charges: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    events: dict[str, Obj] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Obj]:
        store: dict[str, Obj] = getattr(self, name)
        return store


class PingxxSandbox:
    def __init__(self, config: PingxxSandboxConfig) -> None:
        self.config = config
        self.settings = RuntimeSettings.from_config(config)
        self.event_listener: Callable[[Obj], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.livemode = config.secret_key.startswith("sk_live_")
        if config.webhook_private_key:
            self.webhook_key = signing.load_private_key(config.webhook_private_key)
        else:
            self.webhook_key = signing.generate_private_key()
        self.webhook_private_key = signing.private_key_pem(self.webhook_key)
        self.webhook_public_key = signing.public_key_pem(self.webhook_key)
        self.reset(keep_settings=True, persist=False)
        if config.state_file and Path(config.state_file).exists():
            self.load(Path(config.state_file))

    # --- lifecycle -------------------------------------------------------------------------

    def reset(self, *, keep_settings: bool = False, persist: bool = True) -> None:
        if not keep_settings:
            self.settings = RuntimeSettings.from_config(self.config)
        self.cancel_background()
        self.reseed(self.settings.seed)
        self.stores = Stores()
        self.sides: dict[str, ChargeSide] = {}
        self.order_index: dict[tuple[str, str], str] = {}
        self.endpoints: dict[str, WebhookEndpoint] = {}
        self.api_calls: Counter[str] = Counter()
        self.deliveries: list[Delivery] = []
        for url in self.config.webhook_urls:
            self.add_endpoint(url, ["*"])
        if persist:
            self.save()

    def reseed(self, seed: int | None) -> None:
        self.rng = Random(seed)
        self.fault_rng = Random(None if seed is None else seed + 1)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            log.warning("no running loop; background work dropped")
            return
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def at(self, key: str, when: float, action: Callable[[], object]) -> None:
        """Run `action` at Unix time `when`; not waited for by `drain` (it may be hours away)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()

        def run() -> None:
            self._timers.pop(key, None)
            try:
                action()
            except Exception:
                log.exception("scheduled sandbox transition failed")

        self._timers[key] = loop.call_later(max(0.0, when - time.time()), run)

    def cancel_timer(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_background(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def drain(self, within: float) -> bool:
        """Wait for webhook deliveries and their retries; True when all finished."""
        deadline = time.monotonic() + within
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    @property
    def pending_background(self) -> int:
        return len(self._tasks)

    # --- ids, time, lookup -----------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return objects.new_id(self.rng, prefix)

    @staticmethod
    def now() -> int:
        return int(time.time())

    def get(self, store: str, object_id: str, kind: str) -> Obj:
        found = self.stores.get(store).get(object_id)
        if found is None:
            raise resource_missing(kind, object_id)
        return found

    def insert(self, store: str, obj: Obj) -> Obj:
        self.stores.get(store)[obj["id"]] = obj
        return obj

    def side(self, charge_id: str) -> ChargeSide:
        return self.sides.setdefault(charge_id, ChargeSide())

    def page_url(self, charge_id: str, base_url: str) -> str:
        base = (self.settings.public_url or base_url).rstrip("/")
        return f"{base}/_sandbox/charges/{charge_id}"

    # --- events and endpoints --------------------------------------------------------------

    def emit(self, type_: str, obj: Obj, request_id: str | None) -> Obj:
        evt = objects.event(
            evt_id=self.new_id("evt"),
            type_=type_,
            obj=obj,
            created=self.now(),
            livemode=self.livemode,
            pending_webhooks=len(self.matching_endpoints(type_)),
            request_id=request_id,
        )
        self.insert("events", evt)
        if self.event_listener is not None:
            self.event_listener(evt)
        return evt

    def matching_endpoints(self, type_: str) -> list[WebhookEndpoint]:
        return [e for e in self.endpoints.values() if e.wants(type_)]

    def add_endpoint(self, url: str, events: list[str]) -> WebhookEndpoint:
        endpoint = WebhookEndpoint(id=self.new_id("wh"), url=url, events=events)
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    # --- stats -----------------------------------------------------------------------------

    def stats(self) -> Obj:
        closed = Counter(s.closed for s in self.sides.values() if s.closed)
        return {
            "objects": {
                "charges": len(self.stores.charges),
                "refunds": len(self.stores.refunds),
                "events": len(self.stores.events),
                "webhook_endpoints": len(self.endpoints),
            },
            "charges": {
                "paid": sum(1 for c in self.stores.charges.values() if c["paid"]),
                **{f"closed_{reason}": count for reason, count in sorted(closed.items())},
            },
            "refunds_by_status": dict(
                sorted(Counter(r["status"] for r in self.stores.refunds.values()).items())
            ),
            "api_calls": dict(sorted(self.api_calls.items())),
            "api_calls_total": sum(self.api_calls.values()),
            "events_by_type": dict(
                sorted(Counter(e["type"] for e in self.stores.events.values()).items())
            ),
            "webhook_deliveries": dict(sorted(Counter(d.outcome for d in self.deliveries).items())),
            "background_tasks": self.pending_background,
            "scheduled_expiries": len(self._timers),
        }

    # --- persistence -----------------------------------------------------------------------

    def snapshot(self) -> Obj:
        return {
            "version": STATE_VERSION,
            "charges": list(self.stores.charges.values()),
            "refunds": list(self.stores.refunds.values()),
            "events": list(self.stores.events.values()),
            "sides": {cid: asdict(side) for cid, side in self.sides.items()},
            "endpoints": [asdict(e) for e in self.endpoints.values()],
            # The key must survive a restart, or receivers holding its public key would
            # refuse every later delivery.
            "webhook_private_key": self.webhook_private_key,
        }

    def save(self) -> None:
        if not self.config.state_file:
            return
        path = Path(self.config.state_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self.snapshot(), ensure_ascii=False)
        # Written beside the target and renamed over it, so a crash mid-write leaves the
        # previous snapshot rather than half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: unsupported state version {data.get('version')!r}")
        self.stores = Stores(
            charges={c["id"]: c for c in data["charges"]},
            refunds={r["id"]: r for r in data["refunds"]},
            events={e["id"]: e for e in data["events"]},
        )
        self.sides = {cid: ChargeSide(**side) for cid, side in data["sides"].items()}
        self.order_index = {(c["app"], c["order_no"]): c["id"] for c in data["charges"]}
        self.endpoints = {e["id"]: WebhookEndpoint(**e) for e in data["endpoints"]}
        # The URLs configured for this run are served even if the snapshot predates them.
        known = {endpoint.url for endpoint in self.endpoints.values()}
        for url in self.config.webhook_urls:
            if url not in known:
                self.add_endpoint(url, ["*"])
        key_pem = data.get("webhook_private_key")
        if key_pem and not self.config.webhook_private_key:
            self.webhook_key = signing.load_private_key(key_pem)
            self.webhook_private_key = key_pem
            self.webhook_public_key = signing.public_key_pem(self.webhook_key)


def stored_webhook_key(state_file: str | None) -> str | None:
    """The webhook key a previous run saved, so a restart keeps signing with it."""
    if not state_file or not Path(state_file).exists():
        return None
    key: str | None = json.loads(Path(state_file).read_text(encoding="utf-8")).get(
        "webhook_private_key"
    )
    return key
