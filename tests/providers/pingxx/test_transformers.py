"""Ping++ wire objects and answers -> neutral types: pure, no server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.providers.base import (
    PaymentStatus,
    ProviderRejected,
    ProviderUnavailable,
    RefundStatus,
    money,
)
from app.providers.pingxx import transformers
from app.providers.pingxx.transformers import (
    check_amount,
    error_from_response,
    order_no,
    payment_from_charge,
    payment_status,
    refund_from_pingxx,
)

NOW = 1_800_000_000


def charge(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "ch_" + "a" * 24,
        "object": "charge",
        "livemode": False,
        "paid": False,
        "reversed": False,
        "channel": "alipay_qr",
        "amount": 1999,
        "currency": "cny",
        "time_expire": NOW + 3600,
        "failure_code": None,
        "failure_msg": None,
        "metadata": {"payment_id": "pay_01m8sva1cet3z4x9k2d7w5q8rb"},
        "credential": {"object": "credential", "alipay_qr": "https://qr.alipay.com/x"},
    }
    values.update(overrides)
    return values


def answer(status: int, body: object) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content)


class TestOrderNo:
    def test_is_the_id_body_within_every_channels_rule(self) -> None:
        assert order_no("pay_01m8sva1cet3z4x9k2d7w5q8rb") == "01m8sva1cet3z4x9k2d7w5q8rb"

    @pytest.mark.parametrize("bad", ["pay_", "pay_a", "pay_" + "a" * 33, "pay_ab-cd", "pay_é1"])
    def test_refuses_what_no_channel_takes(self, bad: str) -> None:
        with pytest.raises(ValueError, match="order_no"):
            order_no(bad)


class TestStatus:
    @pytest.mark.parametrize(
        ("fields", "status"),
        [
            ({}, PaymentStatus.REQUIRES_PAYMENT_METHOD),
            ({"paid": True}, PaymentStatus.SUCCEEDED),
            ({"paid": True, "time_expire": NOW - 1}, PaymentStatus.SUCCEEDED),
            ({"reversed": True}, PaymentStatus.CANCELED),
            ({"failure_code": "USER_CANCEL"}, PaymentStatus.FAILED),
            ({"time_expire": NOW}, PaymentStatus.EXPIRED),
        ],
    )
    def test_flags_and_times_make_a_status(
        self, fields: dict[str, Any], status: PaymentStatus
    ) -> None:
        assert payment_status(charge(**fields), now=NOW) is status


class TestCharge:
    def test_becomes_a_neutral_payment(self) -> None:
        payment = payment_from_charge(charge())
        assert payment.amount == 1999
        assert payment.currency == "CNY"
        assert payment.payment_id == "pay_01m8sva1cet3z4x9k2d7w5q8rb"
        assert payment.payload == {
            "channel": "alipay_qr",
            "charge_id": "ch_" + "a" * 24,
            "credential": {"alipay_qr": "https://qr.alipay.com/x"},
        }
        assert payment.object_type == "charge"
        assert payment.amount_received == 0

    def test_an_empty_credential_is_left_out(self) -> None:
        assert "credential" not in payment_from_charge(charge(credential={})).payload

    def test_a_spoofed_payment_id_is_not_ours(self) -> None:
        assert payment_from_charge(charge(metadata={"payment_id": "x; drop"})).payment_id is None

    def test_paid_is_received_in_full(self) -> None:
        assert payment_from_charge(charge(paid=True)).amount_received == 1999

    def test_the_failure_is_kept(self) -> None:
        failed = payment_from_charge(charge(failure_code="USER_CANCEL", failure_msg="no"))
        assert failed.last_error is not None
        assert (failed.last_error.code, failed.last_error.message) == ("USER_CANCEL", "no")

    @pytest.mark.parametrize(
        "fields",
        [
            {"object": "refund"},
            {"id": "ch-bad id"},
            {"amount": "1999"},
            {"amount": True},
            {"currency": "usd"},
            {"currency": None},
            {"channel": ""},
        ],
    )
    def test_an_unreadable_charge_is_unavailable(self, fields: dict[str, Any]) -> None:
        with pytest.raises(ProviderUnavailable):
            payment_from_charge(charge(**fields))


class TestRefund:
    def refund(self, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": "re_" + "b" * 24,
            "object": "refund",
            "amount": 500,
            "status": "succeeded",
            "charge": "ch_" + "a" * 24,
            "metadata": {"refund_id": "rf_01m8sva1cet3z4x9k2d7w5q8rb"},
            "failure_code": None,
            "failure_msg": None,
        }
        values.update(overrides)
        return values

    @pytest.mark.parametrize(
        ("wire", "status"),
        [
            ("pending", RefundStatus.PENDING),
            ("succeeded", RefundStatus.SUCCEEDED),
            ("failed", RefundStatus.FAILED),
        ],
    )
    def test_statuses(self, wire: str, status: RefundStatus) -> None:
        refund = refund_from_pingxx(self.refund(status=wire))
        assert refund.status is status
        assert refund.currency == "CNY"
        assert refund.refund_id == "rf_01m8sva1cet3z4x9k2d7w5q8rb"
        assert refund.payment_reference == "ch_" + "a" * 24

    def test_an_unknown_status_is_unavailable(self) -> None:
        with pytest.raises(ProviderUnavailable):
            refund_from_pingxx(self.refund(status="processing"))

    def test_the_failure_message_is_the_reason(self) -> None:
        failed = refund_from_pingxx(self.refund(status="failed", failure_code="X", failure_msg="Y"))
        assert failed.failure_reason == "Y"


class TestErrors:
    def test_a_parameter_refused_is_a_rejection(self) -> None:
        error = error_from_response(
            answer(400, {"error": {"type": "invalid_request_error", "message": "m", "param": "x"}})
        )
        assert isinstance(error, ProviderRejected)
        assert error.http_status == 400

    def test_a_used_order_no_is_a_rejection_with_its_code(self) -> None:
        error = error_from_response(
            answer(402, {"error": {"type": "channel_error", "code": "charge_order_no_used"}})
        )
        assert isinstance(error, ProviderRejected)
        assert error.code == "charge_order_no_used"

    @pytest.mark.parametrize("message", ["提供了无效的签名。", "Invalid signature provided."])
    def test_a_signature_refused_proves_nothing(self, message: str) -> None:
        error = error_from_response(
            answer(400, {"error": {"type": "invalid_request_error", "message": message}})
        )
        assert isinstance(error, ProviderUnavailable)
        assert error.code == "signature_refused"

    @pytest.mark.parametrize("status", [401, 403, 429, 500, 502, 503, 504])
    def test_keys_limits_and_server_errors_prove_nothing(self, status: int) -> None:
        assert isinstance(
            error_from_response(answer(status, {"error": {"message": "x"}})), ProviderUnavailable
        )

    def test_an_answer_without_json_is_still_sorted(self) -> None:
        assert isinstance(error_from_response(answer(502, b"<html>")), ProviderUnavailable)
        assert isinstance(error_from_response(answer(404, b"")), ProviderRejected)


class TestAmounts:
    def test_only_cny(self) -> None:
        check_amount(1, "cny")
        with pytest.raises(money.CurrencyNotSupported):
            check_amount(100, "USD")

    def test_the_units_are_fen(self) -> None:
        assert money.to_provider_units(1999, "CNY", transformers.units()) == 1999
