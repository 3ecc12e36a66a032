"""The Starlette app: Stripe's wire format on /v1, test controls on /_sandbox."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import string
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from . import (
    checkout,
    checkout_pages,
    disputes,
    events,
    pages,
    payment_intents,
    payment_methods,
    refunds,
    stripe_js,
)
from .config import StripeSandboxConfig
from .errors import (
    StripeError,
    api_error,
    invalid_api_key,
    invalid_request,
    no_api_key,
    publishable_key_not_allowed,
    rate_limit_error,
    unrecognized_url,
)
from .forms import parse_form, parse_json, parse_query
from .persistence import SaveBeforeAnswering, StateFile
from .state import IdempotencyRecord, RequestContext, StripeSandbox
from .webhooks import WebhookDispatcher

Obj = dict[str, Any]
Handler = Callable[[StripeSandbox, RequestContext], Obj]

log = logging.getLogger("sandbox.stripe")

_request_ids = random.Random()
_ID_ALPHABET = string.ascii_letters + string.digits

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Request-Id, Stripe-Version, Idempotent-Replayed",
}


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    # "secret": secret key only; "publishable": either key (Stripe.js creates PaymentMethods);
    # "client_secret": a publishable key only together with the PaymentIntent's client_secret.
    access: str = "secret"


API_ROUTES: list[ApiRoute] = [
    ApiRoute("POST", "/v1/payment_methods", payment_methods.create, "publishable"),
    ApiRoute("GET", "/v1/payment_methods/{id}", payment_methods.retrieve),
    ApiRoute("POST", "/v1/payment_intents", payment_intents.create),
    ApiRoute("GET", "/v1/payment_intents", payment_intents.list_all),
    ApiRoute("GET", "/v1/payment_intents/{id}", payment_intents.retrieve, "client_secret"),
    ApiRoute("POST", "/v1/payment_intents/{id}", payment_intents.update),
    ApiRoute("POST", "/v1/payment_intents/{id}/confirm", payment_intents.confirm, "client_secret"),
    ApiRoute("POST", "/v1/payment_intents/{id}/cancel", payment_intents.cancel),
    ApiRoute("GET", "/v1/charges", payment_intents.list_charges),
    ApiRoute("GET", "/v1/charges/{id}", payment_intents.retrieve_charge),
    ApiRoute("POST", "/v1/refunds", refunds.create),
    ApiRoute("GET", "/v1/refunds", refunds.list_all),
    ApiRoute("GET", "/v1/refunds/{id}", refunds.retrieve),
    ApiRoute("POST", "/v1/refunds/{id}", refunds.update),
    ApiRoute("GET", "/v1/disputes", disputes.list_all),
    ApiRoute("GET", "/v1/disputes/{id}", disputes.retrieve),
    ApiRoute("POST", "/v1/checkout/sessions", checkout.create),
    ApiRoute("GET", "/v1/checkout/sessions", checkout.list_all),
    ApiRoute("GET", "/v1/checkout/sessions/{id}", checkout.retrieve),
    ApiRoute("POST", "/v1/checkout/sessions/{id}/expire", checkout.expire),
    ApiRoute("GET", "/v1/checkout/sessions/{id}/line_items", checkout.list_line_items),
    ApiRoute("GET", "/v1/events", events.list_all),
    ApiRoute("GET", "/v1/events/{id}", events.retrieve),
    ApiRoute("POST", "/v1/webhook_endpoints", events.create_endpoint),
    ApiRoute("GET", "/v1/webhook_endpoints", events.list_endpoints),
    ApiRoute("GET", "/v1/webhook_endpoints/{id}", events.retrieve_endpoint),
    ApiRoute("POST", "/v1/webhook_endpoints/{id}", events.update_endpoint),
    ApiRoute("DELETE", "/v1/webhook_endpoints/{id}", events.delete_endpoint),
]


def _new_request_id() -> str:
    return "req_" + "".join(_request_ids.choice(_ID_ALPHABET) for _ in range(14))


def _json_bytes(body: Obj) -> bytes:
    return json.dumps(body, indent=2).encode()


IDEMPOTENCY_KEY_MAX_LENGTH = 255


class InjectedServerError(Exception):
    """`server_error_next`: the endpoint fails after it began, as Stripe's own rare 500s do."""


def _check_idempotency_key(key: str) -> None:
    if 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        return
    # Stripe's own wording; it answers before the endpoint runs, so nothing is saved.
    raise StripeError(
        400,
        "idempotency_error",
        f"Idempotent key length is {len(key)} characters long, which is outside accepted "
        f"lengths. Idempotent Keys must be 1-{IDEMPOTENCY_KEY_MAX_LENGTH} characters long. If "
        "you're looking for a decent generator, try using a UUID defined by IETF RFC 4122.",
        saved=False,
    )


