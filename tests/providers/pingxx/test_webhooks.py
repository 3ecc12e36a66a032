"""`X-Pingplusplus-Signature` checks and Ping++ events -> ProviderEvent: pure, no server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.providers.base import (
    WebhookMalformed,
    WebhookSignatureMissing,
    WebhookVerificationFailed,
)
from app.providers.pingxx.signing import load_public_key
from app.providers.pingxx.webhooks import event_from_dict, parse_webhook
from sandbox.pingxx import signing

KEY = signing.generate_private_key()
PUBLIC = load_public_key(signing.public_key_pem(KEY))


def event(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "evt_" + "c" * 24,
        "object": "event",
        "created": 1_800_000_000,
        "livemode": False,
        "type": "charge.succeeded",
        "data": {
            "object": {
                "id": "ch_" + "a" * 24,
                "object": "charge",
                "paid": True,
                "reversed": False,
                "channel": "alipay_qr",
                "amount": 1999,
                "currency": "cny",
                "metadata": {"payment_id": "pay_01m8sva1cet3z4x9k2d7w5q8rb"},
                "credential": {},
            }
        },
    }
    values.update(overrides)
    return values


def signed(body: bytes, key: signing.PrivateKey = KEY) -> dict[str, str]:
    return {"X-Pingplusplus-Signature": signing.sign_webhook(body, key)}


class TestSignature:
    def test_a_signed_event_is_read(self) -> None:
        body = json.dumps(event()).encode()
        parsed = parse_webhook(PUBLIC, signed(body), body)
        assert parsed.event_id == "evt_" + "c" * 24
        assert parsed.payment is not None
        assert parsed.payment.amount_received == 1999
        assert parsed.object_id == "ch_" + "a" * 24

    def test_the_header_name_is_any_case(self) -> None:
        body = json.dumps(event()).encode()
        headers = {"x-pingplusplus-signature": signed(body)["X-Pingplusplus-Signature"]}
        assert parse_webhook(PUBLIC, headers, body).event_type == "charge.succeeded"

    def test_missing_signature(self) -> None:
        with pytest.raises(WebhookSignatureMissing):
            parse_webhook(PUBLIC, {}, b"{}")

    @pytest.mark.parametrize("signature", ["", "not base64!", "AAAA"])
    def test_a_bad_signature_fails(self, signature: str) -> None:
        body = json.dumps(event()).encode()
        with pytest.raises(WebhookVerificationFailed):
            parse_webhook(PUBLIC, {"X-Pingplusplus-Signature": signature}, body)

    def test_another_key_fails(self) -> None:
        body = json.dumps(event()).encode()
        with pytest.raises(WebhookVerificationFailed):
            parse_webhook(PUBLIC, signed(body, signing.generate_private_key()), body)

    def test_a_changed_body_fails(self) -> None:
        body = json.dumps(event()).encode()
        tampered = body.replace(b"1999", b"9999")
        with pytest.raises(WebhookVerificationFailed):
            parse_webhook(PUBLIC, signed(body), tampered)

    def test_no_public_key_configured_fails_closed(self) -> None:
        body = json.dumps(event()).encode()
        with pytest.raises(WebhookVerificationFailed):
            parse_webhook(None, signed(body), body)


class TestBody:
    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[]",
            json.dumps({"a": "\x00"}).encode(),
            b"[" * 100 + b"]" * 100,
        ],
    )
    def test_signed_but_unreadable_is_malformed(self, body: bytes) -> None:
        with pytest.raises(WebhookMalformed):
            parse_webhook(PUBLIC, signed(body), body)

    @pytest.mark.parametrize(
        "fields",
        [
            {"id": "evt bad"},
            {"type": "Charge Succeeded"},
            {"created": "yesterday"},
            {"created": True},
            {"data": {}},
            {"object": "charge"},
            {"data": {"object": {"id": "../x", "object": "charge"}}},
            {"data": {"object": {"id": "ch_" + "a" * 24, "object": "charge", "amount": "1"}}},
        ],
    )
    def test_a_malformed_event_is_refused(self, fields: dict[str, Any]) -> None:
        with pytest.raises(WebhookMalformed):
            event_from_dict(event(**fields))

    def test_a_refund_event_names_its_charge(self) -> None:
        refund = {
            "id": "re_" + "b" * 24,
            "object": "refund",
            "amount": 500,
            "status": "succeeded",
            "charge": "ch_" + "a" * 24,
            "metadata": {},
        }
        parsed = event_from_dict(event(type="refund.succeeded", data={"object": refund}))
        assert parsed.refund is not None
        assert parsed.payment is None
        assert parsed.payment_reference == "ch_" + "a" * 24

    def test_an_unknown_object_is_only_a_hint(self) -> None:
        parsed = event_from_dict(
            event(type="summary.daily.available", data={"object": {"id": "sum_1", "object": "x"}})
        )
        assert parsed.payment is None
        assert parsed.refund is None

    def test_livemode_is_read(self) -> None:
        assert event_from_dict(event(livemode=True)).livemode is True


class TestWhatIsBelieved:
    def test_a_documented_event_agreeing_with_its_object_is_believed(self) -> None:
        assert event_from_dict(event()).believed is True

    @pytest.mark.parametrize(
        "fields",
        [
            {"type": "charge.reversed"},
            {"type": "refund.succeeded"},
            {"type": "charge.succeeded", "paid": False},
        ],
    )
    def test_anything_else_is_a_hint_to_read_the_charge(self, fields: dict[str, Any]) -> None:
        base = event()
        obj = {**base["data"]["object"]}
        if "paid" in fields:
            obj["paid"] = fields.pop("paid")
        parsed = event_from_dict({**base, **fields, "data": {"object": obj}})
        assert parsed.believed is False
        assert parsed.payment is not None

    def test_a_refund_under_an_unknown_type_asks_for_the_charges_refunds(self) -> None:
        refund = {
            "id": "re_" + "b" * 24,
            "object": "refund",
            "amount": 500,
            "status": "succeeded",
            "charge": "ch_" + "a" * 24,
            "metadata": {},
        }
        parsed = event_from_dict(event(type="refund.updated", data={"object": refund}))
        assert parsed.believed is False
        assert parsed.refund is None
        assert parsed.refunds_of == "ch_" + "a" * 24
