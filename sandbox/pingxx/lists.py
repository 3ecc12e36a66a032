"""Ping++ list pagination: newest first, `limit` 1-100 (default 10), cursors by object id."""

from __future__ import annotations

import copy
from typing import Any

from . import objects
from .errors import parameter_invalid, parameter_unknown, resource_missing
from .params import Params, get_int, get_str

Obj = dict[str, Any]

CREATED_BOUNDS = ("gt", "gte", "lt", "lte")


def paginate(items: list[Obj], params: Params, url: str, kind: str) -> Obj:
    limit = get_int(params, "limit", minimum=1, maximum=100) or 10
    starting_after = get_str(params, "starting_after")
    ending_before = get_str(params, "ending_before")
    if starting_after and ending_before:
        raise parameter_invalid(
            "starting_after",
            "starting_after 与 ending_before 不能同时使用。",
            "Use either starting_after or ending_before, not both.",
        )
    # Stores keep insertion order, which is creation order.
    ordered = list(reversed(items))
    ids = [o["id"] for o in ordered]
    if starting_after:
        if starting_after not in ids:
            raise resource_missing(kind, starting_after)
        start = ids.index(starting_after) + 1
        page = ordered[start : start + limit]
        has_more = start + limit < len(ordered)
    elif ending_before:
        if ending_before not in ids:
            raise resource_missing(kind, ending_before)
        end = ids.index(ending_before)
        begin = max(0, end - limit)
        page = ordered[begin:end]
        has_more = begin > 0
    else:
        page = ordered[:limit]
        has_more = len(ordered) > limit
    return objects.list_object([copy.deepcopy(o) for o in page], url, has_more)


def filter_created(items: list[Obj], params: Params, default_since: int | None) -> list[Obj]:
    created = params.get("created")
    if created is None or created == "":
        if default_since is None:
            return items
        return [o for o in items if o["created"] >= default_since]
    if not isinstance(created, dict):
        exact = get_int(params, "created")
        return [o for o in items if o["created"] == exact]
    for name in created:
        if name not in CREATED_BOUNDS:
            raise parameter_unknown(f"created[{name}]")
    bounds = {op: get_int(created, op, label=f"created[{op}]") for op in created}

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
