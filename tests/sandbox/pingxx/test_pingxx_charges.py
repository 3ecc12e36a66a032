"""Charges through the official pingpp SDK: create per channel, retrieve, list, reverse."""

from __future__ import annotations

import json
import re
import time
from types import ModuleType

import httpx
import pingpp
import pytest

from sandbox.pingxx import sign_request
from sandbox.pingxx.signing import PrivateKey
from sandbox.testing import PingxxSandboxControl
from tests.sandbox.pingxx.helpers import (
    APP_ID,
    CHANNEL_EXTRAS,
    CHARGE_FIELDS,
    OTHER_APP_ID,
    SECRET_KEY,
    WECHAT,
    create_charge,
    new_order_no,
)


class TestCreate:
    @pytest.mark.parametrize("channel", list(CHANNEL_EXTRAS))
    def test_each_channel_answers_a_charge_in_pingxx_shape(
        self, sdk: ModuleType, channel: str
    ) -> None:
        ch = create_charge(channel, metadata={"order_id": "ord_1"}, description="First order")
        assert isinstance(ch, pingpp.Charge)
        assert list(json.loads(ch.last_response.body)) == CHARGE_FIELDS
        assert re.fullmatch(r"ch_[0-9A-Za-z]{24}", ch.id)
        assert (ch.object, ch.livemode, ch.paid, ch.refunded, ch.reversed) == (
            "charge",
            False,
            False,
            False,
            False,
        )
        assert (ch.app, ch.channel, ch.amount, ch.amount_settle, ch.currency) == (
            APP_ID,
            channel,
            1000,
            1000,
            "cny",
        )
        assert (ch.subject, ch.body, ch.client_ip, ch.description) == (
            "Order 1",
            "Two items",
            "127.0.0.1",
            "First order",
        )
        assert ch.extra == CHANNEL_EXTRAS[channel]
        assert ch.metadata == {"order_id": "ord_1"}
        assert (ch.time_paid, ch.time_settle, ch.transaction_no) == (None, None, None)
        assert (ch.amount_refunded, ch.failure_code, ch.failure_msg) == (0, None, None)
        assert ch.refunds == {
            "object": "list",
            "url": f"/v1/charges/{ch.id}/refunds",
            "has_more": False,
            "data": [],
        }
        # Defaults: two hours for WeChat, one day for the others.
        assert ch.time_expire - ch.created == (7200 if channel in WECHAT else 86400)
        assert ch.credential["object"] == "credential"
        assert set(ch.credential) == {"object", channel}

    def test_the_credential_comes_with_the_create_answer_only(self, sdk: ModuleType) -> None:
        ch = create_charge("wx_pub_qr")
        retrieved = pingpp.Charge.retrieve(ch.id)
        assert retrieved.credential == {}
        assert {k: v for k, v in retrieved.items() if k != "credential"} == {
            k: v for k, v in ch.items() if k != "credential"
        }

    def test_qr_credentials_are_the_code_urls_to_render(self, sdk: ModuleType) -> None:
        alipay = create_charge("alipay_qr").credential["alipay_qr"]
        wechat = create_charge("wx_pub_qr").credential["wx_pub_qr"]
        assert re.fullmatch(r"https://qr\.alipay\.com/\w+", alipay)
        assert re.fullmatch(r"weixin://wxpay/bizpayurl\?pr=\w+", wechat)

    @pytest.mark.parametrize("channel", ["wx_pub", "wx_lite"])
    def test_jsapi_credentials_carry_the_six_fields_the_wechat_sheet_takes(
        self, sdk: ModuleType, channel: str
    ) -> None:
        ch = create_charge(channel)
        jsapi = ch.credential[channel]
        assert set(jsapi) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
        assert jsapi["package"].startswith("prepay_id=wx")
        assert jsapi["timeStamp"] == str(ch.created)

    def test_redirect_credentials_lead_to_the_sandbox_page_or_to_the_gateways(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        wap = create_charge("alipay_wap")
        form = wap.credential["alipay_wap"]
        assert form["channel_url"] == f"{pingxx.url}/_sandbox/charges/{wap.id}"
        assert (form["method"], form["return_url"]) == (
            "alipay.trade.wap.pay",
            "https://shop.example/paid",
        )
        assert json.loads(form["biz_content"])["out_trade_no"] == wap.order_no
        h5 = create_charge("wx_wap").credential["wx_wap"]
        assert h5.startswith(f"{pingxx.url}/_sandbox/charges/")
        assert "prepay_id=wx" in h5

        pingxx.configure(redirect_to_sandbox=False, public_url=None)
        pc = create_charge("alipay_pc_direct").credential["alipay_pc_direct"]
        assert pc["channel_url"] == "https://openapi.alipay.com/gateway.do"
        assert pc["method"] == "alipay.trade.page.pay"
        h5 = create_charge("wx_wap").credential["wx_wap"]
        assert h5.startswith("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=")

    def test_a_time_expire_inside_the_window_is_kept(self, sdk: ModuleType) -> None:
        expires = int(time.time()) + 3 * 86400
        assert create_charge("alipay_qr", time_expire=expires).time_expire == expires
        assert create_charge("wx_pub", time_expire=expires).time_expire == expires

    def test_app_may_be_a_plain_id_and_order_no_may_use_the_channel_maximum(
        self, sdk: ModuleType
    ) -> None:
        alipay = create_charge("alipay_qr", app=APP_ID, order_no="A" * 64)
        wechat = create_charge("wx_pub_qr", order_no="W" * 32)
        assert (alipay.app, len(alipay.order_no), len(wechat.order_no)) == (APP_ID, 64, 32)

    def test_a_form_encoded_create_with_basic_auth_is_accepted(
        self, pingxx: PingxxSandboxControl, merchant_key: PrivateKey
    ) -> None:
        order_no = new_order_no()
        body = (
            f"order_no={order_no}&amount=1500&app[id]={APP_ID}&channel=wx_pub&currency=cny"
            "&client_ip=10.0.0.8&subject=S&body=B&extra[open_id]=o123&metadata[cart]=c9"
        ).encode()
        response = httpx.post(
            f"{pingxx.url}/v1/charges",
            content=body,
            auth=(SECRET_KEY, ""),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                **sign_request(body, "/v1/charges", str(int(time.time())), merchant_key),
            },
        )
        assert response.status_code == 200, response.text
        ch = response.json()
        assert (ch["order_no"], ch["amount"], ch["extra"], ch["metadata"]) == (
            order_no,
            1500,
            {"open_id": "o123"},
            {"cart": "c9"},
        )


