"""Refunds of succeeded charges, including Stripe's asynchronous refund failure."""

from __future__ import annotations

import copy
from typing import Any

from . import currencies, objects, payment_methods
from .errors import invalid_request, parameter_invalid
from .params import apply_metadata, check_known, get_enum, get_int, get_str
from .state import RequestContext, StripeSandbox

Obj = dict[str, Any]

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CREATE_PARAMS = {
    "amount",
    "charge",
    "payment_intent",
    "reason",
    "metadata",
    "expand",
    "instructions_email",
    "origin",
    "refund_application_fee",
    "reverse_transfer",
    "customer",
    "currency",
}
FAILURE_REASONS = ("expired_or_canceled_card", "lost_or_stolen_card", "unknown")


def create(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, CREATE_PARAMS)
    ch = _charge_to_refund(sb, ctx)
    reason = get_enum(params, "reason", REASONS)
    if any(
        dp["charge"] == ch["id"] and not dp["is_charge_refundable"]
        for dp in sb.stores.disputes.values()
    ):
        raise invalid_request(
            f"Charge {ch['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
            param="charge" if "charge" in params else "payment_intent",
        )
    remaining = ch["amount_captured"] - ch["amount_refunded"]
    if ch["refunded"] or remaining <= 0:
        raise invalid_request(
            f"Charge {ch['id']} has already been refunded.",
            code="charge_already_refunded",
            param="charge" if "charge" in params else "payment_intent",
        )
    amount = get_int(params, "amount", minimum=1)
    if amount is None:
        amount = remaining
    currencies.check_step(amount, ch["currency"])
    if amount > remaining:
        currency = ch["currency"]
        raise invalid_request(
            f"Refund amount ({currencies.display(amount, currency)}) is greater than unrefunded "
            f"amount on charge ({currencies.display(remaining, currency)})",
            code="amount_too_large",
            param="amount",
        )
    status = "pending" if sb.settings.refunds_pending else "succeeded"
    re = objects.refund(
        re_id=sb.new_id("re"),
        ch=ch,
        amount=amount,
        created=sb.now(),
        reason=reason,
        metadata=apply_metadata(params),
        status=status,
        balance_transaction=sb.new_id("txn"),
        reference=str(sb.rng.randint(10**22, 10**23 - 1)),
    )
    sb.insert("refunds", re)
    previous = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
    ch["amount_refunded"] += amount
    ch["refunded"] = ch["amount_refunded"] >= ch["amount_captured"]
    sync_charge_refunds(sb, ch)
    sb.emit("refund.created", re, ctx)
    sb.emit("charge.refunded", ch, ctx, previous_attributes=previous)
    card = payment_methods.card_of(sb, sb.stores.payment_methods[ch["payment_method"]])
    if card.outcome == "refund_fails" and status == "succeeded":
        re_id = re["id"]
        sb.later(
            sb.settings.refund_failure_delay_seconds,
            lambda: fail(sb, re_id, "expired_or_canceled_card"),
        )
    return sb.render(re, params)


def _charge_to_refund(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    charge_id = get_str(params, "charge")
    pi_id = get_str(params, "payment_intent")
    if not charge_id and not pi_id:
        raise invalid_request(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
            param="charge",
            saved=False,
        )
    if pi_id:
        pi = sb.get("payment_intents", pi_id, "payment_intent", "payment_intent")
        latest = pi["latest_charge"]
        if pi["status"] != "succeeded" or not latest:
            raise invalid_request(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if charge_id and charge_id != latest:
            raise parameter_invalid(
                "charge", f"Charge {charge_id} does not belong to PaymentIntent {pi_id}."
            )
        charge_id = latest
    assert charge_id is not None
    ch = sb.get("charges", charge_id, "charge", "charge")
    if ch["status"] != "succeeded":
        raise invalid_request(
            f"Charge {charge_id} cannot be refunded because its status is {ch['status']}.",
            code="charge_not_refundable",
            param="charge",
        )
    return ch


def retrieve(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    return sb.render(sb.get("refunds", ctx.path_params["id"], "refund"), ctx.params)


def update(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"metadata", "expand"})
    re = sb.get("refunds", ctx.path_params["id"], "refund")
    previous = {"metadata": dict(re["metadata"])}
    re["metadata"] = apply_metadata(ctx.params, re["metadata"])
    if re["metadata"] != previous["metadata"]:
        sb.emit("refund.updated", re, ctx, previous_attributes=previous)
    return sb.render(re, ctx.params)


def list_all(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(
        params,
        {
            "limit",
            "starting_after",
            "ending_before",
            "created",
            "charge",
            "payment_intent",
            "expand",
        },
    )
    items = list(sb.stores.refunds.values())
    for name in ("charge", "payment_intent"):
        value = get_str(params, name)
        if value:
            items = [re for re in items if re[name] == value]
    return sb.paginate(items, params, "/v1/refunds")


def sync_charge_refunds(sb: StripeSandbox, ch: Obj) -> None:
    refunds = [copy.deepcopy(r) for r in sb.stores.refunds.values() if r["charge"] == ch["id"]]
    refunds.reverse()
    ch["refunds"] = objects.list_object(
        refunds[:10], f"/v1/charges/{ch['id']}/refunds", has_more=len(refunds) > 10
    )


def succeed(sb: StripeSandbox, re_id: str) -> Obj:
    re = sb.get("refunds", re_id, "refund")
    if re["status"] != "pending":
        raise invalid_request(
            f"Refund {re_id} has a status of {re['status']}; only pending refunds can succeed."
        )
    re["status"] = "succeeded"
    card_details = re["destination_details"]["card"]
    card_details["reference"] = str(sb.rng.randint(10**22, 10**23 - 1))
    card_details["reference_status"] = "available"
    _sync(sb, re)
    sb.emit("refund.updated", re, None, previous_attributes={"status": "pending"})
    sb.emit("charge.refund.updated", re, None, previous_attributes={"status": "pending"})
    return re


def fail(sb: StripeSandbox, re_id: str, failure_reason: str = "unknown") -> Obj:
    re = sb.get("refunds", re_id, "refund")
    if re["status"] not in ("pending", "succeeded"):
        raise invalid_request(f"Refund {re_id} has a status of {re['status']}; it cannot fail now.")
    if failure_reason not in FAILURE_REASONS:
        raise parameter_invalid(
            "failure_reason", f"failure_reason must be one of {', '.join(FAILURE_REASONS)}"
        )
    previous_status = re["status"]
    re["status"] = "failed"
    re["failure_reason"] = failure_reason
    re["failure_balance_transaction"] = sb.new_id("txn")
    re["destination_details"]["card"]["reference_status"] = "unavailable"
    ch = sb.stores.charges[re["charge"]]
    ch["amount_refunded"] -= re["amount"]
    ch["refunded"] = False
    _sync(sb, re)
    previous = {"status": previous_status}
    sb.emit("refund.updated", re, None, previous_attributes=previous)
    sb.emit("refund.failed", re, None)
    sb.emit("charge.refund.updated", re, None, previous_attributes=previous)
    return re


def _sync(sb: StripeSandbox, re: Obj) -> None:
    sync_charge_refunds(sb, sb.stores.charges[re["charge"]])
