# ruff: noqa: RUF001 -- Ping++ writes its messages in Chinese with full-width punctuation.
"""Charges: create (with Ping++'s repeated-order_no rules), retrieve, list, reverse, and the
customer's side (pay, fail, expiry) the controls drive."""

from __future__ import annotations

import copy
import logging
from typing import Any

from . import objects
from .channels import (
    CHANNELS,
    DEFAULT_FAILURE,
    Channel,
    build_credential,
    check_currency,
    check_extra,
    check_order_no,
    check_time_expire,
    get_channel,
    paid_extra,
    transaction_no,
)
from .errors import (
    control_error,
    invalid_request,
    order_no_used,
    parameter_invalid,
    parameter_missing,
)
from .lists import filter_created, paginate
from .params import (
    Params,
    check_known,
    get_bool,
    get_dict,
    get_int,
    get_ip,
    get_metadata,
    get_str,
)
from .state import PingxxSandbox, RequestContext

Obj = dict[str, Any]

log = logging.getLogger("sandbox.pingxx")

CREATE_PARAMS = {
    "order_no",
    "app",
    "channel",
    "amount",
    "client_ip",
    "currency",
    "subject",
    "body",
    "extra",
    "time_expire",
    "metadata",
    "description",
}
# Ping++'s list filters. There is no order_no filter: a client that lost a create answer
# finds its charge by paging these (or repeats the identical create inside the replay window).
LIST_PARAMS = {
    "app",
    "limit",
    "starting_after",
    "ending_before",
    "created",
    "channel",
    "paid",
    "refunded",
    "reversed",
    "expand",
}
# Without a `created` filter Ping++ lists the last month only.
DEFAULT_LIST_SECONDS = 30 * 24 * 60 * 60
REFUND_PREVIEW = 10


def app_of(sb: PingxxSandbox, params: Params) -> str:
    """`app[id]` (the documented form) or `app` as a plain id string."""
    value = params.get("app")
    app_id = value.get("id") if isinstance(value, dict) else value
    if app_id is None or app_id == "":
        raise parameter_missing("app[id]")
    if not isinstance(app_id, str):
        raise parameter_invalid("app[id]", "app[id] 必须是字符串。", "app[id] must be a string.")
    allowed = sb.config.app_ids
    if not app_id.startswith("app_") or (allowed and app_id not in allowed):
        raise invalid_request(
            f"无效的 app：{app_id}。", f"No such app: {app_id}.", param="app[id]", status=404
        )
    return app_id


def channel_of(charge: Obj) -> Channel:
    return CHANNELS[charge["channel"]]


def render(sb: PingxxSandbox, ch: Obj, *, with_credential: bool = False) -> Obj:
    state_of(sb, ch)
    shown = copy.deepcopy(ch)
    if with_credential:
        shown["credential"] = copy.deepcopy(sb.side(ch["id"]).credential)
    return shown


def state_of(sb: PingxxSandbox, ch: Obj) -> str:
    """open, paid, reversed, expired or failed; Ping++ shows only the flags and times."""
    if ch["paid"]:
        return "paid"
    if ch["reversed"]:
        return "reversed"
    side = sb.side(ch["id"])
    if side.closed is None and ch["time_expire"] <= sb.now():
        side.closed = "expired"
    return side.closed or "open"


def sync_refunds(sb: PingxxSandbox, ch: Obj) -> None:
    refunds = [r for r in sb.stores.refunds.values() if r["charge"] == ch["id"]]
    newest = list(reversed(refunds))
    ch["refunds"] = objects.list_object(
        copy.deepcopy(newest[:REFUND_PREVIEW]),
        f"/v1/charges/{ch['id']}/refunds",
        len(newest) > REFUND_PREVIEW,
    )


# --- API --------------------------------------------------------------------------------------


def create(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, CREATE_PARAMS)
    app_id = app_of(sb, params)
    channel = get_channel(params)
    order_no = get_str(params, "order_no", required=True)
    assert order_no is not None
    check_order_no(channel, order_no)
    amount = get_int(params, "amount", required=True)
    assert amount is not None
    if amount < 1:
        raise parameter_invalid(
            "amount", "amount 必须大于 0，单位为分。", "amount must be at least 1 (fen)."
        )
    currency = get_str(params, "currency", required=True)
    assert currency is not None
    check_currency(currency)
    client_ip = get_ip(params, "client_ip", required=True)
    assert client_ip is not None
    subject = get_str(params, "subject", required=True, max_length=32)
    body = get_str(params, "body", required=True, max_length=128)
    assert subject is not None
    assert body is not None
    description = get_str(params, "description", max_length=255)
    metadata = get_metadata(params)
    extra = check_extra(channel, get_dict(params, "extra") or {})
    now = sb.now()
    time_expire = check_time_expire(
        channel, get_int(params, "time_expire"), now, sb.settings.min_time_expire_seconds
    )

    existing_id = sb.order_index.get((app_id, order_no))
    if existing_id is not None:
        return _replay_or_refuse(sb, sb.stores.charges[existing_id], channel, amount, subject, body)

    ch = objects.charge(
        ch_id=sb.new_id("ch"),
        created=now,
        livemode=ctx.livemode,
        app_id=app_id,
        channel=channel.name,
        order_no=order_no,
        client_ip=client_ip,
        amount=amount,
        currency=currency,
        subject=subject,
        body=body,
        extra=extra,
        time_expire=time_expire,
        metadata=metadata,
        description=description,
    )
    page = None
    if channel.redirects and sb.settings.redirect_to_sandbox:
        page = sb.page_url(ch["id"], ctx.base_url)
    sb.side(ch["id"]).credential = build_credential(channel, ch, sb.rng, page)
    sb.insert("charges", ch)
    sb.order_index[(app_id, order_no)] = ch["id"]
    schedule_expiry(sb, ch)
    return render(sb, ch, with_credential=True)


