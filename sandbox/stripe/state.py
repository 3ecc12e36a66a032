"""The sandbox's memory: objects by id, the event log, idempotency records, counters."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from random import Random
from typing import Any

from . import objects
from .cards import TestCard
from .config import RuntimeSettings, StripeSandboxConfig
from .errors import invalid_request, resource_missing
from .params import Params, get_int, get_str, get_str_list

Obj = dict[str, Any]

log = logging.getLogger("sandbox.stripe")

IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60

# Which store an expandable field points into.
EXPANDABLE: dict[str, str] = {
    "latest_charge": "charges",
    "payment_method": "payment_methods",
    "payment_intent": "payment_intents",
    "charge": "charges",
}


@dataclass
class RequestContext:
    params: Params
    path_params: dict[str, str]
    api_key: str
    key_kind: str
    request_id: str
    idempotency_key: str | None
    base_url: str

    @property
    def publishable(self) -> bool:
        return self.key_kind == "publishable"


@dataclass
class IdempotencyRecord:
    path: str
    params: Params
    created: float
    request_id: str
    done: bool = False
    status: int = 0
    body: bytes = b""


@dataclass
class PaymentIntentSide:
    """What Stripe keeps about a PaymentIntent but does not show on the object."""

    return_url: str | None = None
    pending_pm: str | None = None


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
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "endpoint_id": self.endpoint_id,
            "url": self.url,
            "attempt": self.attempt,
            "status_code": self.status_code,
            "outcome": self.outcome,
            "error": self.error,
            "at": self.at,
            "duration_ms": self.duration_ms,
        }


@dataclass
class Stores:
    payment_intents: dict[str, Obj] = field(default_factory=dict)
    payment_methods: dict[str, Obj] = field(default_factory=dict)
    charges: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    disputes: dict[str, Obj] = field(default_factory=dict)
    checkout_sessions: dict[str, Obj] = field(default_factory=dict)
    # What Stripe keeps about a Checkout Session but does not show (line items, PI data).
    checkout_session_side: dict[str, Obj] = field(default_factory=dict)
    events: dict[str, Obj] = field(default_factory=dict)
    webhook_endpoints: dict[str, Obj] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Obj]:
        store: dict[str, Obj] = getattr(self, name)
        return store


class StripeSandbox:
    def __init__(self, config: StripeSandboxConfig) -> None:
        self.config = config
        self.settings = RuntimeSettings.from_config(config)
        self.event_listener: Callable[[Obj], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.reset(keep_settings=True)

    # --- lifecycle -------------------------------------------------------------------------

    def reset(self, *, keep_settings: bool = False) -> None:
        if not keep_settings:
            self.settings = RuntimeSettings.from_config(self.config)
        self.cancel_background()
        self.reseed(self.settings.seed)
        self.stores = Stores()
        self.pm_cards: dict[str, TestCard] = {}
        self.pi_side: dict[str, PaymentIntentSide] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self._last_prune = 0.0
        self.api_calls: Counter[str] = Counter()
        self.deliveries: list[Delivery] = []
        for url, secret in self.config.webhook_endpoints:
            self.add_webhook_endpoint(url, secret, ["*"], description="configured at start")

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

    def later(self, delay: float, action: Callable[[], object]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            try:
                action()
            except Exception:
                log.exception("scheduled sandbox transition failed")

        self.spawn(run())

    def cancel_background(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    async def drain(self, within: float) -> bool:
        """Wait for background work (deliveries, scheduled transitions); True when all done."""
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

    # --- ids and time ----------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return objects.new_id(self.rng, prefix)

    def token(self, length: int = 24) -> str:
        return objects.random_token(self.rng, length)

    @staticmethod
    def now() -> int:
        return int(time.time())

    # --- lookup, expansion, lists ----------------------------------------------------------

    def get(self, store: str, object_id: str, kind: str, param: str = "id") -> Obj:
        found = self.stores.get(store).get(object_id)
        if found is None:
            raise resource_missing(kind, object_id, param)
        return found

    def expand(self, obj: Obj, paths: list[str]) -> Obj:
        result = copy.deepcopy(obj)
        for path in paths:
            self._expand_path(result, path.split("."), path)
        return result

    def _expand_path(self, obj: Obj, parts: list[str], full: str) -> None:
        head, rest = parts[0], parts[1:]
        if head not in obj:
            raise invalid_request(
                f"This property cannot be expanded ({full}).", param="expand", saved=False
            )
        value = obj[head]
        if isinstance(value, str):
            store = EXPANDABLE.get(head)
            if store is None:
                raise invalid_request(
                    f"This property cannot be expanded ({full}).", param="expand", saved=False
                )
            target = self.stores.get(store).get(value)
            if target is None:
                return
            value = copy.deepcopy(target)
            obj[head] = value
        if rest and isinstance(value, dict):
            self._expand_path(value, rest, full)

    def render(self, obj: Obj, params: Params) -> Obj:
        return self.expand(obj, _expand_list(params))

    def paginate(
        self,
        items: list[Obj],
        params: Params,
        url: str,
        *,
        allowed_filters: tuple[str, ...] = (),
    ) -> Obj:
        """Newest first, `limit` 1..100 (default 10), `starting_after` / `ending_before`."""
        limit = get_int(params, "limit", minimum=1, maximum=100) or 10
        starting_after = get_str(params, "starting_after")
        ending_before = get_str(params, "ending_before")
        if starting_after and ending_before:
            raise invalid_request(
                "You may only specify one of these parameters: starting_after, ending_before.",
                code="parameters_exclusive",
                param="starting_after",
                saved=False,
            )
        items = _filter_created(items, params)
        # Stores keep insertion order, which is creation order; lists are newest first.
        ordered = list(reversed(items))
        ids = [o["id"] for o in ordered]
        if starting_after:
            if starting_after not in ids:
                raise resource_missing("object", starting_after, "starting_after")
            start = ids.index(starting_after) + 1
            page = ordered[start : start + limit]
            has_more = start + limit < len(ordered)
        elif ending_before:
            if ending_before not in ids:
                raise resource_missing("object", ending_before, "ending_before")
            end = ids.index(ending_before)
            begin = max(0, end - limit)
            page = ordered[begin:end]
            has_more = begin > 0
        else:
            page = ordered[:limit]
            has_more = len(ordered) > limit
        expand = [p.removeprefix("data.") for p in _expand_list(params) if p.startswith("data.")]
        data = [self.expand(o, expand) for o in page]
        return objects.list_object(data, url, has_more)

    def insert(self, store: str, obj: Obj) -> Obj:
        self.stores.get(store)[obj["id"]] = obj
        return obj

    # --- events ----------------------------------------------------------------------------

    def emit(
        self,
        type_: str,
        obj: Obj,
        ctx: RequestContext | None,
        previous_attributes: Obj | None = None,
    ) -> Obj:
        endpoints = self.matching_endpoints(type_)
        evt = objects.event(
            evt_id=self.new_id("evt"),
            type_=type_,
            obj=obj,
            created=self.now(),
            api_version=self.config.api_version,
            pending_webhooks=len(endpoints),
            request_id=ctx.request_id if ctx else None,
            idempotency_key=ctx.idempotency_key if ctx else None,
            previous_attributes=previous_attributes,
        )
        self.insert("events", evt)
        if self.event_listener is not None:
            self.event_listener(evt)
        return evt

    def matching_endpoints(self, type_: str) -> list[Obj]:
        return [
            endpoint
            for endpoint in self.stores.webhook_endpoints.values()
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or type_ in endpoint["enabled_events"])
        ]

    def add_webhook_endpoint(
        self,
        url: str,
        secret: str | None,
        enabled_events: list[str],
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        api_version: str | None = None,
    ) -> Obj:
        endpoint = objects.webhook_endpoint(
            we_id=self.new_id("we"),
            url=url,
            secret=secret or f"whsec_{self.token(32)}",
            enabled_events=enabled_events,
            created=self.now(),
            description=description,
            metadata=metadata or {},
            api_version=api_version,
        )
        return self.insert("webhook_endpoints", endpoint)

    # --- stats -----------------------------------------------------------------------------

    def stats(self) -> Obj:
        outcomes = Counter(d.outcome for d in self.deliveries)
        return {
            "objects": {
                "payment_intents": len(self.stores.payment_intents),
                "payment_methods": len(self.stores.payment_methods),
                "charges": len(self.stores.charges),
                "refunds": len(self.stores.refunds),
                "disputes": len(self.stores.disputes),
                "checkout_sessions": len(self.stores.checkout_sessions),
                "events": len(self.stores.events),
                "webhook_endpoints": len(self.stores.webhook_endpoints),
            },
            "api_calls": dict(sorted(self.api_calls.items())),
            "api_calls_total": sum(self.api_calls.values()),
            "events_by_type": dict(
                sorted(Counter(e["type"] for e in self.stores.events.values()).items())
            ),
            "webhook_deliveries": dict(sorted(outcomes.items())),
            "idempotency_keys": len(self.idempotency),
            "background_tasks": self.pending_background,
        }

    def prune_idempotency(self) -> None:
        now = time.time()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        cutoff = now - IDEMPOTENCY_TTL_SECONDS
        for key in [k for k, r in self.idempotency.items() if r.done and r.created < cutoff]:
            del self.idempotency[key]


def _expand_list(params: Params) -> list[str]:
    return get_str_list(params, "expand") or []


def _filter_created(items: list[Obj], params: Params) -> list[Obj]:
    created = params.get("created")
    if created is None:
        return items
    if isinstance(created, str):
        exact = get_int(params, "created")
        return [o for o in items if o["created"] == exact]
    if not isinstance(created, dict):
        raise invalid_request("Invalid created filter", param="created", saved=False)
    bounds = {op: get_int(created, op) for op in ("gt", "gte", "lt", "lte") if op in created}
    unknown = set(created) - {"gt", "gte", "lt", "lte"}
    if unknown:
        raise invalid_request(
            f"Received unknown parameter: created[{sorted(unknown)[0]}]",
            code="parameter_unknown",
            param=f"created[{sorted(unknown)[0]}]",
            saved=False,
        )

    def keep(o: Obj) -> bool:
        value = o["created"]
        checks = {
            "gt": lambda b: value > b,
            "gte": lambda b: value >= b,
            "lt": lambda b: value < b,
            "lte": lambda b: value <= b,
        }
        return all(checks[op](bound) for op, bound in bounds.items() if bound is not None)

    return [o for o in items if keep(o)]
