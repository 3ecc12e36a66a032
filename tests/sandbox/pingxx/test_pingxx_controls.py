# ruff: noqa: RUF001 -- Ping++ writes its messages in Chinese with full-width punctuation.
"""The /_sandbox controls: the customer's side, the page, faults, persistence, the CLI."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from types import ModuleType

import httpx
import pingpp
import pytest

from sandbox.pingxx import PingxxSandboxConfig, create_app, signing
from sandbox.runner import ServerThread
from sandbox.testing import PingxxSandboxControl
from tests.sandbox.pingxx.helpers import APP_ID, SECRET_KEY, create_charge
from tests.support.processes import running

REPO_ROOT = Path(__file__).resolve().parents[3]
# What a browser sends when a form with no fields is submitted.
BROWSER_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}


class TestTheCustomersSide:
    def test_pay_marks_the_charge_paid_with_the_channels_numbers(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("wx_pub")
        paid = pingxx.pay(ch.id)
        assert (paid["paid"], paid["extra"]["open_id"], paid["extra"]["bank_type"]) == (
            True,
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "OTHERS",
        )
        assert len(paid["transaction_no"]) == 28
        assert pingpp.Charge.retrieve(ch.id).time_paid == paid["time_paid"]
        assert pingxx.request("POST", f"/_sandbox/charges/{ch.id}/pay", {}).status_code == 400

    def test_a_failed_payment_closes_the_charge_unless_asked_not_to(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        closed = create_charge("alipay_qr")
        failed = pingxx.fail(closed.id, failure_code="TRADE_CLOSED", failure_msg="买家未付款")
        assert (failed["paid"], failed["failure_code"], failed["failure_msg"]) == (
            False,
            "TRADE_CLOSED",
            "买家未付款",
        )
        assert pingxx.charge_state(closed.id) == "failed"
        assert pingxx.request("POST", f"/_sandbox/charges/{closed.id}/pay", {}).status_code == 400

        retry = create_charge("wx_pub_qr")
        assert pingxx.fail(retry.id, close=False)["failure_code"] == "PAYERROR"
        assert pingxx.pay(retry.id)["failure_code"] is None

    def test_expire_now_ends_the_charge_at_once(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("wx_pub_qr")
        expired = pingxx.expire_now(ch.id)
        assert expired["time_expire"] <= int(time.time())
        assert pingpp.Charge.retrieve(ch.id).time_expire == expired["time_expire"]
        assert pingxx.charge_state(ch.id) == "expired"
        assert pingxx.request("POST", f"/_sandbox/charges/{ch.id}/pay", {}).status_code == 400

    def test_an_unpaid_charge_expires_at_its_time_expire(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingxx.configure(min_time_expire_seconds=1)
        ch = create_charge("alipay_qr", time_expire=int(time.time()) + 2)
        assert pingxx.stats()["scheduled_expiries"] == 1
        assert pingxx.charge_state(ch.id) == "open"
        deadline = time.monotonic() + 6
        while pingxx.stats()["scheduled_expiries"]:
            assert time.monotonic() < deadline, "the expiry never ran"
            time.sleep(0.1)
        assert pingxx.stats()["charges"]["closed_expired"] == 1
        assert pingxx.charge_state(ch.id) == "expired"


class TestThePaymentPage:
    def test_shows_the_charge_with_pay_and_fail_buttons_and_no_script(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("wx_pub_qr")
        page = httpx.get(f"{pingxx.url}/_sandbox/charges/{ch.id}")
        assert page.status_code == 200
        html = page.text
        assert "¥10.00" in html
        assert ch.credential["wx_pub_qr"] in html
        assert 'id="pay"' in html
        assert 'id="fail"' in html
        assert "<script" not in html.lower()

    def test_paying_from_the_page_returns_to_the_merchant(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("alipay_wap")
        cashier = ch.credential["alipay_wap"]
        # pingpp-js sends the browser to channel_url with the form fields as the query.
        landed = httpx.get(cashier["channel_url"], params={"method": cashier["method"]})
        assert landed.status_code == 200
        assert 'id="pay"' in landed.text
        paid = httpx.post(f"{pingxx.url}/_sandbox/charges/{ch.id}/pay", headers=BROWSER_FORM)
        assert (paid.status_code, paid.headers["location"]) == (303, "https://shop.example/paid")
        assert pingpp.Charge.retrieve(ch.id).paid is True
        after = httpx.get(f"{pingxx.url}/_sandbox/charges/{ch.id}").text
        assert 'id="status">paid<' in after
        assert 'id="pay"' not in after

    def test_failing_from_the_page_comes_back_to_it(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("alipay_qr")
        failed = httpx.post(f"{pingxx.url}/_sandbox/charges/{ch.id}/fail", headers=BROWSER_FORM)
        assert (failed.status_code, failed.headers["location"]) == (
            303,
            f"/_sandbox/charges/{ch.id}",
        )
        assert pingpp.Charge.retrieve(ch.id).failure_code == "TRADE_CLOSED"


class TestConfigStatsReset:
    def test_config_lists_the_knobs_and_the_webhook_key(self, pingxx: PingxxSandboxControl) -> None:
        config = pingxx.configure()
        assert config["webhook_public_key"] == pingxx.webhook_public_key()
        assert {"latency_ms", "failure_rate", "refunds_pending", "webhooks_enabled"} <= set(config)

    @pytest.mark.parametrize(
        "change",
        [
            {"failure_rate": 2},
            {"failure_status": 418},
            {"webhook_max_attempts": 0},
            {"latency_ms": -1},
            {"refunds_pending": "yes"},
            {"no_such_knob": 1},
        ],
    )
    def test_bad_settings_are_refused(
        self, pingxx: PingxxSandboxControl, change: dict[str, object]
    ) -> None:
        assert pingxx.request("POST", "/_sandbox/config", change).status_code == 400

    def test_stats_count_and_reset_forgets(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        ch = create_charge("alipay_qr")
        pingpp.Charge.retrieve(ch.id)
        pingxx.pay(ch.id)
        pingpp.Charge.refund(ch.id, amount=100, description="d")
        stats = pingxx.stats()
        assert stats["objects"] == {
            "charges": 1,
            "refunds": 1,
            "events": 2,
            "webhook_endpoints": 0,
        }
        assert stats["api_calls"]["POST /v1/charges"] == 1
        assert stats["api_calls"]["GET /v1/charges/{id}"] == 1
        assert stats["refunds_by_status"] == {"succeeded": 1}
        pingxx.configure(latency_ms=50)
        pingxx.reset()
        assert pingxx.stats()["api_calls_total"] == 0
        assert pingxx.configure()["latency_ms"] == 0
        with pytest.raises(pingpp.error.InvalidRequestError):
            pingpp.Charge.retrieve(ch.id)


class TestFaults:
    def test_latency_slows_every_answer(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingxx.configure(latency_ms=200)
        started = time.monotonic()
        create_charge("alipay_qr")
        assert time.monotonic() - started >= 0.2

    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (500, pingpp.error.APIError),
            (503, pingpp.error.APIError),
            (403, pingpp.error.RateLimitError),
        ],
    )
    def test_injected_failures_reach_the_sdk_as_its_errors(
        self,
        sdk: ModuleType,
        pingxx: PingxxSandboxControl,
        status: int,
        error: type[Exception],
    ) -> None:
        pingxx.configure(failure_rate=1.0, failure_status=status)
        with pytest.raises(error) as caught:
            create_charge("alipay_qr")
        assert getattr(caught.value, "http_status", None) == status
        assert pingxx.stats()["objects"]["charges"] == 0

    def test_the_sdk_retries_a_502_by_itself(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingxx.configure(failure_rate=1.0, failure_status=502)
        pingpp.max_network_retries = 1
        pingpp.network_retry_delay = 0.01
        with pytest.raises(pingpp.error.APIError):
            pingpp.Charge.list(app={"id": APP_ID})
        assert pingxx.stats()["api_calls"]["GET /v1/charges"] == 2


def _serve(config: PingxxSandboxConfig) -> ServerThread:
    return ServerThread(create_app(config)).start()


class TestStateFile:
    def test_objects_and_the_webhook_key_survive_a_restart(
        self, tmp_path: Path, merchant_key: signing.PrivateKey, sdk: ModuleType
    ) -> None:
        state_file = tmp_path / "state" / "pingxx.json"
        config = PingxxSandboxConfig(
            secret_key=SECRET_KEY,
            app_ids=[APP_ID],
            merchant_public_key=signing.public_key_pem(merchant_key),
            state_file=str(state_file),
        )
        first = _serve(config)
        try:
            pingpp.api_base = first.url
            ch = create_charge("wx_pub_qr")
            PingxxSandboxControl(first.url).pay(ch.id)
            refund = pingpp.Charge.refund(ch.id, amount=100, description="d")
            key = PingxxSandboxControl(first.url).webhook_public_key()
        finally:
            first.stop()
        saved = json.loads(state_file.read_text())
        assert [c["id"] for c in saved["charges"]] == [ch.id]
        assert list(state_file.parent.iterdir()) == [state_file]

        second = _serve(config)
        try:
            pingpp.api_base = second.url
            again = pingpp.Charge.retrieve(ch.id)
            assert (again.paid, again.amount_refunded) == (True, 100)
            assert pingpp.Charge.retrieve_refund(ch.id, refund.id).status == "succeeded"
            assert PingxxSandboxControl(second.url).webhook_public_key() == key
            with pytest.raises(pingpp.error.ChannelError):
                create_charge("wx_pub_qr", order_no=ch.order_no, amount=5)
        finally:
            second.stop()

    def test_a_url_configured_after_the_snapshot_is_served_too(
        self, tmp_path: Path, merchant_key: signing.PrivateKey
    ) -> None:
        state_file = tmp_path / "pingxx.json"
        config = PingxxSandboxConfig(
            secret_key=SECRET_KEY,
            webhook_urls=["http://127.0.0.1:9/old"],
            state_file=str(state_file),
        )
        _serve(config).stop()
        config.webhook_urls = ["http://127.0.0.1:9/old", "http://127.0.0.1:9/new"]
        second = _serve(config)
        try:
            listed = PingxxSandboxControl(second.url).request("GET", "/_sandbox/webhook_endpoints")
            urls = sorted(e["url"] for e in listed.json()["data"])
            assert urls == ["http://127.0.0.1:9/new", "http://127.0.0.1:9/old"]
        finally:
            second.stop()


class TestEventList:
    def test_lists_every_event_newest_first_delivered_or_not(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingxx.configure(webhooks_enabled=False)
        first, second = create_charge("alipay_qr"), create_charge("alipay_qr")
        pingxx.pay(first.id)
        pingxx.pay(second.id)
        pingpp.Charge.refund(first.id, amount=100, description="d")
        every = pingxx.request("GET", "/_sandbox/events").json()["data"]
        newest_first = ["refund.succeeded", "charge.succeeded", "charge.succeeded"]
        assert [e["type"] for e in every] == newest_first
        assert every[1]["data"]["object"]["id"] == second.id
        about = pingxx.request("GET", f"/_sandbox/events?object_id={first.id}").json()["data"]
        assert [e["data"]["object"]["id"] for e in about] == [first.id]
        refunds = pingxx.request("GET", "/_sandbox/events?type=refund.succeeded").json()["data"]
        assert [e["data"]["object"]["charge"] for e in refunds] == [first.id]
        assert pingxx.deliveries() == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_python_dash_m_runs_the_sandbox_standalone(
    tmp_path: Path, merchant_key: signing.PrivateKey
) -> None:
    port = _free_port()
    merchant_pem = tmp_path / "merchant_public.pem"
    merchant_pem.write_text(signing.public_key_pem(merchant_key))
    webhook_pem = tmp_path / "pingxx_public.pem"
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sandbox.pingxx", "--port", str(port)]
    command += ["--merchant-public-key", str(merchant_pem), "--webhook-public-key-out"]
    command += [str(webhook_pem), "--webhook-url", "http://127.0.0.1:9/hooks"]
    with running(command, ready=f"{base}/_sandbox/health", cwd=REPO_ROOT):
        health = httpx.get(f"{base}/_sandbox/health", timeout=1)
        assert health.json() == {"ok": True}
        assert httpx.get(f"{base}/_sandbox/webhook_public_key").text == webhook_pem.read_text()
        endpoints = httpx.get(f"{base}/_sandbox/webhook_endpoints").json()["data"]
        assert [e["url"] for e in endpoints] == ["http://127.0.0.1:9/hooks"]
        unsigned = httpx.post(
            f"{base}/v1/charges", json={}, headers={"Authorization": "Bearer sk_test_sandbox"}
        )
        assert unsigned.status_code == 400
        assert unsigned.json()["error"]["message"] == "没有提供签名串，需要在 header 中加入签名串。"
