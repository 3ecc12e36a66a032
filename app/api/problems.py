"""Every error leaves as application/problem+json (RFC 9457) with a stable `code`."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.core import errors

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    type: str = Field(examples=["/problems/payment_not_found"])
    title: str
    status: int
    detail: str
    code: str = Field(description="stable, machine-readable")
    retryable: bool
    payment_channel: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="for validation_error: each failing field"
    )


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    retryable: bool = False,
    payment_channel: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "retryable": retryable,
    }
    if payment_channel is not None:
        body["payment_channel"] = payment_channel
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def from_app_error(exc: errors.AppError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.Unauthorized) else None
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        retryable=exc.retryable,
        payment_channel=exc.payment_channel,
        headers=headers,
        **exc.extra,
    )


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.AppError)
    return from_app_error(exc)


def _jsonable_error(error: Any) -> dict[str, Any]:
    # The offending input is left out: it may be a secret or ten megabytes.
    return {
        "loc": list(error.get("loc", ())),
        "msg": str(error.get("msg")),
        "type": error.get("type"),
    }


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [_jsonable_error(e) for e in exc.errors()]
    first = details[0] if details else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
    return problem_response(
        status=422,
        code=errors.ValidationFailed.code,
        title=errors.ValidationFailed.title,
        detail=f"{where}: {first['msg']}",
        errors=details,
    )


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    400: "bad_request",
    415: "unsupported_media_type",
}


MethodIndex = list[tuple[re.Pattern[str], frozenset[str]]]


def method_index(routers: Iterable[APIRouter]) -> MethodIndex:
    """Each route's path pattern and methods, read once when the app is built."""
    index: MethodIndex = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                pattern, _, _ = compile_path(route.path)
                index.append((pattern, frozenset(route.methods or ())))
    return index


def allowed_methods(request: Request) -> list[str]:
    """Every method of every route at this path (Starlette's 405 names only those of the
    first route it tried, one of several a path may have)."""
    index: MethodIndex = getattr(request.app.state, "method_index", [])
    path = request.url.path
    return sorted({m for pattern, methods in index if pattern.match(path) for m in methods})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
        if request.method == "OPTIONS":
            # OPTIONS is answered for every path: what may be asked of it.
            return Response(status_code=204, headers=headers)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return problem_response(
        status=exc.status_code,
        code=code,
        title=str(exc.detail),
        detail=str(exc.detail),
        headers=headers or None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class BadRequest(errors.AppError):
    """FastAPI's own answer to a body it cannot parse at all."""

    status = 400
    code = "bad_request"
    title = "There was an error parsing the body"


# What any route may answer, whatever it does: documented on every operation.
EVERY_ROUTE: tuple[type[errors.AppError], ...] = (
    errors.ValidationFailed,
    BadRequest,
    errors.MalformedBody,
    errors.RequestTooLarge,
    errors.DatabaseUnavailable,
)


def responses(*error_types: type[errors.AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status with the codes it may carry."""
    by_status: dict[int, list[type[errors.AppError]]] = defaultdict(list)
    listed = tuple(dict.fromkeys((*EVERY_ROUTE, *error_types)))
    for error_type in listed:
        by_status[error_type.status].append(error_type)
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": "; ".join(f"`{t.code}`: {t.title}" for t in types),
        }
        for status, types in sorted(by_status.items())
    }
