"""What only Ping++ payments have, through our API: its channels and what each needs, the
credential per channel, CNY only, closing what Ping++ cannot close, its expiry. What every
provider shares is tested once per provider elsewhere (the `psp` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from sandbox.testing import PingxxSandboxControl
from tests.support.api import order_id, wait_for, wait_for_status
from tests.support.sandbox import PingxxKnobs
from tests.support.served import in_thread

OPEN_ID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
EXTRAS: dict[str, dict[str, str]] = {
    "alipay_qr": {},
    "alipay_wap": {},
    "alipay_pc_direct": {},
    "wx_pub_qr": {},
    "wx_pub": {"open_id": OPEN_ID},
    "wx_wap": {},
    "wx_lite": {"open_id": OPEN_ID},
}


def body(channel: str = "alipay_qr", **overrides: Any) -> dict[str, Any]:
    return {
        "order_id": order_id("px"),
        "amount": 1999,
        "currency": "CNY",
        "payment_channel": f"pingxx:{channel}",
        "client_ip": "203.0.113.7",
        "return_url": "https://shop.example/orders/1",
        "extra": EXTRAS[channel],
        **overrides,
    }


async def create(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await api.post("/v1/payments", json=body(**overrides))
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def stored_payments(db: AsyncEngine) -> int:
    async with db.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM payments")) or 0)


class TestChannels:
    @pytest.mark.parametrize("channel", sorted(EXTRAS))
    async def test_each_channel_gives_the_client_its_credential(
        self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl, channel: str
    ) -> None:
        payment = await create(api, channel=channel)
        assert (payment["payment_channel"], payment["method"]) == ("pingxx", channel)
        assert payment["provider_reference"].startswith("ch_")
        assert payment["payment_payload"]["channel"] == channel
        assert payment["payment_payload"]["credential"][channel]
        charge = await asyncio.to_thread(pingxx.charge, payment["provider_reference"])
        assert (charge["amount"], charge["currency"]) == (1999, "cny")
        assert charge["client_ip"] == "203.0.113.7"
        assert charge["metadata"]["payment_id"] == payment["id"]

    async def test_a_qr_payment_carries_the_code_to_show(self, api: httpx.AsyncClient) -> None:
        payment = await create(api, channel="alipay_qr")
        assert payment["payment_payload"]["credential"]["alipay_qr"].startswith(
            "https://qr.alipay.com/"
        )
        wechat = await create(api, channel="wx_pub_qr")
        assert wechat["payment_payload"]["credential"]["wx_pub_qr"].startswith("weixin://")

    async def test_jsapi_gets_the_parameters_for_the_wechat_sheet(
        self, api: httpx.AsyncClient
    ) -> None:
        payment = await create(api, channel="wx_pub")
        sheet = payment["payment_payload"]["credential"]["wx_pub"]
        assert {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} <= set(sheet)

    async def test_a_page_channel_returns_to_the_shop(
        self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl
    ) -> None:
        payment = await create(api, channel="alipay_wap")
        charge = await asyncio.to_thread(pingxx.charge, payment["provider_reference"])
        assert charge["extra"]["success_url"] == "https://shop.example/orders/1"
        assert payment["payment_payload"]["credential"]["alipay_wap"]["channel_url"]

    async def test_the_public_route_gives_the_browser_its_credential(
        self, api: httpx.AsyncClient, api_server: Any
    ) -> None:
        payment = await create(api)
        async with httpx.AsyncClient(base_url=api_server.url) as browser:
            seen = await browser.get(
                f"/v1/public/payments/{payment['id']}",
                headers={"X-Client-Token": payment["client_token"]},
            )
        assert seen.status_code == 200, seen.text
        assert seen.json()["payment_payload"]["credential"]["alipay_qr"]


class TestWhatPingxxNeeds:
    async def test_another_currency_is_422_and_nothing_is_stored(
        self, api: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        refused = await api.post("/v1/payments", json=body(currency="USD"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "currency_not_supported"
        assert refused.json()["payment_channel"] == "pingxx"
        assert await stored_payments(db) == 0

    async def test_without_client_ip_it_is_422_naming_the_field(
        self, api: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        without = body()
        del without["client_ip"]
        refused = await api.post("/v1/payments", json=without)
        assert refused.status_code == 422, refused.text
        assert refused.json()["payment_channel"] == "pingxx"
        assert "client_ip" in refused.text
        assert await stored_payments(db) == 0

    @pytest.mark.parametrize("channel", ["wx_pub", "wx_lite"])
    async def test_jsapi_without_the_open_id_is_422(
        self, api: httpx.AsyncClient, db: AsyncEngine, channel: str
    ) -> None:
        refused = await api.post("/v1/payments", json=body(channel, extra={}))
        assert refused.status_code == 422, refused.text
        assert "open_id" in refused.text
        assert await stored_payments(db) == 0

    async def test_a_page_channel_without_a_return_url_is_422(self, api: httpx.AsyncClient) -> None:
        without = body("alipay_pc_direct")
        del without["return_url"]
        refused = await api.post("/v1/payments", json=without)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "return_url"]

    @pytest.mark.parametrize(
        "extra",
        [{"open_id": "x" * 200}, {"open_id": "a\x00b"}, {"bad key": "v"}, {"k": 1}],
    )
    async def test_hostile_extra_is_422(self, api: httpx.AsyncClient, extra: Any) -> None:
        refused = await api.post("/v1/payments", json=body("wx_pub", extra=extra))
        assert refused.status_code == 422, refused.text

    async def test_an_amount_below_one_fen_is_422(self, api: httpx.AsyncClient) -> None:
        refused = await api.post("/v1/payments", json=body(amount=0))
        assert refused.status_code == 422


class TestEnabledChannels:
    @pytest.fixture
    def qr_only(self, settings: Settings) -> Iterator[httpx.AsyncClient]:
        yield from in_thread(
            settings.model_copy(update={"enabled_channels": ["stripe", "pingxx:alipay_qr"]})
        )

    async def test_a_channel_not_enabled_is_422_listing_those_that_are(
        self, qr_only: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        async with qr_only:
            refused = await qr_only.post("/v1/payments", json=body("wx_pub"))
            config = (await qr_only.get("/v1/public/config")).json()
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "payment_channel_not_enabled"
        assert refused.json()["enabled_channels"] == ["pingxx:alipay_qr", "stripe:payment_intent"]
        assert config["enabled_channels"] == ["pingxx:alipay_qr", "stripe:payment_intent"]
        assert await stored_payments(db) == 0

    async def test_an_unknown_ping_channel_is_422(self, api: httpx.AsyncClient) -> None:
        refused = await api.post(
            "/v1/payments", json={**body(), "payment_channel": "pingxx:unionpay"}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "unknown_payment_channel"
        assert "pingxx:alipay_qr" in refused.json()["enabled_channels"]


class TestClosing:
    async def test_an_alipay_page_is_closed_here_and_a_late_payment_is_still_recorded(
        self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl
    ) -> None:
        """Ping++ cannot close an Alipay page: it lapses at its time_expire, and what is paid
        before then is money taken, recorded as the provider says."""
        payment = await create(api, channel="alipay_wap")
        canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["status"] == "canceled"
        assert await asyncio.to_thread(pingxx.charge_state, payment["provider_reference"]) == (
            "open"
        )

        await asyncio.to_thread(pingxx.pay, payment["provider_reference"])

        late = await wait_for_status(api, payment["id"], "succeeded")
        assert late["duplicate_of"] is None

    async def test_a_late_payment_after_the_order_was_paid_is_refunded_as_a_duplicate(
        self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl
    ) -> None:
        first = await create(api, channel="alipay_wap")
        switched = await api.post(
            "/v1/payments", json=body("alipay_qr", order_id=first["order_id"])
        )
        assert switched.status_code == 201, switched.text
        second = switched.json()
        await asyncio.to_thread(pingxx.pay, second["provider_reference"])
        await wait_for_status(api, second["id"], "succeeded")

        # The old Alipay page was still open at Alipay: the customer pays it too.
        await asyncio.to_thread(pingxx.pay, first["provider_reference"])

        duplicate = await wait_for(api, first["id"], lambda p: p["refund_status"] == "full")
        assert (duplicate["status"], duplicate["duplicate_of"]) == ("succeeded", second["id"])
        charge = await asyncio.to_thread(pingxx.charge, first["provider_reference"])
        assert charge["amount_refunded"] == 1999

    async def test_a_charge_that_lapsed_at_pingxx_is_expired_on_sync(
        self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl
    ) -> None:
        payment = await create(api)
        await asyncio.to_thread(pingxx.expire_now, payment["provider_reference"])
        synced = await api.post(f"/v1/payments/{payment['id']}/sync")
        assert synced.json()["status"] == "expired"

    async def test_a_charge_failed_at_pingxx_is_failed_with_its_reason(
        self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl
    ) -> None:
        payment = await create(api)
        await asyncio.to_thread(
            pingxx.fail, payment["provider_reference"], failure_code="USER_CANCEL"
        )
        synced = (await api.post(f"/v1/payments/{payment['id']}/sync")).json()
        assert synced["status"] == "failed"
        assert synced["last_error"]["code"] == "USER_CANCEL"

    async def test_the_charge_expires_with_the_payment(
        self, api: httpx.AsyncClient, pingxx: PingxxSandboxControl, pingxx_knobs: PingxxKnobs
    ) -> None:
        payment = await create(api)
        charge = await asyncio.to_thread(pingxx.charge, payment["provider_reference"])
        from datetime import datetime

        assert charge["time_expire"] == int(
            datetime.fromisoformat(payment["expires_at"]).timestamp()
        )
