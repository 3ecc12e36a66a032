"""Stripe's error objects and the HTTP status each error type travels with."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

DOC_BASE = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    """An error answered to the client as `{"error": {...}}`.

    `saved` says whether the idempotency layer keeps the answer: Stripe saves a result only
    once the endpoint has started executing, so parameter validation errors are not saved.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        saved: bool = True,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.saved = saved
        self.headers = headers or {}
        self.extra = extra

    def body(self, request_id: str | None = None) -> Obj:
        error: Obj = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOC_BASE}/{self.code.replace('_', '-')}"
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def invalid_request(
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    status: int = 400,
    saved: bool = True,
    **extra: Any,
) -> StripeError:
    return StripeError(
        status,
        "invalid_request_error",
        message,
        code=code,
        param=param,
        saved=saved,
        **extra,
    )


def parameter_missing(param: str) -> StripeError:
    return invalid_request(
        f"Missing required param: {param}.",
        code="parameter_missing",
        param=param,
        saved=False,
    )


def parameter_unknown(param: str) -> StripeError:
    return invalid_request(
        f"Received unknown parameter: {param}",
        code="parameter_unknown",
        param=param,
        saved=False,
    )


def parameter_invalid(param: str, message: str, code: str | None = None) -> StripeError:
    return invalid_request(message, code=code, param=param, saved=False)


def parameters_exclusive(*params: str) -> StripeError:
    names = ", ".join(params)
    return invalid_request(
        f"You may only specify one of these parameters: {names}.",
        code="parameters_exclusive",
        param=params[0],
        saved=False,
    )


def resource_missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return invalid_request(
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
        status=404,
        saved=False,
    )


def api_error(message: str = "An unknown error occurred", status: int = 500) -> StripeError:
    return StripeError(status, "api_error", message)


def rate_limit_error() -> StripeError:
    return StripeError(
        429,
        "invalid_request_error",
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
    )


def no_api_key() -> StripeError:
    return StripeError(
        401,
        "invalid_request_error",
        "You did not provide an API key. You need to provide your API key in the Authorization "
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
        "https://stripe.com/docs/api#authentication for details, or we can help at "
        "https://support.stripe.com/.",
    )


def invalid_api_key(key: str) -> StripeError:
    shown = f"{key[:8]}{'*' * max(len(key) - 12, 4)}{key[-4:]}" if len(key) > 12 else key
    return StripeError(401, "invalid_request_error", f"Invalid API Key provided: {shown}")


def publishable_key_not_allowed() -> StripeError:
    return StripeError(
        401,
        "invalid_request_error",
        "This API call cannot be made with a publishable API key. Please use a secret API key. "
        "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
    )


def unrecognized_url(method: str, path: str) -> StripeError:
    return invalid_request(
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
        "we can help at https://support.stripe.com/.",
        status=404,
        saved=False,
    )
