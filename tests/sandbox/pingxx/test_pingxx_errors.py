"""Ping++'s refusals as the SDK raises them: invalid parameters, used order numbers, keys."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import httpx
import pingpp
import pytest

from sandbox.testing import PingxxSandboxControl
from tests.sandbox.pingxx.helpers import (
    APP_ID,
    OTHER_APP_ID,
    SECRET_KEY,
    charge_params,
    create_charge,
)

DAY = 86400

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("alipay_qr", {"amount": 0}, "amount"),
    ("alipay_qr", {"amount": "ten"}, "amount"),
    ("alipay_qr", {"amount": 10.5}, "amount"),
    ("alipay_qr", {"amount": None}, "amount"),
    ("alipay_qr", {"currency": "usd"}, "currency"),
    ("alipay_qr", {"currency": "CNY"}, "currency"),
    ("alipay_qr", {"client_ip": None}, "client_ip"),
    ("alipay_qr", {"client_ip": "localhost"}, "client_ip"),
    ("alipay_qr", {"subject": None}, "subject"),
    ("alipay_qr", {"subject": "商" * 33}, "subject"),
    ("alipay_qr", {"body": None}, "body"),
    ("alipay_qr", {"body": "x" * 129}, "body"),
    ("alipay_qr", {"description": "x" * 256}, "description"),
    ("alipay_qr", {"order_no": None}, "order_no"),
    ("alipay_qr", {"order_no": "A" * 65}, "order_no"),
    ("alipay_qr", {"order_no": "ord-1"}, "order_no"),
    ("wx_pub_qr", {"order_no": "W" * 33}, "order_no"),
    ("wx_pub_qr", {"order_no": "W"}, "order_no"),
    ("wx_pub", {"extra": {}}, "extra[open_id]"),
    ("wx_lite", {"extra": {}}, "extra[open_id]"),
    ("wx_pub_qr", {"extra": {}}, "extra[product_id]"),
    ("wx_pub_qr", {"extra": {"product_id": "p" * 33}}, "extra[product_id]"),
    ("wx_pub", {"extra": {"open_id": "o1", "limit_pay": "credit"}}, "extra[limit_pay]"),
    ("wx_wap", {"extra": {"result_url": "/relative"}}, "extra[result_url]"),
    ("alipay_wap", {"extra": {}}, "extra[success_url]"),
    ("alipay_pc_direct", {"extra": {"success_url": "not a url"}}, "extra[success_url]"),
    ("alipay_qr", {"channel": "alipay"}, "channel"),
    ("alipay_qr", {"app": {"id": "app_NotConfigured0001"}}, "app[id]"),
    ("alipay_qr", {"app": None}, "app[id]"),
    ("alipay_qr", {"metadata": "cart=1"}, "metadata"),
    ("alipay_qr", {"livemode": True}, "livemode"),
]


class TestInvalidParameters:
    @pytest.mark.parametrize(("channel", "overrides", "param"), INVALID)
    def test_is_an_invalid_request_naming_the_param(
        self, sdk: ModuleType, channel: str, overrides: dict[str, Any], param: str
    ) -> None:
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.create(**{**charge_params(channel), **overrides})
        error = caught.value
        assert error.param == param
        assert error.http_status in (400, 404)
        assert error.json_body["error"]["type"] == "invalid_request_error"
        assert error.json_body["error"]["message"]

    @pytest.mark.parametrize(
        ("channel", "offset"),
        [
            ("alipay_qr", 30),
            ("alipay_qr", 15 * DAY + 60),
            ("wx_pub_qr", 30),
            ("wx_pub_qr", 7 * DAY + 60),
            ("alipay_qr", -60),
        ],
    )
    def test_time_expire_outside_the_channel_window(
        self, sdk: ModuleType, channel: str, offset: int
    ) -> None:
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            create_charge(channel, time_expire=int(time.time()) + offset)
        assert caught.value.param == "time_expire"

    def test_nothing_is_created_by_a_refused_request(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        with pytest.raises(pingpp.error.InvalidRequestError):
            create_charge("wx_pub", extra={})
        assert pingxx.stats()["objects"]["charges"] == 0

    def test_messages_are_english_when_the_sdk_asks_for_it(self, sdk: ModuleType) -> None:
        pingpp.accept_language = "en-US"
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            create_charge("wx_pub", extra={})
        assert str(caught.value) == "Missing required param: extra[open_id]."


class TestRepeatedOrderNo:
    def test_an_identical_create_inside_the_window_answers_the_first_charge(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        params = charge_params("wx_pub_qr")
        first = pingpp.Charge.create(**params)
        again = pingpp.Charge.create(**params)
        assert again.id == first.id
        assert again.credential == first.credential
        assert pingxx.stats()["objects"]["charges"] == 1

    @pytest.mark.parametrize(
        "change",
        [{"amount": 1001}, {"subject": "Order 1 (coupon)"}, {"channel": "alipay_qr"}],
    )
    def test_any_other_create_with_a_used_order_no_is_refused_by_the_channel(
        self, sdk: ModuleType, change: dict[str, Any]
    ) -> None:
        params = charge_params("wx_pub_qr")
        first = pingpp.Charge.create(**params)
        changed = {**params, **change}
        if change.get("channel") == "alipay_qr":
            changed["extra"] = {}
        with pytest.raises(pingpp.error.ChannelError) as caught:
            pingpp.Charge.create(**changed)
        error = caught.value
        assert (error.http_status, error.code, error.param) == (
            402,
            "charge_order_no_used",
            "order_no",
        )
        assert error.json_body["error"]["type"] == "channel_error"
        assert first.order_no in str(error)

    def test_an_identical_create_after_the_window_is_refused(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        params = charge_params("alipay_qr")
        pingpp.Charge.create(**params)
        pingxx.configure(replay_window_seconds=0)
        with pytest.raises(pingpp.error.ChannelError) as caught:
            pingpp.Charge.create(**params)
        assert caught.value.code == "charge_order_no_used"

    def test_the_same_order_no_under_another_app_is_another_charge(self, sdk: ModuleType) -> None:
        params = charge_params("alipay_qr")
        first = pingpp.Charge.create(**params)
        other = pingpp.Charge.create(**{**params, "app": {"id": OTHER_APP_ID}})
        assert other.id != first.id

    def test_a_lost_create_answer_is_recovered_by_repeating_it_or_by_listing(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        params = charge_params("wx_pub")
        pingxx.configure(lose_response_next=1)
        with pytest.raises(pingpp.error.APIError) as lost:
            pingpp.Charge.create(**params)
        assert lost.value.http_status == 500
        # Ping++ offers no lookup by order_no: page the app's charges and match it.
        listed = pingpp.Charge.list(app={"id": APP_ID}, channel="wx_pub", limit=100)
        found = [c for c in listed.data if c.order_no == params["order_no"]]
        assert len(found) == 1
        assert pingpp.Charge.create(**params).id == found[0].id


class TestKeys:
    def test_a_wrong_secret_key_is_an_authentication_error(self, sdk: ModuleType) -> None:
        pingpp.api_key = "sk_test_not_the_sandbox_key"
        with pytest.raises(pingpp.error.AuthenticationError) as caught:
            pingpp.Charge.retrieve("ch_000000000000000000000000")
        assert caught.value.http_status == 401

    def test_no_key_at_all_is_a_401_in_pingxx_shape(self, pingxx: PingxxSandboxControl) -> None:
        response = httpx.get(f"{pingxx.url}/v1/charges/ch_000000000000000000000000")
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"

    def test_basic_auth_as_curl_and_the_go_sdk_send_it(self, pingxx: PingxxSandboxControl) -> None:
        response = httpx.get(
            f"{pingxx.url}/v1/charges", params={"app[id]": APP_ID}, auth=(SECRET_KEY, "")
        )
        assert response.status_code == 200
        assert response.json()["object"] == "list"

    def test_an_unknown_url_is_a_404(self, sdk: ModuleType, pingxx: PingxxSandboxControl) -> None:
        response = httpx.get(
            f"{pingxx.url}/v1/customers", headers={"Authorization": f"Bearer {SECRET_KEY}"}
        )
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "invalid_request_error"
