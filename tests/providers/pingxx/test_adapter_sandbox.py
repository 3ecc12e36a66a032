"""PingxxProvider against the Ping++ sandbox over real HTTP, request signatures on."""

from __future__ import annotations

import time

import httpx
import pytest

from app.providers.base import (
    CreateRefund,
    OperationNotSupported,
    PaymentProvider,
    PaymentStatus,
    ProviderRejected,
    ProviderUnavailable,
    RefundStatus,
    RequestNotAccepted,
)
from app.providers.pingxx import PingxxProvider
from app.providers.pingxx.transformers import order_no
from sandbox.pingxx import signing
from sandbox.testing import PingxxSandboxControl

from .conftest import APP_ID, PAYMENT_ID, create_request, make_provider

CHANNEL_EXTRAS = {
    "alipay_qr": {},
    "alipay_wap": {"success_url": "https://shop.example/paid"},
    "alipay_pc_direct": {"success_url": "https://shop.example/paid"},
    "wx_pub_qr": {},
    "wx_pub": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "wx_wap": {},
    "wx_lite": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
}


def charges(control: PingxxSandboxControl) -> int:
    return int(control.stats()["api_calls"].get("POST /v1/charges", 0))


def charge_count(control: PingxxSandboxControl) -> int:
    return int(control.stats()["objects"]["charges"])


class TestProtocol:
    def test_is_a_payment_provider(self, provider: PingxxProvider) -> None:
        as_protocol: PaymentProvider = provider
        assert as_protocol.name == "pingxx"
        assert not as_protocol.livemode

    def test_repr_names_the_app_not_the_key(self, provider: PingxxProvider) -> None:
        assert APP_ID in repr(provider)
        assert "sk_test_" not in repr(provider)