class StripeApi:
    """Runs one API call through Stripe's layers: faults, auth, idempotency, the handler."""

    def __init__(self, sb: StripeSandbox) -> None:
        self.sb = sb

    async def __call__(self, request: Request, route: ApiRoute) -> Response:
        sb = self.sb
        settings = sb.settings
        sb.api_calls[f"{route.method} {route.path}"] += 1
        request_id = _new_request_id()
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("stripe-version") or sb.config.api_version,
            **CORS_HEADERS,
        }
        if settings.failure_rate and sb.fault_rng.random() < settings.failure_rate:
            failure = (
                rate_limit_error()
                if settings.failure_status == 429
                else api_error(status=settings.failure_status)
            )
            return self._error(failure, request_id, headers)

        record: IdempotencyRecord | None = None
        scope_key: tuple[str, str] | None = None
        try:
            params = await self._params(request)
            api_key, kind = self._authenticate(request, params, route)
            idempotency_key = request.headers.get("idempotency-key")
            if idempotency_key is not None:
                headers["Idempotency-Key"] = idempotency_key
            if idempotency_key is not None and route.method == "POST":
                _check_idempotency_key(idempotency_key)
                scope_key = (api_key, idempotency_key)
                replay = self._idempotent_replay(scope_key, request.url.path, params, headers)
                if replay is not None:
                    return replay
                record = IdempotencyRecord(
                    path=request.url.path, params=params, created=time.time(), request_id=request_id
                )
                sb.idempotency[scope_key] = record
        except StripeError as exc:
            return self._error(exc, request_id, headers)

        try:
            if settings.latency_ms > 0:
                await asyncio.sleep(settings.latency_ms / 1000)
            ctx = RequestContext(
                params=params,
                path_params={k: str(v) for k, v in request.path_params.items()},
                api_key=api_key,
                key_kind=kind,
                request_id=request_id,
                idempotency_key=idempotency_key,
                base_url=str(request.base_url),
            )
            status, payload, saved = self._run(route, ctx, headers)
        except BaseException:
            if scope_key is not None and sb.idempotency.get(scope_key) is record:
                del sb.idempotency[scope_key]
            raise

        if record is not None and scope_key is not None:
            if saved:
                record.done, record.status, record.body = True, status, payload
                if status >= 500:
                    # Retrying would only replay the saved failure; the SDK obeys this header.
                    headers["Stripe-Should-Retry"] = "false"
            elif sb.idempotency.get(scope_key) is record:
                del sb.idempotency[scope_key]

        if route.method in ("POST", "DELETE") and settings.lose_response_next > 0:
            # The work is done and an idempotent retry will see it; only this answer is lost.
            settings.lose_response_next -= 1
            return self._error(api_error(), request_id, headers)
        return Response(payload, status, headers=headers, media_type="application/json")

    def _run(
        self, route: ApiRoute, ctx: RequestContext, headers: dict[str, str]
    ) -> tuple[int, bytes, bool]:
        settings = self.sb.settings
        try:
            if settings.server_error_next > 0:
                settings.server_error_next -= 1
                raise InjectedServerError
            return 200, _json_bytes(route.handler(self.sb, ctx)), True
        except StripeError as exc:
            headers.update(exc.headers)
            return exc.status, _json_bytes(exc.body(ctx.request_id)), exc.saved
        except Exception as exc:
            if not isinstance(exc, InjectedServerError):
                log.exception("sandbox handler failed for %s %s", route.method, route.path)
            failure = api_error("An unexpected error occurred in the Stripe sandbox.")
            # The endpoint had begun, so Stripe keeps this 500 for the idempotency key.
            return (
                failure.status,
                _json_bytes(failure.body(ctx.request_id)),
                settings.replay_server_errors,
            )

    def _idempotent_replay(
        self,
        scope_key: tuple[str, str],
        path: str,
        params: Obj,
        headers: dict[str, str],
    ) -> Response | None:
        sb = self.sb
        sb.prune_idempotency()
        record = sb.idempotency.get(scope_key)
        if record is None:
            return None
        key = scope_key[1]
        if not record.done:
            raise StripeError(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still "
                f"going through): {key}. Please try again later.",
                code="idempotency_key_in_use",
                saved=False,
            )
        if record.path != path:
            raise StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{record.path}' vs '{path}'). Try using a key other than "
                f"'{key}' if you meant to execute a different request.",
                saved=False,
            )
        if record.params != params:
            raise StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                saved=False,
            )
        replay_headers = {
            **headers,
            "Idempotent-Replayed": "true",
            "Original-Request": record.request_id,
        }
        if record.status >= 500:
            replay_headers["Stripe-Should-Retry"] = "false"
        return Response(
            record.body, record.status, headers=replay_headers, media_type="application/json"
        )

    @staticmethod
    async def _params(request: Request) -> Obj:
        query = parse_query(request.url.query)
        if request.method in ("GET", "DELETE"):
            return query
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        parsed = parse_json(body) if "json" in content_type else parse_form(body)
        return {**query, **parsed}

    def _authenticate(self, request: Request, params: Obj, route: ApiRoute) -> tuple[str, str]:
        config = self.sb.config
        key = _bearer_key(request.headers.get("authorization"))
        # Stripe.js sends the publishable key as the `key` parameter instead of a header.
        body_key = params.pop("key", None)
        if key is None and isinstance(body_key, str) and body_key:
            key = body_key
        if not key:
            raise no_api_key()
        if key == config.secret_key:
            return key, "secret"
        if key == config.publishable_key:
            if route.access == "secret":
                raise publishable_key_not_allowed()
            return key, "publishable"
        raise invalid_api_key(key)

    @staticmethod
    def _error(error: StripeError, request_id: str, headers: dict[str, str]) -> Response:
        return Response(
            _json_bytes(error.body(request_id)),
            error.status,
            headers={**headers, **error.headers},
            media_type="application/json",
        )


