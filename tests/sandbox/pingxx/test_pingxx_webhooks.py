"""Webhooks: RSA-signed events that Ping++'s documented check accepts, retries, drops, resends."""

from __future__ import annotations

import itertools
import json
import re
from types import ModuleType

import pingpp
import pytest

from sandbox.pingxx import sign_webhook, signing
from sandbox.testing import PingxxSandboxControl, PingxxWebhookReceiver
from tests.sandbox.pingxx.helpers import create_charge, verify_like_pingpp_demo

EVENT_FIELDS = [
    "id",
    "created",
    "livemode",
    "type",
    "data",
    "object",
    "pending_webhooks",
    "request",
]


class TestSignature:
    def test_a_paid_charge_is_announced_signed_the_way_pingxx_signs(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, receiver: PingxxWebhookReceiver
    ) -> None:
        ch = create_charge("wx_pub_qr")
        pingxx.pay(ch.id)
        event = receiver.wait_for(1)[0]
        assert receiver.rejected == []
        payload, signature = receiver.raw[0]
        public_key = pingxx.webhook_public_key()
        assert public_key.startswith("-----BEGIN PUBLIC KEY-----")
        assert public_key == pingxx.configure()["webhook_public_key"]
        assert verify_like_pingpp_demo(payload, signature, public_key)
        assert receiver.headers[0]["content-type"].startswith("application/json")

        assert list(json.loads(payload)) == EVENT_FIELDS
        assert re.fullmatch(r"evt_[0-9A-Za-z]{24}", event["id"])
        assert (event["object"], event["type"], event["livemode"]) == (
            "event",
            "charge.succeeded",
            False,
        )
        assert event["request"] is None
        paid = event["data"]["object"]
        assert (paid["id"], paid["paid"], paid["object"]) == (ch.id, True, "charge")
        assert paid["time_paid"] >= ch.created
        assert paid["transaction_no"]
        assert paid["credential"] == {}
        stored = pingpp.Event.retrieve(event["id"])
        assert isinstance(stored, pingpp.Event)
        assert stored.data.object.id == ch.id

    def test_a_refund_is_announced_with_the_request_that_made_it(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, receiver: PingxxWebhookReceiver
    ) -> None:
        ch = create_charge("alipay_qr")
        pingxx.pay(ch.id)
        refund = pingpp.Charge.refund(ch.id, amount=250, description="Part")
        events = receiver.wait_for(2)
        assert sorted(receiver.types()) == ["charge.succeeded", "refund.succeeded"]
        announced = next(e for e in events if e["type"] == "refund.succeeded")
        assert announced["data"]["object"]["id"] == refund.id
        assert announced["data"]["object"]["status"] == "succeeded"
        assert re.fullmatch(r"iar_[0-9A-Za-z]{24}", announced["request"])
        for payload, signature in receiver.raw:
            assert verify_like_pingpp_demo(payload, signature, pingxx.webhook_public_key())

    def test_a_changed_body_or_another_key_fails_verification(self) -> None:
        key = signing.generate_private_key()
        public_key = signing.public_key_pem(key)
        payload = json.dumps({"id": "evt_1", "type": "charge.succeeded"}).encode()
        signature = sign_webhook(payload, key)
        assert verify_like_pingpp_demo(payload, signature, public_key)
        assert not verify_like_pingpp_demo(payload + b" ", signature, public_key)
        other = signing.public_key_pem(signing.generate_private_key())
        assert not verify_like_pingpp_demo(payload, signature, other)
        assert not signing.verify_webhook(payload, "bm90IGEgc2lnbmF0dXJl", public_key)

    def test_failed_and_expired_charges_are_not_announced(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, receiver: PingxxWebhookReceiver
    ) -> None:
        pingxx.fail(create_charge("alipay_qr").id)
        pingxx.expire_now(create_charge("wx_pub").id)
        pingpp.Charge.reverse(create_charge("wx_pub_qr").id)
        assert pingxx.drain()
        assert receiver.received == []
        assert pingxx.stats()["events_by_type"] == {}


