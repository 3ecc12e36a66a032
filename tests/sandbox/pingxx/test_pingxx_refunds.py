"""Refunds through the SDK: partial and full, pending and failed, and what Ping++ refuses."""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

import pingpp
import pytest

from sandbox.testing import PingxxSandboxControl
from tests.sandbox.pingxx.helpers import create_charge

REFUND_FIELDS = [
    "id",
    "object",
    "order_no",
    "amount",
    "created",
    "succeed",
    "status",
    "time_succeed",
    "description",
    "failure_code",
    "failure_msg",
    "metadata",
    "charge",
    "charge_order_no",
    "transaction_no",
    "extra",
]


def paid_charge(pingxx: PingxxSandboxControl, channel: str = "wx_pub_qr") -> Any:
    ch = create_charge(channel)
    pingxx.pay(ch.id)
    return pingpp.Charge.retrieve(ch.id)


class TestRefunds:
    def test_a_partial_then_the_rest(self, sdk: ModuleType, pingxx: PingxxSandboxControl) -> None:
        ch = paid_charge(pingxx)
        first = pingpp.Charge.refund(
            ch.id, amount=300, description="One item back", metadata={"rma": "r1"}
        )
        assert isinstance(first, pingpp.Refund)
        assert list(json.loads(first.last_response.body)) == REFUND_FIELDS
        assert re.fullmatch(r"re_[0-9A-Za-z]{24}", first.id)
        assert (first.object, first.amount, first.status, first.succeed) == (
            "refund",
            300,
            "succeeded",
            True,
        )
        assert (first.charge, first.charge_order_no, first.description) == (
            ch.id,
            ch.order_no,
            "One item back",
        )
        assert first.time_succeed >= first.created
        assert first.transaction_no
        assert first.metadata == {"rma": "r1"}

        rest = pingpp.Charge.refund(ch.id, description="The rest")
        assert rest.amount == 700
        refreshed = pingpp.Charge.retrieve(ch.id)
        assert (refreshed.refunded, refreshed.amount_refunded) == (True, 1000)
        assert [r.id for r in refreshed.refunds.data] == [rest.id, first.id]

        retrieved = pingpp.Charge.retrieve_refund(ch.id, first.id)
        assert retrieved == first
        assert refreshed.refunds.retrieve(first.id).id == first.id
        listed = pingpp.Charge.list_refunds(ch.id, limit=1)
        assert ([r.id for r in listed.data], listed.has_more) == ([rest.id], True)
        assert listed.url == f"/v1/charges/{ch.id}/refunds"

        with pytest.raises(pingpp.error.InvalidRequestError):
            pingpp.Charge.refund(ch.id, amount=1, description="Too much")

    def test_more_than_remains_is_refused(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = paid_charge(pingxx, "alipay_qr")
        pingpp.Charge.refund(ch.id, amount=600, description="Part")
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.refund(ch.id, amount=401, description="Over")
        assert caught.value.param == "amount"
        assert pingpp.Charge.retrieve(ch.id).amount_refunded == 600

    @pytest.mark.parametrize(
        ("params", "param"),
        [
            ({"amount": 100}, "description"),
            ({"amount": 0, "description": "d"}, "amount"),
            ({"description": "d" * 256}, "description"),
            ({"description": "d", "reason": "duplicate"}, "reason"),
        ],
    )
    def test_invalid_refund_parameters(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, params: dict[str, Any], param: str
    ) -> None:
        ch = paid_charge(pingxx)
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.refund(ch.id, **params)
        assert caught.value.param == param

    def test_an_unpaid_charge_cannot_be_refunded(self, sdk: ModuleType) -> None:
        ch = create_charge("alipay_qr")
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.refund(ch.id, description="Nothing to give back")
        assert caught.value.http_status == 400

    def test_a_refund_is_found_only_under_its_own_charge(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        one, other = paid_charge(pingxx), paid_charge(pingxx)
        refund = pingpp.Charge.refund(one.id, amount=1, description="d")
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.retrieve_refund(other.id, refund.id)
        assert caught.value.http_status == 404

    def test_the_charge_shows_its_ten_newest_refunds(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = paid_charge(pingxx)
        made = [pingpp.Charge.refund(ch.id, amount=1, description=f"r{i}") for i in range(11)]
        shown = pingpp.Charge.retrieve(ch.id).refunds
        assert (len(shown.data), shown.has_more) == (10, True)
        assert shown.data[0].id == made[-1].id
        page = pingpp.Charge.list_refunds(ch.id, limit=5, starting_after=made[5].id)
        assert [r.id for r in page.data] == [r.id for r in reversed(made[:5])]

    def test_funding_source_is_for_wechat_and_echoed_when_given(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        wx = paid_charge(pingxx, "wx_pub")
        refund = pingpp.Charge.refund(
            wx.id, amount=1, description="d", funding_source="recharge_funds"
        )
        assert refund.funding_source == "recharge_funds"
        assert "funding_source" not in pingpp.Charge.refund(wx.id, amount=1, description="d")
        with pytest.raises(pingpp.error.InvalidRequestError):
            pingpp.Charge.refund(wx.id, amount=1, description="d", funding_source="cash")
        alipay = paid_charge(pingxx, "alipay_qr")
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.refund(alipay.id, description="d", funding_source="unsettled_funds")
        assert caught.value.param == "funding_source"


class TestPendingRefunds:
    def test_a_pending_refund_succeeds_later(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = paid_charge(pingxx)
        pingxx.configure(refunds_pending=True)
        refund = pingpp.Charge.refund(ch.id, amount=400, description="Later")
        assert (refund.status, refund.succeed, refund.time_succeed) == ("pending", False, None)
        assert refund.transaction_no is None
        # A pending refund already counts against what can still be refunded.
        assert pingpp.Charge.retrieve(ch.id).amount_refunded == 400
        with pytest.raises(pingpp.error.InvalidRequestError):
            pingpp.Charge.refund(ch.id, amount=601, description="Over")
        done = pingxx.succeed_refund(refund.id)
        assert (done["status"], done["succeed"]) == ("succeeded", True)
        assert pingpp.Charge.retrieve_refund(ch.id, refund.id).status == "succeeded"
        assert (
            pingxx.request("POST", f"/_sandbox/refunds/{refund.id}/succeed", {}).status_code == 400
        )

    def test_a_failed_refund_gives_the_amount_back(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = paid_charge(pingxx)
        pingxx.configure(refunds_pending=True)
        refund = pingpp.Charge.refund(ch.id, description="All")
        failed = pingxx.fail_refund(refund.id, failure_code="NOTENOUGH", failure_msg="余额不足")
        assert (failed["status"], failed["succeed"], failed["failure_code"]) == (
            "failed",
            False,
            "NOTENOUGH",
        )
        refreshed = pingpp.Charge.retrieve(ch.id)
        # `refunded` stays true: Ping++ sets it once any refund exists, whatever its outcome.
        assert (refreshed.refunded, refreshed.amount_refunded) == (True, 0)
        pingxx.configure(refunds_pending=False)
        assert pingpp.Charge.refund(ch.id, description="Again").amount == 1000
