"""Builders for Ping++'s JSON objects, with the fields in the order Ping++'s samples show."""

from __future__ import annotations

import copy
import string
from random import Random
from typing import Any

Obj = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits

# Ping++ object ids are a prefix and 24 letters or digits (`ch_` ids are 27 characters).
ID_LENGTH = 24


def random_token(rng: Random, length: int = ID_LENGTH) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


def new_id(rng: Random, prefix: str) -> str:
    return f"{prefix}_{random_token(rng)}"


def list_object(data: list[Obj], url: str, has_more: bool = False) -> Obj:
    return {"object": "list", "url": url, "has_more": has_more, "data": data}


def charge(
    *,
    ch_id: str,
    created: int,
    livemode: bool,
    app_id: str,
    channel: str,
    order_no: str,
    client_ip: str,
    amount: int,
    currency: str,
    subject: str,
    body: str,
    extra: Obj,
    time_expire: int,
    metadata: Obj,
    description: str | None,
) -> Obj:
    return {
        "id": ch_id,
        "object": "charge",
        "created": created,
        "livemode": livemode,
        "paid": False,
        "refunded": False,
        "reversed": False,
        "app": app_id,
        "channel": channel,
        "order_no": order_no,
        "client_ip": client_ip,
        "amount": amount,
        "amount_settle": amount,
        "currency": currency,
        "subject": subject,
        "body": body,
        "extra": extra,
        "time_paid": None,
        "time_expire": time_expire,
        "time_settle": None,
        "transaction_no": None,
        "refunds": list_object([], f"/v1/charges/{ch_id}/refunds"),
        "amount_refunded": 0,
        "failure_code": None,
        "failure_msg": None,
        "metadata": metadata,
        # Ping++ returns the credential in the create answer only; retrieved charges and
        # webhook payloads carry `{}`, so a client must keep the one it was given.
        "credential": {},
        "description": description,
    }


def refund(
    *,
    re_id: str,
    order_no: str,
    amount: int,
    created: int,
    status: str,
    description: str,
    metadata: Obj,
    ch: Obj,
    funding_source: str | None,
) -> Obj:
    obj: Obj = {
        "id": re_id,
        "object": "refund",
        "order_no": order_no,
        "amount": amount,
        "created": created,
        "succeed": status == "succeeded",
        "status": status,
        "time_succeed": created if status == "succeeded" else None,
        "description": description,
        "failure_code": None,
        "failure_msg": None,
        "metadata": metadata,
        "charge": ch["id"],
        "charge_order_no": ch["order_no"],
        "transaction_no": None,
        "extra": {},
    }
    # Documented as present only when the refund request passed it.
    if funding_source is not None:
        obj["funding_source"] = funding_source
    return obj


def event(
    *,
    evt_id: str,
    type_: str,
    obj: Obj,
    created: int,
    livemode: bool,
    pending_webhooks: int,
    request_id: str | None,
) -> Obj:
    return {
        "id": evt_id,
        "created": created,
        "livemode": livemode,
        "type": type_,
        "data": {"object": copy.deepcopy(obj)},
        "object": "event",
        "pending_webhooks": pending_webhooks,
        # A string (`iar_...`), unlike Stripe's object; null for events no request caused.
        "request": request_id,
    }
