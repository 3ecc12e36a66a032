"""Disputes: opened, moved and closed by test controls, read through `/v1/disputes`.

Stripe opens a dispute when the cardholder's bank does, so no API call creates one; the
sandbox's `/_sandbox` controls play the bank. The events are Stripe's: `charge.dispute.created`,
`charge.dispute.funds_withdrawn` once a chargeback takes the money, `charge.dispute.updated` for
status changes before the end, `charge.dispute.funds_reinstated` when it is won, and
`charge.dispute.closed`.
"""

from __future__ import annotations

from typing import Any

from . import currencies
from .errors import invalid_request, parameter_invalid
from .params import check_known, get_str
from .state import RequestContext, StripeSandbox

Obj = dict[str, Any]

REASONS = (
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "noncompliant",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
# An inquiry (`warning_*`) asks questions before any money moves; a chargeback takes it at once.
INQUIRY_OPEN = ("warning_needs_response", "warning_under_review")
CHARGEBACK_OPEN = ("needs_response", "under_review")
OPEN_STATUSES = INQUIRY_OPEN + CHARGEBACK_OPEN
CLOSED_STATUSES = ("won", "lost", "warning_closed")

# Stripe's dispute fee is 15.00 in the account's currency (USD for the sandbox's account); the
# sandbox charges 15 major units of the charge's currency rather than convert.
_FEE_MAJOR_UNITS = 15
_EVIDENCE_WINDOW_SECONDS = 7 * 24 * 60 * 60

# The networks' codes for the reasons a test is likely to use; others have none here.
_NETWORK_REASON_CODES: dict[str, dict[str, str]] = {
    "visa": {
        "fraudulent": "10.4",
        "product_not_received": "13.1",
        "duplicate": "12.6.1",
        "credit_not_processed": "13.6",
        "product_unacceptable": "13.3",
        "subscription_canceled": "13.2",
        "general": "13.7",
    },
    "mastercard": {
        "fraudulent": "4837",
        "product_not_received": "4855",
        "duplicate": "4834",
        "credit_not_processed": "4860",
        "product_unacceptable": "4853",
        "subscription_canceled": "4841",
        "general": "4853",
    },
}

_EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


# --- the API ---------------------------------------------------------------------------------


def retrieve(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    return sb.render(sb.get("disputes", ctx.path_params["id"], "dispute"), ctx.params)


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
    items = list(sb.stores.disputes.values())
    for name in ("charge", "payment_intent"):
        value = get_str(params, name)
        if value:
            items = [dp for dp in items if dp[name] == value]
    return sb.paginate(items, params, "/v1/disputes")


# --- the bank's side, driven by /_sandbox controls ------------------------------------------


def open_dispute(
    sb: StripeSandbox,
    pi_id: str,
    *,
    reason: object = "general",
    amount: object = None,
    status: object = "needs_response",
) -> Obj:
    """Dispute the PaymentIntent's latest charge, as the cardholder's bank would."""
    pi = sb.get("payment_intents", pi_id, "payment_intent")
    charge_id = pi["latest_charge"]
    ch = sb.stores.charges.get(charge_id) if charge_id else None
    if ch is None or ch["status"] != "succeeded":
        raise invalid_request(
            f"PaymentIntent {pi_id} has no successful charge to dispute.", param="payment_intent"
        )
    if any(dp["charge"] == ch["id"] for dp in sb.stores.disputes.values()):
        raise invalid_request(f"Charge {ch['id']} is already disputed.", param="payment_intent")
    if reason not in REASONS:
        raise parameter_invalid("reason", f"reason must be one of {', '.join(REASONS)}")
    if status not in ("needs_response", "warning_needs_response"):
        raise parameter_invalid(
            "status", "status must be needs_response (a chargeback) or warning_needs_response"
        )
    if amount is None:
        amount = ch["amount"]
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= ch["amount"]:
        raise parameter_invalid(
            "amount", f"amount must be an integer from 1 to the charge's {ch['amount']}"
        )
    brand = ch["payment_method_details"]["card"]["brand"]
    network_code = _NETWORK_REASON_CODES.get(brand, {}).get(reason)
    created = sb.now()
    dp = {
        "id": sb.new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": ch["id"],
        "created": created,
        "currency": ch["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {
            **dict.fromkeys(_EVIDENCE_FIELDS),
            "appeal": None,
            "enhanced_evidence": {},
        },
        "evidence_details": {
            # Stripe's deadlines fall on the last second of a UTC day.
            "due_by": ((created + _EVIDENCE_WINDOW_SECONDS) // 86400 + 1) * 86400 - 1,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "intended_submission_method": None,
        # A chargeback has already taken the money back; an inquiry can still be refunded.
        "is_charge_refundable": status == "warning_needs_response",
        "livemode": False,
        "metadata": {},
        "network_reason_code": network_code,
        "payment_intent": pi["id"],
        "payment_method_details": {
            "card": {
                "brand": brand,
                "case_type": "inquiry" if status == "warning_needs_response" else "chargeback",
                "network": ch["payment_method_details"]["card"]["network"],
                "network_reason_code": network_code,
            },
            "type": "card",
        },
        "reason": reason,
        "status": status,
    }
    sb.insert("disputes", dp)
    ch["disputed"] = True
    sb.emit("charge.dispute.created", dp, None)
    if status == "needs_response":
        _withdraw(sb, dp)
    return dp


def update_status(sb: StripeSandbox, dp_id: str, status: object) -> Obj:
    dp = _open(sb, dp_id)
    if status not in OPEN_STATUSES:
        raise parameter_invalid("status", f"status must be one of {', '.join(OPEN_STATUSES)}")
    if dp["status"] in CHARGEBACK_OPEN and status in INQUIRY_OPEN:
        raise invalid_request(f"Dispute {dp_id} is a chargeback; it cannot become an inquiry.")
    previous = {"status": dp["status"]}
    escalated = dp["status"] in INQUIRY_OPEN and status in CHARGEBACK_OPEN
    dp["status"] = status
    if escalated:
        dp["is_charge_refundable"] = False
        dp["payment_method_details"]["card"]["case_type"] = "chargeback"
    if status != previous["status"]:
        sb.emit("charge.dispute.updated", dp, None, previous_attributes=previous)
    if escalated:
        _withdraw(sb, dp)
    return dp


def close(sb: StripeSandbox, dp_id: str, status: object) -> Obj:
    dp = _open(sb, dp_id)
    inquiry = dp["status"] in INQUIRY_OPEN
    allowed = ("warning_closed",) if inquiry else ("won", "lost")
    if status not in allowed:
        raise parameter_invalid(
            "status",
            f"A dispute with status {dp['status']} closes as {' or '.join(allowed)}.",
        )
    previous = {"status": dp["status"]}
    dp["status"] = status
    if status == "won":
        _reinstate(sb, dp)
    sb.emit("charge.dispute.closed", dp, None, previous_attributes=previous)
    return dp


def _open(sb: StripeSandbox, dp_id: str) -> Obj:
    dp = sb.get("disputes", dp_id, "dispute")
    if dp["status"] not in OPEN_STATUSES:
        raise invalid_request(f"Dispute {dp_id} is already closed ({dp['status']}).")
    return dp


def _withdraw(sb: StripeSandbox, dp: Obj) -> None:
    fee = _FEE_MAJOR_UNITS * 10 ** currencies.exponent(dp["currency"])
    dp["balance_transactions"].append(
        _balance_transaction(
            sb, dp, -dp["amount"], fee, f"Chargeback withdrawal for {dp['charge']}"
        )
    )
    sb.emit("charge.dispute.funds_withdrawn", dp, None)


def _reinstate(sb: StripeSandbox, dp: Obj) -> None:
    # Stripe gives the disputed amount back when a dispute is won; the fee stays charged.
    dp["balance_transactions"].append(
        _balance_transaction(sb, dp, dp["amount"], 0, f"Chargeback reversal for {dp['charge']}")
    )
    sb.emit("charge.dispute.funds_reinstated", dp, None)


def _balance_transaction(
    sb: StripeSandbox, dp: Obj, amount: int, fee: int, description: str
) -> Obj:
    now = sb.now()
    currency = dp["currency"]
    return {
        "id": sb.new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": (
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Dispute fee",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        ),
        "net": amount - fee,
        "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
        "source": dp["id"],
        "status": "available",
        "type": "adjustment",
    }
