"""Events and webhook endpoints as the API shows them."""

from __future__ import annotations

from typing import Any

from .errors import parameter_invalid, parameter_missing
from .params import apply_metadata, check_known, get_bool, get_optional_str, get_str, get_str_list
from .state import RequestContext, StripeSandbox

Obj = dict[str, Any]


def retrieve(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    return sb.render(sb.get("events", ctx.path_params["id"], "event"), ctx.params)


def list_all(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(
        params,
        {
            "limit",
            "starting_after",
            "ending_before",
            "created",
            "type",
            "types",
            "delivery_success",
            "expand",
        },
    )
    items = list(sb.stores.events.values())
    single = get_str(params, "type")
    several = get_str_list(params, "types")
    if single and several:
        raise parameter_invalid(
            "type", "You may only specify one of these parameters: type, types."
        )
    patterns = [single] if single else several or []
    if patterns:
        items = [e for e in items if any(_type_matches(p, e["type"]) for p in patterns)]
    return sb.paginate(items, params, "/v1/events")


def _type_matches(pattern: str, type_: str) -> bool:
    if pattern.endswith(".*"):
        return type_.startswith(pattern[:-1])
    return pattern == type_


def _without_secret(endpoint: Obj) -> Obj:
    return {k: v for k, v in endpoint.items() if k != "secret"}


def create_endpoint(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(
        params,
        {"url", "enabled_events", "description", "metadata", "api_version", "connect", "expand"},
    )
    url = get_str(params, "url", required=True)
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise parameter_invalid("url", f"Invalid URL: {url}")
    events = get_str_list(params, "enabled_events")
    if not events:
        raise parameter_missing("enabled_events")
    endpoint = sb.add_webhook_endpoint(
        url,
        None,
        events,
        description=get_optional_str(params, "description"),
        metadata=apply_metadata(params),
        api_version=get_optional_str(params, "api_version"),
    )
    return dict(endpoint)


def retrieve_endpoint(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    return _without_secret(sb.get("webhook_endpoints", ctx.path_params["id"], "webhook endpoint"))


def update_endpoint(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, {"url", "enabled_events", "description", "metadata", "disabled", "expand"})
    endpoint = sb.get("webhook_endpoints", ctx.path_params["id"], "webhook endpoint")
    url = get_str(params, "url")
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise parameter_invalid("url", f"Invalid URL: {url}")
        endpoint["url"] = url
    events = get_str_list(params, "enabled_events")
    if events:
        endpoint["enabled_events"] = events
    if "description" in params:
        endpoint["description"] = get_optional_str(params, "description")
    disabled = get_bool(params, "disabled")
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    endpoint["metadata"] = apply_metadata(params, endpoint["metadata"])
    return _without_secret(endpoint)


def list_endpoints(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"limit", "starting_after", "ending_before", "expand"})
    result = sb.paginate(
        list(sb.stores.webhook_endpoints.values()), ctx.params, "/v1/webhook_endpoints"
    )
    result["data"] = [_without_secret(e) for e in result["data"]]
    return result


def delete_endpoint(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    endpoint_id = ctx.path_params["id"]
    sb.get("webhook_endpoints", endpoint_id, "webhook endpoint")
    del sb.stores.webhook_endpoints[endpoint_id]
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
