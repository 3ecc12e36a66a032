"""Stripe's form encoding: `metadata[k]=v`, `payment_method_types[0]=card`, `expand[]=x`."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from .errors import invalid_request

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_APPEND = object()


def _split_key(key: str) -> list[str | object]:
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    rest = key[len(head) :]
    parts: list[str | object] = [head]
    position = 0
    for match in _SEGMENT.finditer(rest):
        if match.start() != position:
            break
        parts.append(match.group(1) if match.group(1) != "" else _APPEND)
        position = match.end()
    if position != len(rest):
        raise invalid_request(f"Invalid parameter name: {key}", saved=False)
    return parts


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(isinstance(k, str) and k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split_key(key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part is _APPEND:
                if not isinstance(node, list):
                    raise invalid_request(f"Invalid array parameter: {key}", saved=False)
                if last:
                    node.append(value)
                else:
                    child: dict[str, Any] = {}
                    node.append(child)
                    node = child
                continue
            assert isinstance(part, str)
            if not isinstance(node, dict):
                raise invalid_request(f"Invalid parameter nesting: {key}", saved=False)
            if last:
                node[part] = value
                continue
            following = parts[index + 1]
            existing = node.get(part)
            if existing is None or isinstance(existing, str):
                existing = [] if following is _APPEND else {}
                node[part] = existing
            node = existing
    parsed: dict[str, Any] = _listify(root)
    return parsed


def parse_form(body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8") if body else ""
    return parse_pairs(parse_qsl(text, keep_blank_values=True))


def parse_query(query: str) -> dict[str, Any]:
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def parse_json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise invalid_request(f"Invalid JSON body: {exc}", saved=False) from exc
    if not isinstance(data, dict):
        raise invalid_request("The JSON body must be an object.", saved=False)
    stringified: dict[str, Any] = _stringify(data)
    return stringified


def _stringify(value: Any) -> Any:
    """JSON bodies are turned into the strings a form body would have carried."""
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
