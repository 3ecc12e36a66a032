# ruff: noqa: RUF001 -- Ping++ writes its messages in Chinese with full-width punctuation.
"""Refunds of paid charges: `POST/GET /v1/charges/{id}/refunds[/{refund_id}]`, and settling a
pending refund the way WeChat's asynchronous refunds settle."""

from __future__ import annotations

from typing import Any

from . import objects
from .channels import refund_transaction_no
from .charges import channel_of, sync_refunds
from .errors import control_error, invalid_request, parameter_invalid, resource_missing
from .lists import paginate
from .params import check_known, get_int, get_metadata, get_str
from .state import PingxxSandbox, RequestContext

Obj = dict[str, Any]

CREATE_PARAMS = {"amount", "description", "metadata", "funding_source"}
FUNDING_SOURCES = ("unsettled_funds", "recharge_funds")
DEFAULT_FAILURE = ("REFUND_FAILED", "退款失败：商户账户余额不足")


def create(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, CREATE_PARAMS)
    ch = sb.get("charges", ctx.path_params["id"], "charge")
    if not ch["paid"]:
        raise invalid_request(
            "该 charge 尚未支付，不能退款。",
            "This charge has not been paid and cannot be refunded.",
            param="id",
        )
    # Pending refunds count against what is left, so two concurrent requests cannot refund
    # more than was paid; a refund that fails gives its amount back.
    remaining = ch["amount"] - ch["amount_refunded"]
    if remaining <= 0:
        raise invalid_request(
            "该 charge 已全额退款。", "This charge has already been fully refunded.", param="id"
        )
    amount = get_int(params, "amount", minimum=1)
    if amount is None:
        amount = remaining
    if amount > remaining:
        raise parameter_invalid(
            "amount",
            f"退款金额 {amount} 大于可退款金额 {remaining}。",
            f"Refund amount {amount} exceeds the refundable amount {remaining}.",
        )
    description = get_str(params, "description", required=True, max_length=255)
    assert description is not None
    funding_source = get_str(params, "funding_source")
    if funding_source is not None:
        if channel_of(ch).family != "wx":
            raise parameter_invalid(
                "funding_source",
                "funding_source 只适用于微信渠道。",
                "funding_source applies to WeChat channels only.",
            )
        if funding_source not in FUNDING_SOURCES:
            raise parameter_invalid(
                "funding_source",
                "funding_source 只能为 unsettled_funds 或 recharge_funds。",
                "funding_source must be unsettled_funds or recharge_funds.",
            )
    now = sb.now()
    re = objects.refund(
        re_id=sb.new_id("re"),
        # Ping++ numbers refunds itself; charge_order_no carries the merchant's number.
        order_no=f"{now}{sb.rng.randint(100000, 999999)}",
        amount=amount,
        created=now,
        status="pending",
        description=description,
        metadata=get_metadata(params),
        ch=ch,
        funding_source=funding_source,
    )
    sb.insert("refunds", re)
    ch["refunded"] = True
    ch["amount_refunded"] += amount
    if not sb.settings.refunds_pending:
        _settle(sb, re, ctx.request_id)
    sync_refunds(sb, ch)
    return dict(re)


def _charge_refund(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    ch = sb.get("charges", ctx.path_params["id"], "charge")
    re = sb.get("refunds", ctx.path_params["refund_id"], "refund")
    if re["charge"] != ch["id"]:
        raise resource_missing("refund", re["id"])
    return re


def retrieve(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, set())
    return dict(_charge_refund(sb, ctx))


def list_all(sb: PingxxSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"limit", "starting_after", "ending_before"})
    ch = sb.get("charges", ctx.path_params["id"], "charge")
    items = [r for r in sb.stores.refunds.values() if r["charge"] == ch["id"]]
    return paginate(items, ctx.params, f"/v1/charges/{ch['id']}/refunds", "refund")


def _settle(sb: PingxxSandbox, re: Obj, request_id: str | None) -> None:
    ch = sb.stores.charges[re["charge"]]
    re["status"] = "succeeded"
    re["succeed"] = True
    re["time_succeed"] = sb.now()
    re["transaction_no"] = refund_transaction_no(channel_of(ch), sb.rng)
    sync_refunds(sb, ch)
    sb.emit("refund.succeeded", re, request_id)


def _pending(sb: PingxxSandbox, refund_id: str) -> Obj:
    re = sb.get("refunds", refund_id, "refund")
    if re["status"] != "pending":
        raise control_error(f"refund {refund_id} is {re['status']}, not pending")
    return re


def succeed(sb: PingxxSandbox, refund_id: str) -> Obj:
    re = _pending(sb, refund_id)
    _settle(sb, re, None)
    return dict(re)


def fail(
    sb: PingxxSandbox, refund_id: str, failure_code: str | None, failure_msg: str | None
) -> Obj:
    re = _pending(sb, refund_id)
    ch = sb.stores.charges[re["charge"]]
    re["status"] = "failed"
    re["succeed"] = False
    re["failure_code"] = failure_code or DEFAULT_FAILURE[0]
    re["failure_msg"] = failure_msg or DEFAULT_FAILURE[1]
    ch["amount_refunded"] -= re["amount"]
    sync_refunds(sb, ch)
    if sb.settings.emit_refund_failed:
        sb.emit("refund.failed", re, None)
    return dict(re)
