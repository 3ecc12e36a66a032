"""The Starlette app: Ping++'s wire format on /v1, test controls on /_sandbox."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route

from . import charges, objects, pages, refunds, signing
from .config import PingxxSandboxConfig
from .errors import (
    PingxxError,
    api_error,
    control_error,
    invalid_api_key,
    no_api_key,
    rate_limited,
    signature_invalid,
    signature_missing,
    timestamp_invalid,
    unrecognized_url,
)
from .params import Params, check_known, parse_form, parse_json, parse_query
from .state import PingxxSandbox, RequestContext
from .webhooks import SIGNATURE_HEADER, WebhookDispatcher

Obj = dict[str, Any]
Handler = Callable[[PingxxSandbox, RequestContext], Obj]

log = logging.getLogger("sandbox.pingxx")


def retrieve_event(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, set())
    return dict(sb.get("events", ctx.path_params["id"], "event"))


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler


API_ROUTES: list[ApiRoute] = [
    ApiRoute("POST", "/v1/charges", charges.create),
    ApiRoute("GET", "/v1/charges", charges.list_all),
    ApiRoute("GET", "/v1/charges/{id}", charges.retrieve),
    ApiRoute("POST", "/v1/charges/{id}/reverse", charges.reverse),
    ApiRoute("POST", "/v1/charges/{id}/refunds", refunds.create),
    ApiRoute("GET", "/v1/charges/{id}/refunds", refunds.list_all),
    ApiRoute("GET", "/v1/charges/{id}/refunds/{refund_id}", refunds.retrieve),
    ApiRoute("GET", "/v1/events/{id}", retrieve_event),
]


def _wants_english(request: Request) -> bool:
    return request.headers.get("accept-language", "").lower().startswith("en")


def _request_uri(request: Request) -> bytes:
    """The URI as the client sent and signed it: raw path, then `?` and the raw query."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    return bytes(raw_path) + (b"?" + bytes(query) if query else b"")


class PingxxApi:
    """Runs one API call through Ping++'s layers: faults, auth, signature, the handler."""

    def __init__(self, sb: PingxxSandbox) -> None:
        self.sb = sb
        self._public_keys: dict[str, signing.PublicKey] = {}

    async def __call__(self, request: Request, route: ApiRoute) -> Response:
        sb = self.sb
        settings = sb.settings
        sb.api_calls[f"{route.method} {route.path}"] += 1
        english = _wants_english(request)
        if settings.failure_rate and sb.fault_rng.random() < settings.failure_rate:
            return self._error(self._failure(), english)
        body = await request.body()
        try:
            api_key = self._authenticate(request)
            self._check_signature(request, body)
            params = self._params(request, body)
        except PingxxError as exc:
            return self._error(exc, english)

        if settings.latency_ms > 0:
            await asyncio.sleep(settings.latency_ms / 1000)
        ctx = RequestContext(
            params=params,
            path_params={k: str(v) for k, v in request.path_params.items()},
            api_key=api_key,
            request_id=f"iar_{objects.random_token(sb.rng)}",
            base_url=str(request.base_url),
            livemode=sb.livemode,
        )
        try:
            status, payload = 200, route.handler(sb, ctx)
        except PingxxError as exc:
            status, payload = exc.status, exc.body(english)
        except Exception:
            log.exception("sandbox handler failed for %s %s", route.method, route.path)
            failure = api_error()
            status, payload = failure.status, failure.body(english)

        if route.method == "POST":
            if status == 200:
                sb.save()
            if settings.lose_response_next > 0:
                # The work is done and stays done; only this answer is lost on the way back.
                settings.lose_response_next -= 1
                return self._error(api_error(), english)
        return self._json(payload, status)

    def _failure(self) -> PingxxError:
        status = self.sb.settings.failure_status
        return rate_limited() if status == 403 else api_error(status)

    def _authenticate(self, request: Request) -> str:
        key = _api_key(request.headers.get("authorization"))
        if not key:
            raise no_api_key()
        if key != self.sb.config.secret_key:
            raise invalid_api_key(key)
        return key

    def _public_key(self, pem: str) -> signing.PublicKey:
        key = self._public_keys.get(pem)
        if key is None:
            key = self._public_keys[pem] = signing.load_public_key(pem)
        return key

    def _check_signature(self, request: Request, body: bytes) -> None:
        settings = self.sb.settings
        if not settings.merchant_public_key:
            return
        signs_body = request.method in ("POST", "PUT")
        if not signs_body and not settings.verify_get_signatures:
            return
        signature = request.headers.get("pingplusplus-signature")
        if not signature:
            raise signature_missing()
        timestamp = request.headers.get("pingplusplus-request-timestamp", "")
        if not timestamp.isdigit() or (
            abs(self.sb.now() - int(timestamp)) > settings.request_timestamp_tolerance_seconds
        ):
            raise timestamp_invalid()
        data = signing.request_signing_data(
            body if signs_body else b"", _request_uri(request), timestamp
        )
        if not signing.verify(data, signature, self._public_key(settings.merchant_public_key)):
            raise signature_invalid()

    @staticmethod
    def _params(request: Request, body: bytes) -> Params:
        query = parse_query(request.url.query)
        if request.method in ("GET", "DELETE"):
            return query
        content_type = request.headers.get("content-type", "")
        if "json" in content_type or (not content_type and body.lstrip()[:1] in (b"{", b"n")):
            parsed = parse_json(body)
        else:
            parsed = parse_form(body)
        return {**query, **parsed}

    def _json(self, payload: Obj, status: int) -> Response:
        content = json.dumps(payload, ensure_ascii=False, indent=2).encode()
        # The SDK exposes this header on every answer (PingppResponse.pingplusplus_signature).
        headers = {SIGNATURE_HEADER: signing.sign(content, self.sb.webhook_key)}
        return Response(
            content, status, headers=headers, media_type="application/json; charset=utf-8"
        )

    def _error(self, error: PingxxError, english: bool) -> Response:
        return self._json(error.body(english), error.status)


