"""Builders for Stripe's JSON objects, shaped like the objects in Stripe's fixtures."""

from __future__ import annotations

import copy
import string
from random import Random
from typing import Any

from .cards import TestCard

Obj = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def random_token(rng: Random, length: int = 24) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


def new_id(rng: Random, prefix: str) -> str:
    return f"{prefix}_{random_token(rng)}"


def list_object(data: list[Obj], url: str, has_more: bool = False) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def empty_address() -> Obj:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def billing_details(given: Obj | None) -> Obj:
    given = given or {}
    address = empty_address()
    given_address = given.get("address")
    if isinstance(given_address, dict):
        for key in address:
            value = given_address.get(key)
            address[key] = value if isinstance(value, str) and value else None
    details: Obj = {"address": address}
    for key in ("email", "name", "phone"):
        value = given.get(key)
        details[key] = value if isinstance(value, str) and value else None
    details["tax_id"] = None
    return details


def payment_method(
    *,
    pm_id: str,
    card: TestCard,
    exp_month: int,
    exp_year: int,
    created: int,
    details: Obj,
    metadata: dict[str, str],
    cvc_given: bool,
) -> Obj:
    return {
        "id": pm_id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": details,
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked" if cvc_given else None,
            },
            "country": card.country,
            "display_brand": card.brand.replace("amex", "american_express"),
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": card.fingerprint,
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": metadata,
        "type": "card",
    }


def payment_intent(
    *,
    pi_id: str,
    client_secret: str,
    amount: int,
    currency: str,
    created: int,
    automatic_payment_methods: bool,
    payment_method_types: list[str],
    metadata: dict[str, str],
    description: str | None,
    receipt_email: str | None,
    customer: str | None,
    setup_future_usage: str | None,
    statement_descriptor: str | None,
    statement_descriptor_suffix: str | None,
    shipping: Obj | None,
    transfer_group: str | None,
    capture_method: str,
    pmc_id: str,
) -> Obj:
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": (
            {"allow_redirects": "always", "enabled": True} if automatic_payment_methods else None
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method,
        "client_secret": client_secret,
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": (
            {"id": pmc_id, "parent": None} if automatic_payment_methods else None
        ),
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": payment_method_types,
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": setup_future_usage,
        "shipping": shipping,
        "source": None,
        "statement_descriptor": statement_descriptor,
        "statement_descriptor_suffix": statement_descriptor_suffix,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": transfer_group,
    }


def three_d_secure_details(transaction_id: str) -> Obj:
    return {
        "authentication_flow": "challenge",
        "electronic_commerce_indicator": "05",
        "exemption_indicator": None,
        "result": "authenticated",
        "result_reason": None,
        "transaction_id": transaction_id,
        "version": "2.2.0",
    }


def charge(
    *,
    ch_id: str,
    pi: Obj,
    pm: Obj,
    card: TestCard,
    created: int,
    succeeded: bool,
    balance_transaction: str | None,
    receipt_base: str,
    three_d_secure: Obj | None,
    rng: Random,
) -> Obj:
    amount = pi["amount"]
    pm_card = pm["card"]
    if succeeded:
        outcome = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": rng.randint(5, 60),
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    else:
        outcome = {
            "advice_code": card.advice_code,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": card.decline_code,
            "risk_level": "normal",
            "risk_score": rng.randint(5, 60),
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    return {
        "id": ch_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if succeeded else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": balance_transaction,
        "billing_details": copy.deepcopy(pm["billing_details"]),
        "calculated_statement_descriptor": "STRIPE SANDBOX",
        "captured": succeeded,
        "created": created,
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None if succeeded else card.code,
        "failure_message": None if succeeded else card.message,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": {
            "card": {
                "amount_authorized": amount if succeeded else None,
                "authorization_code": str(rng.randint(100000, 999999)) if succeeded else None,
                "brand": pm_card["brand"],
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass" if pm_card["checks"]["cvc_check"] else None,
                },
                "country": pm_card["country"],
                "exp_month": pm_card["exp_month"],
                "exp_year": pm_card["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": pm_card["fingerprint"],
                "funding": pm_card["funding"],
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": pm_card["last4"],
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": pm_card["brand"],
                "network_token": {"used": False},
                "network_transaction_id": str(rng.randint(10**14, 10**15 - 1)),
                "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": three_d_secure,
                "transaction_link_id": None,
                "wallet": None,
            },
            "type": "card",
        },
        "radar_options": {},
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"{receipt_base}/_sandbox/receipts/{ch_id}",
        "refunded": False,
        "refunds": list_object([], f"/v1/charges/{ch_id}/refunds"),
        "review": None,
        "shipping": copy.deepcopy(pi["shipping"]),
        "source": None,
        "source_transfer": None,
        "statement_descriptor": pi["statement_descriptor"],
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
        "status": "succeeded" if succeeded else "failed",
        "transfer_data": None,
        "transfer_group": pi["transfer_group"],
    }


def refund(
    *,
    re_id: str,
    ch: Obj,
    amount: int,
    created: int,
    reason: str | None,
    metadata: dict[str, str],
    status: str,
    balance_transaction: str | None,
    reference: str,
) -> Obj:
    return {
        "id": re_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "charge": ch["id"],
        "created": created,
        "currency": ch["currency"],
        "customer": ch["customer"],
        "customer_account": None,
        "destination_details": {
            "card": {
                "reference": reference if status == "succeeded" else None,
                "reference_status": "available" if status == "succeeded" else "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": metadata,
        "payment_intent": ch["payment_intent"],
        "payment_method": ch["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def event(
    *,
    evt_id: str,
    type_: str,
    obj: Obj,
    created: int,
    api_version: str,
    pending_webhooks: int,
    request_id: str | None,
    idempotency_key: str | None,
    previous_attributes: Obj | None = None,
) -> Obj:
    data: Obj = {"object": copy.deepcopy(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": evt_id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type_,
    }


def webhook_endpoint(
    *,
    we_id: str,
    url: str,
    secret: str,
    enabled_events: list[str],
    created: int,
    description: str | None,
    metadata: dict[str, str],
    api_version: str | None,
) -> Obj:
    return {
        "id": we_id,
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": created,
        "description": description,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": metadata,
        "secret": secret,
        "status": "enabled",
        "url": url,
    }