class TestCreate:
    @pytest.mark.parametrize("channel", sorted(CHANNEL_EXTRAS))
    async def test_each_channel_opens_a_charge_with_its_credential(
        self, provider: PingxxProvider, control: PingxxSandboxControl, channel: str
    ) -> None:
        created = await provider.create_payment(
            create_request(
                channel,
                extra=CHANNEL_EXTRAS[channel],
                return_url="https://shop.example/back",
            ),
            "ignored",
        )
        assert created.status is PaymentStatus.REQUIRES_PAYMENT_METHOD
        assert created.amount == 1999
        assert created.currency == "CNY"
        assert created.payment_id == PAYMENT_ID
        assert created.reference.startswith("ch_")
        assert created.payload["channel"] == channel
        assert created.payload["credential"][channel]
        raw = created.raw
        assert raw["order_no"] == order_no(PAYMENT_ID)
        assert raw["app"] == APP_ID
        assert raw["client_ip"] == "203.0.113.7"
        assert raw["subject"] == "Order 9: two teas"
        assert raw["description"] == "Order 9: two teas"
        assert raw["metadata"] == {"cart": "c_1", "payment_id": PAYMENT_ID, "order_id": "order-9"}
        assert raw["time_expire"] > time.time()

    async def test_the_credential_per_channel_is_what_the_client_needs(
        self, provider: PingxxProvider
    ) -> None:
        qr = await provider.create_payment(create_request("alipay_qr"), "k")
        assert qr.payload["credential"]["alipay_qr"].startswith("https://qr.alipay.com/")
        jsapi = await provider.create_payment(
            create_request(
                "wx_pub",
                payment_id="pay_01m8sva1cet3z4x9k2d7w5q8rc",
                extra={"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            ),
            "k",
        )
        sheet = jsapi.payload["credential"]["wx_pub"]
        assert {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} <= set(sheet)

    async def test_wx_pub_qr_gets_a_product_id_of_its_own(self, provider: PingxxProvider) -> None:
        created = await provider.create_payment(create_request("wx_pub_qr"), "k")
        assert created.raw["extra"]["product_id"] == order_no(PAYMENT_ID)

    async def test_the_expiry_is_ours_when_sooner_than_the_channels(
        self, provider: PingxxProvider
    ) -> None:
        from datetime import UTC, datetime, timedelta

        expires_at = datetime.now(UTC) + timedelta(minutes=20)
        created = await provider.create_payment(create_request(expires_at=expires_at), "k")
        assert created.raw["time_expire"] == int(expires_at.timestamp())

    async def test_missing_client_ip_is_refused_before_any_call(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        with pytest.raises(RequestNotAccepted) as refused:
            provider.check_request(create_request(client_ip=None))
        assert refused.value.field == "client_ip"
        with pytest.raises(RequestNotAccepted, match="open_id"):
            await provider.create_payment(create_request("wx_lite"), "k")
        assert charges(control) == 0

    async def test_a_create_whose_answer_was_lost_is_found_by_repeating_it(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        control.configure(lose_response_next=1)
        with pytest.raises(ProviderUnavailable):
            await provider.create_payment(create_request(), "k")
        again = await provider.create_payment(create_request(), "k")
        assert again.payload["credential"]["alipay_qr"]
        assert charge_count(control) == 1

    async def test_after_the_replay_window_the_charge_is_found_and_closed(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        control.configure(lose_response_next=1, replay_window_seconds=0)
        with pytest.raises(ProviderUnavailable):
            await provider.create_payment(create_request(), "k")
        # Found by listing; but nobody holds its credential, so it is closed and refused.
        with pytest.raises(ProviderRejected) as refused:
            await provider.create_payment(create_request(), "k")
        assert refused.value.code == "credential_lost"
        assert charge_count(control) == 1
        assert control.stats()["charges"].get("closed_reversed", 0) == 1

    async def test_a_used_order_no_with_other_terms_is_unavailable_not_a_new_charge(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        await provider.create_payment(create_request(), "k")
        with pytest.raises(ProviderUnavailable) as unknown:
            await provider.create_payment(create_request(amount=2999), "k")
        assert unknown.value.code == "charge_order_no_used"
        assert charge_count(control) == 1

    async def test_a_server_error_proves_nothing(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        control.configure(failure_rate=1.0, failure_status=503)
        with pytest.raises(ProviderUnavailable):
            await provider.create_payment(create_request(), "k")

    async def test_the_rate_limit_proves_nothing(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        control.configure(failure_rate=1.0, failure_status=403)
        with pytest.raises(ProviderUnavailable):
            await provider.create_payment(create_request(), "k")

    async def test_a_bad_parameter_is_a_rejection(self, provider: PingxxProvider) -> None:
        with pytest.raises(ProviderRejected) as refused:
            await provider.create_payment(create_request(client_ip="999.1.1.1"), "k")
        assert refused.value.http_status == 400


class TestCredentials:
    async def test_a_wrong_secret_key_is_unavailable_not_a_rejection(
        self, control: PingxxSandboxControl, adapter_merchant_key: signing.PrivateKey
    ) -> None:
        adapter = make_provider(
            control.url, adapter_merchant_key, control, secret_key="sk_test_" + "B" * 24
        )
        try:
            with pytest.raises(ProviderUnavailable) as unknown:
                await adapter.create_payment(create_request(), "k")
            assert unknown.value.code == "authentication_failed"
        finally:
            await adapter.aclose()

    @pytest.mark.parametrize("key", ["none", "other"])
    async def test_a_refused_request_signature_is_unavailable(
        self, control: PingxxSandboxControl, key: str
    ) -> None:
        other = signing.generate_private_key() if key == "other" else None
        adapter = make_provider(control.url, other, control)
        try:
            with pytest.raises(ProviderUnavailable) as unknown:
                await adapter.create_payment(create_request(), "k")
            assert unknown.value.code == "signature_refused"
            assert charge_count(control) == 0
        finally:
            await adapter.aclose()

    async def test_gets_are_signed_too(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        created = await provider.create_payment(create_request(), "k")
        # The sandbox checks GET signatures here (verify_get_signatures), query included.
        fetched = await provider.retrieve_payment(created.reference)
        assert fetched.reference == created.reference
        assert await provider.list_refunds(created.reference) == []

    async def test_a_network_failure_is_unavailable(self, control: PingxxSandboxControl) -> None:
        adapter = make_provider("http://127.0.0.1:9", None, control)
        try:
            with pytest.raises(ProviderUnavailable):
                await adapter.retrieve_payment("ch_" + "a" * 24)
        finally:
            await adapter.aclose()


class TestRetrieveAndCancel:
    async def test_retrieve_keeps_the_credential_out_and_the_status_in(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        created = await provider.create_payment(create_request(), "k")
        control.pay(created.reference)
        paid = await provider.retrieve_payment(created.reference)
        assert paid.status is PaymentStatus.SUCCEEDED
        assert paid.amount_received == 1999
        assert "credential" not in paid.payload

    async def test_a_failed_charge_is_failed_with_its_reason(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        created = await provider.create_payment(create_request(), "k")
        control.fail(created.reference, failure_code="USER_CANCEL", failure_msg="gave up")
        failed = await provider.retrieve_payment(created.reference)
        assert failed.status is PaymentStatus.FAILED
        assert failed.last_error is not None
        assert failed.last_error.code == "USER_CANCEL"

    async def test_an_expired_charge_is_expired(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        created = await provider.create_payment(create_request(), "k")
        control.expire_now(created.reference)
        assert (await provider.retrieve_payment(created.reference)).status is (
            PaymentStatus.EXPIRED
        )

    async def test_an_unknown_charge_is_a_rejection(self, provider: PingxxProvider) -> None:
        with pytest.raises(ProviderRejected) as refused:
            await provider.retrieve_payment("ch_" + "z" * 24)
        assert refused.value.http_status == 404

    async def test_cancel_reverses_a_qr_charge(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        created = await provider.create_payment(create_request(), "k")
        canceled = await provider.cancel_payment(created.reference, "k")
        assert canceled.status is PaymentStatus.CANCELED
        with pytest.raises(httpx.HTTPStatusError):
            control.pay(created.reference)

    async def test_cancel_of_an_alipay_page_is_not_supported(
        self, provider: PingxxProvider
    ) -> None:
        created = await provider.create_payment(
            create_request("alipay_wap", extra=CHANNEL_EXTRAS["alipay_wap"]), "k"
        )
        with pytest.raises(OperationNotSupported):
            await provider.cancel_payment(created.reference, "k")

    async def test_cancel_of_a_paid_charge_says_it_is_paid(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        created = await provider.create_payment(create_request(), "k")
        control.pay(created.reference)
        with pytest.raises(ProviderRejected) as refused:
            await provider.cancel_payment(created.reference, "k")
        assert refused.value.payment is not None
        assert refused.value.payment.status is PaymentStatus.SUCCEEDED


class TestRefunds:
    async def _paid(self, provider: PingxxProvider, control: PingxxSandboxControl) -> str:
        created = await provider.create_payment(create_request(), "k")
        control.pay(created.reference)
        return created.reference

    def _refund(self, reference: str, refund_id: str, amount: int) -> CreateRefund:
        return CreateRefund(
            refund_id=refund_id,
            payment_reference=reference,
            amount=amount,
            currency="CNY",
            reason="requested_by_customer",
            metadata={"ticket": "t-1"},
        )

    async def test_partial_then_full(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        reference = await self._paid(provider, control)
        first = await provider.refund(self._refund(reference, "rf_" + "a" * 26, 500), "k")
        assert first.status is RefundStatus.SUCCEEDED
        assert (first.amount, first.currency, first.refund_id) == (500, "CNY", "rf_" + "a" * 26)
        assert first.payment_reference == reference
        assert first.raw["metadata"]["ticket"] == "t-1"
        rest = await provider.refund(self._refund(reference, "rf_" + "b" * 26, 1499), "k")
        assert rest.status is RefundStatus.SUCCEEDED
        charge = await provider.retrieve_payment(reference)
        assert charge.raw["amount_refunded"] == 1999
        fetched = await provider.retrieve_refund(first.reference, reference)
        assert fetched.refund_id == "rf_" + "a" * 26

    async def test_a_retried_refund_finds_the_first(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        reference = await self._paid(provider, control)
        control.configure(lose_response_next=1)
        with pytest.raises(ProviderUnavailable):
            await provider.refund(self._refund(reference, "rf_" + "c" * 26, 700), "k")
        again = await provider.refund(self._refund(reference, "rf_" + "c" * 26, 700), "k")
        assert again.refund_id == "rf_" + "c" * 26
        assert len(await provider.list_refunds(reference)) == 1
        assert (await provider.retrieve_payment(reference)).raw["amount_refunded"] == 700

    async def test_a_pending_refund_settles_later(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        reference = await self._paid(provider, control)
        control.configure(refunds_pending=True)
        pending = await provider.refund(self._refund(reference, "rf_" + "d" * 26, 300), "k")
        assert pending.status is RefundStatus.PENDING
        control.fail_refund(pending.reference, failure_code="REFUND_FAIL", failure_msg="closed")
        failed = await provider.retrieve_refund(pending.reference, reference)
        assert failed.status is RefundStatus.FAILED
        assert failed.failure_reason == "closed"

    async def test_more_than_is_left_is_a_rejection(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        reference = await self._paid(provider, control)
        with pytest.raises(ProviderRejected):
            await provider.refund(self._refund(reference, "rf_" + "e" * 26, 2000), "k")

    async def test_refund_lists_page_through_everything(
        self, provider: PingxxProvider, control: PingxxSandboxControl
    ) -> None:
        reference = await self._paid(provider, control)
        for n in range(3):
            refund_id = "rf_" + str(n) * 26
            await provider.refund(self._refund(reference, refund_id, 10), "k")
        listed = await provider.list_refunds(reference)
        assert sorted(r.refund_id or "" for r in listed) == ["rf_" + str(n) * 26 for n in range(3)]