def _replay_or_refuse(
    sb: PingxxSandbox, first: Obj, channel: Channel, amount: int, subject: str, body: str
) -> Obj:
    # Ping++ answers a repeat of the same six fields (order_no, channel, amount, subject,
    # body, app) with the first charge for a while, because it caches what the channel
    # returned; anything else with a used order_no is refused as the channel would.
    window = sb.settings.replay_window_seconds
    if window is None:
        window = channel_of(first).replay_window_seconds
    same = (first["channel"], first["amount"], first["subject"], first["body"]) == (
        channel.name,
        amount,
        subject,
        body,
    )
    if same and sb.now() - first["created"] < window:
        return render(sb, first, with_credential=True)
    raise order_no_used(first["order_no"], channel.name)


def retrieve(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    return render(sb, sb.get("charges", ctx.path_params["id"], "charge"))


def list_all(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, LIST_PARAMS)
    app_id = app_of(sb, params)
    items = [c for c in sb.stores.charges.values() if c["app"] == app_id]
    channel = get_str(params, "channel")
    if channel is not None:
        items = [c for c in items if c["channel"] == channel]
    for flag in ("paid", "refunded", "reversed"):
        wanted = get_bool(params, flag)
        if wanted is not None:
            items = [c for c in items if c[flag] is wanted]
    items = filter_created(items, params, sb.now() - DEFAULT_LIST_SECONDS)
    for ch in items:
        state_of(sb, ch)
    return paginate(items, params, "/v1/charges", "charge")


def reverse(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, set())
    ch = sb.get("charges", ctx.path_params["id"], "charge")
    if ch["reversed"]:
        return render(sb, ch)
    channel = channel_of(ch)
    if not channel.reversible:
        raise invalid_request(
            f"{channel.name} 渠道不支持撤销。",
            f"Charges of channel {channel.name} cannot be reversed.",
            param="id",
        )
    if ch["paid"]:
        raise invalid_request(
            "该 charge 已支付，不能撤销，请使用退款接口。",
            "This charge has been paid and cannot be reversed; refund it instead.",
            param="id",
        )
    ch["reversed"] = True
    sb.side(ch["id"]).closed = "reversed"
    sb.cancel_timer(ch["id"])
    return render(sb, ch)


# --- the customer's side (controls) -----------------------------------------------------------


def schedule_expiry(sb: PingxxSandbox, ch: Obj) -> None:
    if ch["paid"] or ch["reversed"] or sb.side(ch["id"]).closed:
        return
    charge_id = ch["id"]

    def expire() -> None:
        current = sb.stores.charges.get(charge_id)
        if current is not None and state_of(sb, current) == "expired":
            log.info("charge %s expired at time_expire", charge_id)
            sb.save()

    sb.at(charge_id, ch["time_expire"], expire)


def _payable(sb: PingxxSandbox, ch: Obj) -> None:
    state = state_of(sb, ch)
    if state != "open":
        raise control_error(f"charge {ch['id']} is {state} and can no longer be paid")


def pay(sb: PingxxSandbox, charge_id: str) -> Obj:
    ch = sb.get("charges", charge_id, "charge")
    _payable(sb, ch)
    channel = channel_of(ch)
    now = sb.now()
    ch["paid"] = True
    ch["time_paid"] = now
    ch["transaction_no"] = transaction_no(channel, sb.rng, now)
    ch["extra"] = {**ch["extra"], **paid_extra(channel, sb.rng)}
    ch["failure_code"] = None
    ch["failure_msg"] = None
    sb.cancel_timer(charge_id)
    sb.emit("charge.succeeded", render(sb, ch), None)
    return render(sb, ch)


def fail(
    sb: PingxxSandbox,
    charge_id: str,
    failure_code: str | None,
    failure_msg: str | None,
    close: bool,
) -> Obj:
    ch = sb.get("charges", charge_id, "charge")
    _payable(sb, ch)
    default_code, default_msg = DEFAULT_FAILURE[channel_of(ch).family]
    ch["failure_code"] = failure_code or default_code
    ch["failure_msg"] = failure_msg or default_msg
    if close:
        sb.side(charge_id).closed = "failed"
        sb.cancel_timer(charge_id)
    return render(sb, ch)


def expire_now(sb: PingxxSandbox, charge_id: str) -> Obj:
    ch = sb.get("charges", charge_id, "charge")
    _payable(sb, ch)
    ch["time_expire"] = sb.now()
    sb.side(charge_id).closed = "expired"
    sb.cancel_timer(charge_id)
    return render(sb, ch)


def after_paid_url(ch: Obj) -> str | None:
    """Where the channel sends the browser once paid: Alipay's return_url, WeChat's redirect."""
    extra = ch["extra"]
    url = extra.get("success_url") or extra.get("result_url")
    return str(url) if url else None
