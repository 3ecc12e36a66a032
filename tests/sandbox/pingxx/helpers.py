"""Shared by the Ping++ sandbox tests: a valid charge per channel, and Ping++'s own way of
checking a webhook signature."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pingpp
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import PKCS1_v1_5

SECRET_KEY = "sk_test_pingxx_sandbox_tests"
APP_ID = "app_SandboxTests0001"
OTHER_APP_ID = "app_SandboxTests0002"

# The smallest valid `extra` per channel, as in the SDK's examples.
CHANNEL_EXTRAS: dict[str, dict[str, Any]] = {
    "alipay_qr": {},
    "alipay_wap": {"success_url": "https://shop.example/paid"},
    "alipay_pc_direct": {"success_url": "https://shop.example/paid"},
    "wx_pub_qr": {"product_id": "sku0001"},
    "wx_pub": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "wx_wap": {"result_url": "https://shop.example/result"},
    "wx_lite": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
}
WECHAT = ("wx_pub_qr", "wx_pub", "wx_wap", "wx_lite")

CHARGE_FIELDS = [
    "id",
    "object",
    "created",
    "livemode",
    "paid",
    "refunded",
    "reversed",
    "app",
    "channel",
    "order_no",
    "client_ip",
    "amount",
    "amount_settle",
    "currency",
    "subject",
    "body",
    "extra",
    "time_paid",
    "time_expire",
    "time_settle",
    "transaction_no",
    "refunds",
    "amount_refunded",
    "failure_code",
    "failure_msg",
    "metadata",
    "credential",
    "description",
]


def new_order_no() -> str:
    return "T" + uuid.uuid4().hex[:19]


def charge_params(channel: str = "alipay_qr", **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "order_no": new_order_no(),
        "amount": 1000,
        "app": {"id": APP_ID},
        "channel": channel,
        "currency": "cny",
        "client_ip": "127.0.0.1",
        "subject": "Order 1",
        "body": "Two items",
        "extra": dict(CHANNEL_EXTRAS[channel]),
    }
    params.update(overrides)
    return params


def create_charge(channel: str = "alipay_qr", **overrides: Any) -> Any:
    return pingpp.Charge.create(**charge_params(channel, **overrides))


def verify_like_pingpp_demo(data: bytes, sig: str, public_key_pem: str) -> bool:
    """Ping++'s documented webhook check (pingpp-python `example/verify_demo.py`), step by
    step with the SDK's own crypto dependency, pycryptodome. Only `base64.decodestring`,
    removed in Python 3.9, becomes `b64decode`; the SDK itself ships no verifier."""

    def decode_base64(text: str) -> bytes:
        remainder = len(text) % 4
        if remainder:
            text += "=" * (4 - remainder)
        return base64.b64decode(text.encode("utf-8"))

    signs = decode_base64(sig)
    decoded = data.decode("utf-8")
    pubkey = RSA.importKey(public_key_pem)
    digest = SHA256.new(decoded.encode("utf-8"))
    pkcs = PKCS1_v1_5.new(pubkey)
    return bool(pkcs.verify(digest, signs))