class TestRetrieveAndList:
    def test_unknown_charge_is_a_404(self, sdk: ModuleType) -> None:
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.retrieve("ch_000000000000000000000000")
        assert caught.value.http_status == 404
        assert caught.value.json_body["error"]["type"] == "invalid_request_error"

    def test_list_is_per_app_newest_first_and_pages(self, sdk: ModuleType) -> None:
        made = [create_charge("alipay_qr") for _ in range(3)]
        create_charge("alipay_qr", app={"id": OTHER_APP_ID})
        first = pingpp.Charge.list(**{"app[id]": APP_ID, "limit": 2})
        assert (first.object, first.url, first.has_more) == ("list", "/v1/charges", True)
        assert [c.id for c in first.data] == [made[2].id, made[1].id]
        rest = pingpp.Charge.list(app={"id": APP_ID}, limit=2, starting_after=first.data[-1].id)
        assert [c.id for c in rest.data] == [made[0].id]
        assert rest.has_more is False
        back = pingpp.Charge.list(app={"id": APP_ID}, ending_before=made[0].id)
        assert [c.id for c in back.data] == [made[2].id, made[1].id]

    def test_list_filters_by_channel_flags_and_created(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        qr = create_charge("alipay_qr")
        wx = create_charge("wx_pub_qr")
        pingxx.pay(wx.id)
        by_channel = pingpp.Charge.list(app={"id": APP_ID}, channel="wx_pub_qr")
        assert [c.id for c in by_channel.data] == [wx.id]
        unpaid = pingpp.Charge.list(app={"id": APP_ID}, paid=False)
        assert [c.id for c in unpaid.data] == [qr.id]
        later = pingpp.Charge.list(app={"id": APP_ID}, created={"gt": wx.created})
        assert later.data == []
        window = pingpp.Charge.list(
            app={"id": APP_ID}, created={"gte": qr.created, "lte": wx.created}
        )
        assert {c.id for c in window.data} == {qr.id, wx.id}

    def test_list_needs_the_app_and_has_no_order_no_filter(
        self, pingxx: PingxxSandboxControl
    ) -> None:
        auth = {"Authorization": f"Bearer {SECRET_KEY}"}
        missing = httpx.get(f"{pingxx.url}/v1/charges", headers=auth)
        assert missing.status_code == 400
        assert missing.json()["error"]["param"] == "app[id]"
        by_order_no = httpx.get(
            f"{pingxx.url}/v1/charges",
            params={"app[id]": APP_ID, "order_no": "T123"},
            headers=auth,
        )
        assert by_order_no.status_code == 400
        assert by_order_no.json()["error"]["param"] == "order_no"


class TestReverse:
    @pytest.mark.parametrize("channel", ["alipay_qr", "wx_pub_qr", "wx_pub", "wx_wap", "wx_lite"])
    def test_an_unpaid_charge_is_closed_and_can_no_longer_be_paid(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, channel: str
    ) -> None:
        ch = create_charge(channel)
        reversed_ch = pingpp.Charge.reverse(ch.id)
        assert (reversed_ch.id, reversed_ch.reversed, reversed_ch.paid) == (ch.id, True, False)
        assert pingpp.Charge.reverse(ch.id).reversed is True
        assert pingxx.request("POST", f"/_sandbox/charges/{ch.id}/pay", {}).status_code == 400
        assert pingxx.charge_state(ch.id) == "reversed"
        listed = pingpp.Charge.list(app={"id": APP_ID}, reversed=True)
        assert [c.id for c in listed.data] == [ch.id]

    @pytest.mark.parametrize("channel", ["alipay_wap", "alipay_pc_direct"])
    def test_alipay_web_charges_cannot_be_reversed(self, sdk: ModuleType, channel: str) -> None:
        ch = create_charge(channel)
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.reverse(ch.id)
        assert caught.value.http_status == 400
        assert pingpp.Charge.retrieve(ch.id).reversed is False

    def test_a_paid_charge_is_refunded_not_reversed(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("wx_pub_qr")
        pingxx.pay(ch.id)
        with pytest.raises(pingpp.error.InvalidRequestError):
            pingpp.Charge.reverse(ch.id)
