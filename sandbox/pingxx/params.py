# ruff: noqa: RUF001 -- Ping++ writes its messages in Chinese with full-width punctuation.
"""Request bodies and parameters as Ping++ reads them.

The Python SDK posts JSON and encodes GET parameters as `app[id]=...&created[gte]=...`; older
SDKs and curl post the same bracket notation as a form body. Form and query values arrive as
strings, JSON values keep their types, so the getters accept both.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from .errors import invalid_request, parameter_invalid, parameter_missing, parameter_unknown

Params = dict[str, Any]

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"-?\d+")


def parse_pairs(pairs: list[tuple[str, str]]) -> Params:
    root: Params = {}
    for key, value in pairs:
        head, bracket, _ = key.partition("[")
        parts = [head]
        if bracket:
            rest = key[len(head) :]
            segments = _SEGMENT.findall(rest)
            if "".join(f"[{s}]" for s in segments) != rest:
                raise invalid_request(
                    f"无效的参数名：{key}。", f"Invalid parameter name: {key}.", param=key
                )
            parts.extend(segments)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":
                # `expand[]=app`: a list at the parent; only a list of strings is meaningful.
                if not isinstance(node, list):
                    raise invalid_request(
                        f"无效的参数名：{key}。", f"Invalid parameter name: {key}.", param=key
                    )
                node.append(value)
                break
            if not isinstance(node, dict):
                raise invalid_request(
                    f"无效的参数名：{key}。", f"Invalid parameter name: {key}.", param=key
                )
            if last:
                node[part] = value
                break
            child = node.get(part)
            if not isinstance(child, (dict, list)):
                child = [] if parts[index + 1] == "" else {}
                node[part] = child
            node = child
    return root


def parse_query(query: str) -> Params:
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def parse_form(body: bytes) -> Params:
    return parse_query(body.decode("utf-8") if body else "")


def parse_json(body: bytes) -> Params:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise invalid_request(
            "请求 body 不是合法的 JSON。", f"The request body is not valid JSON: {exc}."
        ) from exc
    # The SDK posts `null` for a call without parameters (`Charge.reverse(id)` posts `{}`).
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise invalid_request(
            "请求 body 必须是 JSON 对象。", "The request body must be a JSON object."
        )
    return data


def check_known(params: Params, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise parameter_unknown(name)


def get_str(
    params: Params,
    name: str,
    *,
    required: bool = False,
    max_length: int | None = None,
    label: str | None = None,
) -> str | None:
    label = label or name
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise parameter_missing(label)
        return None
    if not isinstance(value, str):
        raise parameter_invalid(label, f"参数 {label} 必须是字符串。", f"{label} must be a string.")
    if max_length is not None and len(value) > max_length:
        raise parameter_invalid(
            label,
            f"参数 {label} 的长度不能超过 {max_length} 个字符。",
            f"{label} must be at most {max_length} characters long.",
        )
    return value


def get_int(
    params: Params,
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    label: str | None = None,
) -> int | None:
    label = label or name
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise parameter_missing(label)
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    if number is None:
        raise parameter_invalid(label, f"参数 {label} 必须是整数。", f"{label} must be an integer.")
    if minimum is not None and number < minimum:
        raise parameter_invalid(
            label, f"参数 {label} 不能小于 {minimum}。", f"{label} must be at least {minimum}."
        )
    if maximum is not None and number > maximum:
        raise parameter_invalid(
            label, f"参数 {label} 不能大于 {maximum}。", f"{label} must be at most {maximum}."
        )
    return number


def get_bool(params: Params, name: str, *, label: str | None = None) -> bool | None:
    label = label or name
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    # The SDK encodes Python booleans in a query string as `True` / `False`.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise parameter_invalid(label, f"参数 {label} 必须是布尔值。", f"{label} must be a boolean.")


def get_dict(params: Params, name: str, *, label: str | None = None) -> dict[str, Any] | None:
    label = label or name
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise parameter_invalid(label, f"参数 {label} 必须是对象。", f"{label} must be an object.")
    return value


def get_url(params: Params, name: str, *, required: bool = False, label: str) -> str | None:
    value = get_str(params, name, required=required, max_length=1024, label=label)
    if value is not None and not re.match(r"https?://[^\s/]+", value):
        raise parameter_invalid(
            label,
            f"参数 {label} 必须是 http 或 https 开头的 URL。",
            f"{label} must be an http(s) URL.",
        )
    return value


def get_ip(params: Params, name: str, *, required: bool = False) -> str | None:
    value = get_str(params, name, required=required, max_length=64)
    if value is None:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError as exc:
        raise parameter_invalid(
            name,
            f"参数 {name} 必须是 IPv4 或 IPv6 地址。",
            f"{name} must be an IPv4 or IPv6 address.",
        ) from exc
    return value


def get_metadata(params: Params) -> dict[str, Any]:
    metadata = get_dict(params, "metadata")
    if metadata is None:
        return {}
    for key, value in metadata.items():
        if isinstance(value, (dict, list)):
            raise parameter_invalid(
                f"metadata[{key}]",
                "metadata 的值必须是字符串、数字或布尔值。",
                "metadata values must be strings, numbers or booleans.",
            )
    return dict(metadata)
