# ruff: noqa: RUF001 -- Ping++ writes its messages in Chinese with full-width punctuation.
"""Request signatures: the SDK's `Pingplusplus-Signature` verified with the merchant's key."""

from __future__ import annotations

import json
import time
from types import ModuleType

import httpx
import pingpp
import pytest
from pingpp.api_requestor import APIRequestor

from sandbox.pingxx import sign_request, signing
from sandbox.pingxx.signing import PrivateKey
from sandbox.testing import PingxxSandboxControl
from tests.sandbox.pingxx.helpers import APP_ID, SECRET_KEY, charge_params, create_charge

MISSING = "没有提供签名串，需要在 header 中加入签名串。"
INVALID = "提供了无效的签名。"


def post(
    pingxx: PingxxSandboxControl, path: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return httpx.post(
        f"{pingxx.url}{path}",
        content=body,
        headers={
            "Authorization": f"Bearer {SECRET_KEY}",
            "Content-Type": "application/json",
            **headers,
        },
    )


class TestTheSignedString:
    @pytest.mark.parametrize(
        ("body", "uri"),
        [
            (b'{"amount": 100, "subject": "\\u5546"}', "/v1/charges"),
            (None, "/v1/charges?app%5Bid%5D=app_1&limit=3"),
            (b"null", "/v1/charges/ch_1/reverse"),
        ],
    )
    def test_is_built_exactly_as_the_sdk_builds_it(self, body: bytes | None, uri: str) -> None:
        sdk_string = APIRequestor(key="sk_test_x").get_rsa_verify_data(body, uri, 1700000000)
        ours = signing.request_signing_data(body or b"", uri, "1700000000")
        assert ours == sdk_string.encode()


class TestVerifiedRequests:
    def test_every_sdk_call_verifies_gets_included(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingxx.configure(verify_get_signatures=True)
        ch = create_charge("wx_pub", subject="中文标题")
        assert pingpp.Charge.retrieve(ch.id).subject == "中文标题"
        listed = pingpp.Charge.list(
            app={"id": APP_ID}, created={"gte": ch.created}, channel="wx_pub", paid=False
        )
        assert [c.id for c in listed.data] == [ch.id]
        pingxx.pay(ch.id)
        refund = pingpp.Charge.refund(ch.id, amount=10, description="退款")
        assert pingpp.Charge.retrieve_refund(ch.id, refund.id).amount == 10
        assert len(pingpp.Charge.list_refunds(ch.id, limit=3).data) == 1

    def test_a_request_without_a_signature_is_refused(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingpp.private_key = None
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            create_charge("alipay_qr")
        assert (caught.value.http_status, str(caught.value)) == (400, MISSING)
        assert pingxx.stats()["objects"]["charges"] == 0

    def test_a_signature_made_with_another_key_is_refused(self, sdk: ModuleType) -> None:
        pingpp.private_key = signing.private_key_pem(signing.generate_private_key())
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            create_charge("alipay_qr")
        assert (caught.value.http_status, str(caught.value)) == (400, INVALID)

    def test_a_body_changed_after_signing_is_refused(
        self, pingxx: PingxxSandboxControl, merchant_key: PrivateKey
    ) -> None:
        signed = json.dumps(charge_params("alipay_qr", amount=1)).encode()
        sent = signed.replace(b'"amount": 1,', b'"amount": 100000,')
        headers = sign_request(signed, "/v1/charges", str(int(time.time())), merchant_key)
        assert post(pingxx, "/v1/charges", signed, headers).status_code == 200
        refused = post(pingxx, "/v1/charges", sent, headers)
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == INVALID

    def test_a_signature_for_another_path_is_refused(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, merchant_key: PrivateKey
    ) -> None:
        one, other = create_charge("wx_pub_qr"), create_charge("wx_pub_qr")
        body = b"{}"
        headers = sign_request(
            body, f"/v1/charges/{one.id}/reverse", str(int(time.time())), merchant_key
        )
        assert post(pingxx, f"/v1/charges/{other.id}/reverse", body, headers).status_code == 400
        assert post(pingxx, f"/v1/charges/{one.id}/reverse", body, headers).json()["reversed"]

    @pytest.mark.parametrize("timestamp", ["", "yesterday", "offset"])
    def test_a_missing_malformed_or_stale_timestamp_is_refused(
        self, pingxx: PingxxSandboxControl, merchant_key: PrivateKey, timestamp: str
    ) -> None:
        if timestamp == "offset":
            timestamp = str(int(time.time()) - 3600)
        body = json.dumps(charge_params("alipay_qr")).encode()
        headers = {
            "Pingplusplus-Signature": signing.sign(
                signing.request_signing_data(body, "/v1/charges", timestamp), merchant_key
            )
        }
        if timestamp:
            headers["Pingplusplus-Request-Timestamp"] = timestamp
        refused = post(pingxx, "/v1/charges", body, headers)
        assert refused.status_code == 400
        assert refused.json()["error"]["type"] == "invalid_request_error"

    def test_gets_are_checked_only_when_configured(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("alipay_qr")
        pingpp.private_key = None
        assert pingpp.Charge.retrieve(ch.id).id == ch.id
        pingxx.configure(verify_get_signatures=True)
        with pytest.raises(pingpp.error.InvalidRequestError) as caught:
            pingpp.Charge.retrieve(ch.id)
        assert str(caught.value) == MISSING

    def test_without_a_merchant_key_nothing_is_checked(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingxx.configure(merchant_public_key=None)
        pingpp.private_key = None
        assert create_charge("alipay_qr").paid is False

    def test_a_merchant_key_can_be_installed_at_runtime(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        replacement = signing.generate_private_key()
        pingxx.configure(merchant_public_key=signing.public_key_pem(replacement))
        with pytest.raises(pingpp.error.InvalidRequestError):
            create_charge("alipay_qr")
        pingpp.private_key = signing.private_key_pem(replacement)
        assert create_charge("alipay_qr").id.startswith("ch_")
        garbage = pingxx.request("POST", "/_sandbox/config", {"merchant_public_key": "nope"})
        assert garbage.status_code == 400