class TestRedelivery:
    def test_an_endpoint_that_fails_twice_gets_the_event_on_the_third_attempt(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, receiver: PingxxWebhookReceiver
    ) -> None:
        receiver.fail_next = 2
        pingxx.pay(create_charge("alipay_qr").id)
        event = receiver.wait_for(1)[0]
        assert pingxx.drain()
        attempts = pingxx.deliveries(event_id=event["id"])
        assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [
            (1, 500, "failed"),
            (2, 500, "failed"),
            (3, 200, "succeeded"),
        ]
        gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(attempts)]
        assert gaps[0] >= 0.15
        assert gaps[1] >= 0.35
        assert pingpp.Event.retrieve(event["id"]).pending_webhooks == 0

    def test_an_unreachable_endpoint_is_retried_up_to_the_limit(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        pingxx.add_webhook_endpoint("http://127.0.0.1:9/nothing-listens-here")
        pingxx.configure(webhook_retry_base_seconds=0.05)
        pingxx.pay(create_charge("alipay_qr").id)
        assert pingxx.drain()
        attempts = pingxx.deliveries()
        assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
        assert all(a["status_code"] is None and a["error"] for a in attempts)


class TestSwitches:
    def test_dropped_events_never_arrive(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, receiver: PingxxWebhookReceiver
    ) -> None:
        pingxx.configure(webhook_drop_rate=1.0)
        pingxx.pay(create_charge("alipay_qr").id)
        assert pingxx.drain()
        assert receiver.received == []
        assert [d["outcome"] for d in pingxx.deliveries()] == ["dropped"]

    def test_disabled_webhooks_record_events_without_sending_them(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, receiver: PingxxWebhookReceiver
    ) -> None:
        pingxx.configure(webhooks_enabled=False)
        pingxx.pay(create_charge("alipay_qr").id)
        assert pingxx.drain()
        assert (receiver.received, pingxx.deliveries()) == ([], [])
        assert pingxx.stats()["events_by_type"] == {"charge.succeeded": 1}

    def test_resend_delivers_the_same_event_again(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl, receiver: PingxxWebhookReceiver
    ) -> None:
        pingxx.pay(create_charge("alipay_qr").id)
        first = receiver.wait_for(1)[0]
        assert pingxx.resend(first["id"]) == 1
        second = receiver.wait_for(2)[1]
        assert (second["id"], second["data"]) == (first["id"], first["data"])

    def test_endpoints_get_only_the_events_they_asked_for(
        self, sdk: ModuleType, pingxx: PingxxSandboxControl
    ) -> None:
        with PingxxWebhookReceiver(public_key=pingxx.webhook_public_key()) as refunds_only:
            pingxx.add_webhook_endpoint(refunds_only.url, ["refund.succeeded"])
            ch = create_charge("alipay_qr")
            pingxx.pay(ch.id)
            pingpp.Charge.refund(ch.id, description="All")
            refunds_only.wait_for(1)
            assert pingxx.drain()
            assert refunds_only.types() == ["refund.succeeded"]

    @pytest.mark.parametrize("announce", [False, True])
    def test_refund_failed_is_sent_only_when_switched_on(
        self,
        sdk: ModuleType,
        pingxx: PingxxSandboxControl,
        receiver: PingxxWebhookReceiver,
        announce: bool,
    ) -> None:
        ch = create_charge("wx_pub_qr")
        pingxx.pay(ch.id)
        pingxx.configure(refunds_pending=True, emit_refund_failed=announce)
        refund = pingpp.Charge.refund(ch.id, description="All")
        pingxx.fail_refund(refund.id)
        receiver.wait_for(1)
        assert pingxx.drain()
        expected = ["charge.succeeded", "refund.failed"] if announce else ["charge.succeeded"]
        assert sorted(receiver.types()) == expected


def test_api_answers_are_signed_with_the_same_key(
    sdk: ModuleType, pingxx: PingxxSandboxControl
) -> None:
    answer = create_charge("alipay_qr").last_response
    assert verify_like_pingpp_demo(
        answer.body.encode(), answer.pingplusplus_signature, pingxx.webhook_public_key()
    )