def _api_key(header: str | None) -> str | None:
    # The Python SDK sends Bearer; the Go SDK and Ping++'s curl examples use Basic `sk_...:`.
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def _api_routes(api: PingxxApi, sb: PingxxSandbox) -> list[BaseRoute]:
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for api_route in API_ROUTES:
        by_path.setdefault(api_route.path, {})[api_route.method] = api_route

    def endpoint_for(methods: dict[str, ApiRoute]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            api_route = methods.get(request.method)
            if api_route is None:
                return _unrecognized(request, api)
            return await api(request, api_route)

        return endpoint

    routes: list[BaseRoute] = [
        Route(path, endpoint_for(methods), methods=["GET", "POST", "PUT", "DELETE"])
        for path, methods in by_path.items()
    ]

    async def fallback(request: Request) -> Response:
        return _unrecognized(request, api)

    routes.append(Route("/v1/{rest:path}", fallback, methods=["GET", "POST", "PUT", "DELETE"]))
    return routes


def _unrecognized(request: Request, api: PingxxApi) -> Response:
    api.sb.api_calls[f"{request.method} (unrecognized)"] += 1
    return api._error(unrecognized_url(request.method, request.url.path), _wants_english(request))


# --- /_sandbox controls ----------------------------------------------------------------------


async def _body(request: Request) -> tuple[Obj, bool]:
    """The control's parameters and whether they came from an HTML form."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if "form" in content_type:
        return parse_form(raw), True
    # A form without fields may arrive bare; a browser still says it wants a page back.
    if not raw.strip() and "text/html" in request.headers.get("accept", ""):
        return {}, True
    return parse_json(raw), False


def _control_routes(sb: PingxxSandbox, dispatcher: WebhookDispatcher) -> list[BaseRoute]:
    def control(func: Callable[[Request], Any], *, mutates: bool = True) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await func(request)
            except PingxxError as exc:
                return JSONResponse(exc.body(english=True), status_code=exc.status)
            if mutates:
                sb.save()
            if isinstance(result, Response):
                return result
            return JSONResponse(result)

        return endpoint

    def charge_id(request: Request) -> str:
        return str(request.path_params["id"])

    async def charge_page(request: Request) -> Response:
        ch = sb.get("charges", charge_id(request), "charge")
        state = charges.state_of(sb, ch)
        credential = sb.side(ch["id"]).credential
        if "json" in request.headers.get("accept", ""):
            return JSONResponse({"charge": charges.render(sb, ch), "state": state})
        return HTMLResponse(pages.charge_page(ch, state, credential))

    def back_to_page(request: Request) -> Response:
        return RedirectResponse(f"/_sandbox/charges/{charge_id(request)}", status_code=303)

    async def pay(request: Request) -> Any:
        _, from_form = await _body(request)
        ch = charges.pay(sb, charge_id(request))
        if from_form:
            target = charges.after_paid_url(ch)
            return RedirectResponse(target, status_code=303) if target else back_to_page(request)
        return ch

    async def fail(request: Request) -> Any:
        body, from_form = await _body(request)
        close = body.get("close", True)
        ch = charges.fail(
            sb,
            charge_id(request),
            _optional_str(body, "failure_code"),
            _optional_str(body, "failure_msg"),
            close is True or close == "true",
        )
        return back_to_page(request) if from_form else ch

    async def expire_now(request: Request) -> Obj:
        return charges.expire_now(sb, charge_id(request))

    async def refund_succeed(request: Request) -> Obj:
        return refunds.succeed(sb, str(request.path_params["id"]))

    async def refund_fail(request: Request) -> Obj:
        body, _ = await _body(request)
        return refunds.fail(
            sb,
            str(request.path_params["id"]),
            _optional_str(body, "failure_code"),
            _optional_str(body, "failure_msg"),
        )

    async def config_view(request: Request) -> Obj:
        if request.method == "POST":
            changes, _ = await _body(request)
            pem = changes.get("merchant_public_key")
            if isinstance(pem, str):
                try:
                    signing.load_public_key(pem)
                except ValueError as exc:
                    raise control_error(f"merchant_public_key: {exc}") from exc
            try:
                changed = sb.settings.update(changes)
            except ValueError as exc:
                raise control_error(str(exc)) from exc
            if "seed" in changed:
                sb.reseed(sb.settings.seed)
        return {**sb.settings.as_dict(), "webhook_public_key": sb.webhook_public_key}

    async def public_key(request: Request) -> Response:
        return PlainTextResponse(sb.webhook_public_key, media_type="application/x-pem-file")

    async def stats(request: Request) -> Obj:
        return sb.stats()

    async def reset(request: Request) -> Obj:
        sb.reset()
        return {"reset": True}

    async def deliveries(request: Request) -> Obj:
        rows = [d.as_dict() for d in sb.deliveries]
        for name in ("event_id", "endpoint_id", "outcome", "event_type"):
            wanted = request.query_params.get(name)
            if wanted:
                rows = [r for r in rows if r[name] == wanted]
        return {"object": "list", "data": rows}

    async def endpoints(request: Request) -> Obj:
        if request.method == "POST":
            body, _ = await _body(request)
            url = body.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise control_error("url must be an http(s) URL")
            events = body.get("events") or ["*"]
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise control_error("events must be a list of event types")
            return asdict(sb.add_endpoint(url, events))
        return {"object": "list", "data": [asdict(e) for e in sb.endpoints.values()]}

    async def delete_endpoint(request: Request) -> Obj:
        endpoint_id = str(request.path_params["id"])
        if sb.endpoints.pop(endpoint_id, None) is None:
            raise control_error(f"no such webhook endpoint: {endpoint_id}")
        return {"id": endpoint_id, "deleted": True}

    async def list_events(request: Request) -> Obj:
        """Every event, newest first; `object_id` and `type` narrow it (Ping++ lists none)."""
        rows = list(reversed(sb.stores.events.values()))
        object_id = request.query_params.get("object_id")
        event_type = request.query_params.get("type")
        if object_id:
            rows = [e for e in rows if e["data"]["object"].get("id") == object_id]
        if event_type:
            rows = [e for e in rows if e["type"] == event_type]
        return {"object": "list", "data": rows}

    async def resend(request: Request) -> Obj:
        event = sb.get("events", str(request.path_params["id"]), "event")
        body, _ = await _body(request)
        endpoint_id = body.get("endpoint_id")
        count = dispatcher.resend(event, str(endpoint_id) if endpoint_id else None)
        return {"event": event["id"], "endpoints": count}

    async def drain(request: Request) -> Obj:
        body, _ = await _body(request)
        done = await sb.drain(float(body.get("timeout", 10.0)))
        return {"drained": done, "pending": sb.pending_background}

    async def health(request: Request) -> Obj:
        return {"ok": True}

    return [
        Route("/_sandbox/charges/{id}", control(charge_page, mutates=False), methods=["GET"]),
        Route("/_sandbox/charges/{id}/pay", control(pay), methods=["POST"]),
        Route("/_sandbox/charges/{id}/fail", control(fail), methods=["POST"]),
        Route("/_sandbox/charges/{id}/expire_now", control(expire_now), methods=["POST"]),
        Route("/_sandbox/refunds/{id}/succeed", control(refund_succeed), methods=["POST"]),
        Route("/_sandbox/refunds/{id}/fail", control(refund_fail), methods=["POST"]),
        Route("/_sandbox/config", control(config_view), methods=["GET", "POST"]),
        Route("/_sandbox/webhook_public_key", control(public_key, mutates=False), methods=["GET"]),
        Route("/_sandbox/stats", control(stats, mutates=False), methods=["GET"]),
        Route("/_sandbox/reset", control(reset), methods=["POST"]),
        Route("/_sandbox/webhook_deliveries", control(deliveries, mutates=False), methods=["GET"]),
        Route("/_sandbox/webhook_endpoints", control(endpoints), methods=["GET", "POST"]),
        Route("/_sandbox/webhook_endpoints/{id}", control(delete_endpoint), methods=["DELETE"]),
        Route("/_sandbox/events", control(list_events, mutates=False), methods=["GET"]),
        Route("/_sandbox/events/{id}/resend", control(resend, mutates=False), methods=["POST"]),
        Route("/_sandbox/webhooks/drain", control(drain, mutates=False), methods=["POST"]),
        Route("/_sandbox/health", control(health, mutates=False), methods=["GET"]),
    ]


def _optional_str(body: Obj, name: str) -> str | None:
    value = body.get(name)
    return str(value) if value not in (None, "") else None


def create_app(config: PingxxSandboxConfig | None = None) -> Starlette:
    config = config or PingxxSandboxConfig()
    sb = PingxxSandbox(config)
    dispatcher = WebhookDispatcher(sb)
    sb.event_listener = dispatcher.on_event

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Charges read back from the state file need their expiry timers again.
        for ch in list(sb.stores.charges.values()):
            charges.schedule_expiry(sb, ch)
        try:
            yield
        finally:
            sb.cancel_background()
            await dispatcher.aclose()

    routes = _api_routes(PingxxApi(sb), sb) + _control_routes(sb, dispatcher)
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sb
    app.state.dispatcher = dispatcher
    return app
