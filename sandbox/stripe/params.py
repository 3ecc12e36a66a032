"""Typed reads of parsed request parameters, failing the way Stripe's validation does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import parameter_invalid, parameter_missing, parameter_unknown

Params = dict[str, Any]

METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500


def check_known(params: Params, allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in params:
        if name not in known:
            raise parameter_unknown(name)


def get_str(
    params: Params, name: str, *, required: bool = False, max_length: int | None = None
) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise parameter_missing(name)
        return None
    if not isinstance(value, str):
        raise parameter_invalid(name, f"Invalid string: {_render(value)}")
    if required and value == "":
        raise parameter_invalid(
            name,
            f"You passed an empty string for '{name}'. We assume empty values are an attempt "
            f"to unset a parameter; however '{name}' cannot be unset. You should remove "
            f"'{name}' from your request or supply a non-empty value.",
            code="parameter_invalid_empty",
        )
    if max_length is not None and len(value) > max_length:
        raise parameter_invalid(
            name,
            f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
        )
    return value


def get_optional_str(params: Params, name: str, max_length: int | None = None) -> str | None:
    """A string that the empty value unsets, as Stripe treats `description=`."""
    value = get_str(params, name, max_length=max_length)
    return value or None


def get_int(
    params: Params,
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise parameter_missing(name)
        return None
    if not isinstance(value, str) or not value.lstrip("-").isdigit():
        raise parameter_invalid(
            name, f"Invalid integer: {_render(value)}", code="parameter_invalid_integer"
        )
    number = int(value)
    if minimum is not None and number < minimum:
        raise parameter_invalid(
            name,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
        )
    if maximum is not None and number > maximum:
        raise parameter_invalid(
            name,
            f"This value must be less than or equal to {maximum}.",
            code="parameter_invalid_integer",
        )
    return number


def get_bool(params: Params, name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    raise parameter_invalid(name, f"Invalid boolean: {_render(value)}")


def get_enum(params: Params, name: str, choices: Iterable[str]) -> str | None:
    value = get_str(params, name)
    if value is None or value == "":
        return None
    options = list(choices)
    if value not in options:
        rendered = (
            ", ".join(options[:-1]) + f", or {options[-1]}" if len(options) > 1 else options[0]
        )
        raise parameter_invalid(name, f"Invalid {name}: must be one of {rendered}")
    return value


def get_str_list(params: Params, name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise parameter_invalid(name, f"Invalid array: {name}")
    return list(value)


def get_dict(params: Params, name: str) -> dict[str, Any] | None:
    value = params.get(name)
    if value is None:
        return None
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise parameter_invalid(name, f"Invalid object: {name}")
    return value


def get_expand(params: Params) -> list[str]:
    return get_str_list(params, "expand") or []


def apply_metadata(params: Params, current: dict[str, str] | None = None) -> dict[str, str]:
    """Stripe merges metadata: an empty value deletes a key, `metadata=` clears them all."""
    merged = dict(current or {})
    value = params.get("metadata")
    if value is None:
        return merged
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise parameter_invalid("metadata", "Invalid object: metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise parameter_invalid(
                f"metadata[{key}]",
                "Metadata values must be strings, not nested objects.",
            )
        if len(key) > METADATA_KEY_MAX:
            raise parameter_invalid(
                f"metadata[{key}]",
                f"Metadata keys can have up to {METADATA_KEY_MAX} characters; "
                f"`{key}` has {len(key)} characters.",
            )
        if len(item) > METADATA_VALUE_MAX:
            raise parameter_invalid(
                f"metadata[{key}]",
                f"Metadata values can have up to {METADATA_VALUE_MAX} characters, "
                f"but you passed in a value that is {len(item)} characters.",
            )
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    if len(merged) > METADATA_MAX_KEYS:
        raise parameter_invalid(
            "metadata",
            f"Invalid metadata: metadata cannot have more than {METADATA_MAX_KEYS} keys",
        )
    return merged


def _render(value: Any) -> str:
    return value if isinstance(value, str) else type(value).__name__