def _bearer_key(header: str | None) -> str | None:
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


def _api_routes(api: StripeApi, sb: StripeSandbox) -> list[BaseRoute]:
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for api_route in API_ROUTES:
        by_path.setdefault(api_route.path, {})[api_route.method] = api_route

    def endpoint_for(methods: dict[str, ApiRoute]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if request.method == "OPTIONS":
                return _preflight(request)
            api_route = methods.get(request.method)
            if api_route is None:
                return _unrecognized(request, sb)
            return await api(request, api_route)

        return endpoint

    routes: list[BaseRoute] = [
        Route(path, endpoint_for(methods), methods=["GET", "POST", "DELETE", "OPTIONS"])
        for path, methods in by_path.items()
    ]

    async def fallback(request: Request) -> Response:
        if request.method == "OPTIONS":
            return _preflight(request)
        return _unrecognized(request, sb)

    routes.append(Route("/v1/{rest:path}", fallback, methods=["GET", "POST", "DELETE", "OPTIONS"]))
    return routes


def _preflight(request: Request) -> Response:
    requested = request.headers.get("access-control-request-headers", "")
    return Response(
        status_code=204,
        headers={
            **CORS_HEADERS,
            "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": requested
            or "Authorization, Content-Type, Idempotency-Key, Stripe-Version",
            "Access-Control-Max-Age": "300",
        },
    )


def _unrecognized(request: Request, sb: StripeSandbox) -> Response:
    sb.api_calls[f"{request.method} (unrecognized)"] += 1
    request_id = _new_request_id()
    error = unrecognized_url(request.method, request.url.path)
    return Response(
        _json_bytes(error.body(request_id)),
        error.status,
        headers={"Request-Id": request_id, **CORS_HEADERS},
        media_type="application/json",
    )


# --- /_sandbox controls ----------------------------------------------------------------------


def _control_error(error: StripeError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


async def _json_body(request: Request) -> Obj:
    body = await request.body()
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise invalid_request(f"Invalid JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise invalid_request("The JSON body must be an object.")
    return data


def _control_routes(sb: StripeSandbox, dispatcher: WebhookDispatcher) -> list[BaseRoute]:
    def control(
        func: Callable[[Request], Any],
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await func(request)
            except StripeError as exc:
                return _control_error(exc)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)

        return endpoint

    async def challenge_page(request: Request) -> Response:
        pi = sb.get("payment_intents", request.path_params["id"], "payment_intent")
        return HTMLResponse(pages.challenge(pi))

    async def challenge_submit(request: Request) -> Response:
        pi_id = request.path_params["id"]
        wants_json = "json" in request.headers.get("content-type", "")
        if wants_json:
            outcome = (await _json_body(request)).get("outcome")
        else:
            outcome = parse_form(await request.body()).get("outcome")
        if outcome not in ("pass", "fail"):
            raise invalid_request("outcome must be `pass` or `fail`", param="outcome")
        pi, redirect = payment_intents.complete_three_d_secure(sb, pi_id, outcome == "pass")
        if wants_json:
            return JSONResponse({"payment_intent": pi, "redirect_url": redirect})
        if redirect:
            return RedirectResponse(redirect, status_code=303)
        return HTMLResponse(pages.challenge_done(pi))

    async def pi_processing(request: Request) -> Obj:
        return payment_intents.start_processing(sb, request.path_params["id"])

    async def pi_succeed(request: Request) -> Obj:
        return payment_intents.finish_processing(sb, request.path_params["id"], True)

    async def pi_fail(request: Request) -> Obj:
        return payment_intents.finish_processing(sb, request.path_params["id"], False)

    async def refund_succeed(request: Request) -> Obj:
        return refunds.succeed(sb, request.path_params["id"])

    async def dispute_open(request: Request) -> Obj:
        body = await _json_body(request)
        return disputes.open_dispute(
            sb,
            request.path_params["id"],
            reason=body.get("reason", "general"),
            amount=body.get("amount"),
            status=body.get("status", "needs_response"),
        )

    async def dispute_update(request: Request) -> Obj:
        body = await _json_body(request)
        return disputes.update_status(sb, request.path_params["id"], body.get("status"))

    async def dispute_close(request: Request) -> Obj:
        body = await _json_body(request)
        return disputes.close(sb, request.path_params["id"], body.get("status"))

    async def refund_fail(request: Request) -> Obj:
        body = await _json_body(request)
        reason = body.get("failure_reason", "unknown")
        return refunds.fail(sb, request.path_params["id"], str(reason))

    async def config_view(request: Request) -> Obj:
        if request.method == "POST":
            changes = await _json_body(request)
            try:
                changed = sb.settings.update(changes)
            except ValueError as exc:
                raise invalid_request(str(exc)) from exc
            if "seed" in changed:
                sb.reseed(sb.settings.seed)
        return sb.settings.as_dict()

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

    async def resend(request: Request) -> Obj:
        event = sb.get("events", request.path_params["id"], "event")
        body = await _json_body(request)
        endpoint_id = body.get("endpoint_id")
        count = dispatcher.resend(event, str(endpoint_id) if endpoint_id else None)
        return {"event": event["id"], "endpoints": count}

    async def drain(request: Request) -> Obj:
        body = await _json_body(request)
        timeout = float(body.get("timeout", 10.0))
        done = await sb.drain(timeout)
        return {"drained": done, "pending": sb.pending_background}

    async def receipt(request: Request) -> Response:
        charge = sb.get("charges", request.path_params["id"], "charge")
        return HTMLResponse(pages.receipt(charge))

    async def health(request: Request) -> Obj:
        return {"ok": True}

    return [
        Route("/_sandbox/3ds/{id}", control(challenge_page), methods=["GET"]),
        Route("/_sandbox/3ds/{id}", control(challenge_submit), methods=["POST"]),
        Route(
            "/_sandbox/payment_intents/{id}/processing", control(pi_processing), methods=["POST"]
        ),
        Route("/_sandbox/payment_intents/{id}/succeed", control(pi_succeed), methods=["POST"]),
        Route("/_sandbox/payment_intents/{id}/fail", control(pi_fail), methods=["POST"]),
        Route("/_sandbox/refunds/{id}/succeed", control(refund_succeed), methods=["POST"]),
        Route("/_sandbox/refunds/{id}/fail", control(refund_fail), methods=["POST"]),
        Route("/_sandbox/payment_intents/{id}/dispute", control(dispute_open), methods=["POST"]),
        Route("/_sandbox/disputes/{id}/update", control(dispute_update), methods=["POST"]),
        Route("/_sandbox/disputes/{id}/close", control(dispute_close), methods=["POST"]),
        Route("/_sandbox/config", control(config_view), methods=["GET", "POST"]),
        Route("/_sandbox/stats", control(stats), methods=["GET"]),
        Route("/_sandbox/reset", control(reset), methods=["POST"]),
        Route("/_sandbox/webhook_deliveries", control(deliveries), methods=["GET"]),
        Route("/_sandbox/events/{id}/resend", control(resend), methods=["POST"]),
        Route("/_sandbox/webhooks/drain", control(drain), methods=["POST"]),
        Route("/_sandbox/receipts/{id}", control(receipt), methods=["GET"]),
        Route("/_sandbox/health", control(health), methods=["GET"]),
    ]


def create_app(config: StripeSandboxConfig | None = None) -> Starlette:
    config = config or StripeSandboxConfig()
    sb = StripeSandbox(config)
    dispatcher = WebhookDispatcher(sb)
    sb.event_listener = dispatcher.on_event
    checkout.attach(sb)
    state = StateFile(config.state_file) if config.state_file else None
    if state is not None:
        state.load(sb)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        saver = asyncio.create_task(state.save_periodically(sb)) if state else None
        try:
            yield
        finally:
            if saver is not None:
                saver.cancel()
            sb.cancel_background()
            await dispatcher.aclose()
            if state is not None:
                state.save(sb)

    routes = _api_routes(StripeApi(sb), sb) + _control_routes(sb, dispatcher)
    routes += checkout_pages.routes(sb) + stripe_js.routes()
    middleware = [Middleware(SaveBeforeAnswering, sb=sb, state=state)] if state else []
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.sandbox = sb
    app.state.dispatcher = dispatcher
    return app
