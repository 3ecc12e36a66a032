# ruff: noqa: RUF001 -- Ping++ writes its messages in Chinese with full-width punctuation.
"""Ping++'s error objects and the HTTP status each travels with.

The SDK picks its exception class from the status alone (`pingpp/api_requestor.py`): 400 and
404 raise InvalidRequestError, 401 AuthenticationError, 402 ChannelError, 403 RateLimitError,
anything else APIError. Messages are Chinese unless the request asks for English with
`Accept-Language: en...`, which the SDK sends from `pingpp.accept_language`.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class PingxxError(Exception):
    """An error answered to the client as `{"error": {...}}`."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        message_en: str,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message_en)
        self.status = status
        self.type = type_
        self.message = message
        self.message_en = message_en
        self.code = code
        self.param = param

    def body(self, english: bool = False) -> Obj:
        error: Obj = {"type": self.type, "message": self.message_en if english else self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def invalid_request(
    message: str,
    message_en: str,
    *,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
) -> PingxxError:
    return PingxxError(status, "invalid_request_error", message, message_en, code=code, param=param)


def parameter_missing(param: str) -> PingxxError:
    return invalid_request(f"缺少参数：{param}。", f"Missing required param: {param}.", param=param)


def parameter_invalid(param: str, message: str, message_en: str) -> PingxxError:
    return invalid_request(message, message_en, param=param)


def parameter_unknown(param: str) -> PingxxError:
    return invalid_request(
        f"无法识别的参数：{param}。", f"Received unknown parameter: {param}.", param=param
    )


def resource_missing(kind: str, object_id: str) -> PingxxError:
    return invalid_request(
        f"无效的 {kind} 对象 ID：{object_id}。",
        f"No such {kind}: {object_id}.",
        param="id",
        status=404,
    )


def order_no_used(order_no: str, channel: str) -> PingxxError:
    # Integrations detect this refusal by the code inside a ChannelError (HTTP 402); the code
    # is the documented part, the wording is ours.
    return PingxxError(
        402,
        "channel_error",
        f"商户订单号 {order_no} 已被使用，请使用新的商户订单号发起 {channel} 支付。",
        f"The order_no {order_no} has already been used; create the {channel} charge with "
        "a new order_no.",
        code="charge_order_no_used",
        param="order_no",
    )


def no_api_key() -> PingxxError:
    return PingxxError(
        401,
        "invalid_request_error",
        "没有提供 API Key，请在 header 中使用 Authorization: Bearer API-Key 的格式提供。",
        "No API key provided. Provide it as 'Authorization: Bearer API-Key'.",
    )


def invalid_api_key(key: str) -> PingxxError:
    shown = f"{key[:8]}{'*' * max(len(key) - 12, 4)}{key[-4:]}" if len(key) > 12 else key
    return PingxxError(
        401,
        "invalid_request_error",
        f"无效的 API Key：{shown}。",
        f"Invalid API key provided: {shown}.",
    )


def signature_missing() -> PingxxError:
    # Ping++'s own wording for a request without a signature while the switch is on.
    return invalid_request(
        "没有提供签名串，需要在 header 中加入签名串。",
        "No request signature provided; add it to the headers as Pingplusplus-Signature.",
    )


def signature_invalid() -> PingxxError:
    return invalid_request("提供了无效的签名。", "Invalid request signature provided.")


def timestamp_invalid() -> PingxxError:
    return invalid_request(
        "请求时间戳 Pingplusplus-Request-Timestamp 缺失、格式错误或已过期。",
        "Pingplusplus-Request-Timestamp is missing, malformed or outside the allowed window.",
    )


def api_error(status: int = 500) -> PingxxError:
    return PingxxError(
        status,
        "api_error",
        "Ping++ 服务器内部错误，请稍后重试。",
        "An error occurred inside Ping++; please retry later.",
    )


def rate_limited() -> PingxxError:
    return PingxxError(
        403,
        "invalid_request_error",
        "请求频率超过限制，请稍后重试。",
        "Too many requests; please retry later.",
    )


def unrecognized_url(method: str, path: str) -> PingxxError:
    return invalid_request(
        f"无法识别的请求 URL（{method}: {path}）。",
        f"Unrecognized request URL ({method}: {path}).",
        status=404,
    )


def control_error(message: str) -> PingxxError:
    """Misuse of a `/_sandbox` control; the same shape so tools can read it alike."""
    return invalid_request(message, message)
