from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from app.providers.base import (
    PaymentStatus,
    WebhookMalformed,
    WebhookSignatureMissing,
    WebhookVerificationFailed,
)
from app.providers.stripe.webhooks import StripeWebhookVerifier

from .support import (
    OLD_WEBHOOK_SECRET,
    PUBLISHABLE_KEY,
    WEBHOOK_SECRET,
    event_fixture,
    payment_intent_fixture,
    refund_fixture,
    stripe_signature,
)


def _verifier(*secrets: str, tolerance: int = 300) -> StripeWebhookVerifier:
    return StripeWebhookVerifier(
        secrets or (WEBHOOK_SECRET,),
        publishable_key=PUBLISHABLE_KEY,
        tolerance_seconds=tolerance,
    )


def _payment_event_body(status: str = "succeeded") -> bytes:
    event = event_fixture(
        payment_intent_fixture(status=status, amount_received=1099, last_payment_error=None),
        type=f"payment_intent.{status}",
    )
    return json.dumps(event).encode()


class TestValidSignature:
    def test_payment_intent_event(self) -> None:
        body = _payment_event_body()
        event = _verifier().parse(
            {"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET)}, body
        )

        assert event.event_id == "evt_123"
        assert event.event_type == "payment_intent.succeeded"
        assert event.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
        assert event.created_at.tzinfo is not None
        assert event.object_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
        assert event.payment is not None
        assert event.payment.status is PaymentStatus.SUCCEEDED
        assert event.payment.payment_id == "pay_01m8sva1cet3z4x9k2d7w5q8rb"
        assert event.payment.amount_received == 1099
        assert event.raw == json.loads(body)

    @pytest.mark.parametrize("name", ["stripe-signature", "STRIPE-SIGNATURE", "Stripe-Signature"])
    def test_header_name_is_case_insensitive(self, name: str) -> None:
        body = _payment_event_body()
        event = _verifier().parse({name: stripe_signature(body, WEBHOOK_SECRET)}, body)
        assert event.event_id == "evt_123"

    def test_second_of_two_secrets_during_rotation(self) -> None:
        body = _payment_event_body()
        header = stripe_signature(body, WEBHOOK_SECRET)
        event = _verifier(OLD_WEBHOOK_SECRET, WEBHOOK_SECRET).parse(
            {"Stripe-Signature": header}, body
        )
        assert event.event_id == "evt_123"

    def test_header_with_several_signatures(self) -> None:
        body = _payment_event_body()
        t = int(time.time())
        old = stripe_signature(body, OLD_WEBHOOK_SECRET, t).split(",")[1]
        header = f"{stripe_signature(body, WEBHOOK_SECRET, t)},{old}"
        assert _verifier(OLD_WEBHOOK_SECRET).parse({"Stripe-Signature": header}, body)

    def test_non_payment_object_has_no_payment(self) -> None:
        body = json.dumps(event_fixture(refund_fixture(), type="refund.updated")).encode()
        event = _verifier().parse(
            {"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET)}, body
        )
        assert event.payment is None
        assert event.object_id == "re_1Pgc72B7WZ01zgkWqPvrRrPE"

    def test_fixture_event_with_a_plan(self) -> None:
        from .support import FIXTURES

        body = json.dumps(FIXTURES["event"]).encode()
        event = _verifier().parse(
            {"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET)}, body
        )
        assert event.event_type == "plan.created"
        assert event.payment is None


class TestRejectedSignature:
    def test_missing_header(self) -> None:
        body = _payment_event_body()
        with pytest.raises(WebhookSignatureMissing):
            _verifier().parse({"Content-Type": "application/json"}, body)

    def test_empty_header(self) -> None:
        with pytest.raises(WebhookSignatureMissing):
            _verifier().parse({"Stripe-Signature": ""}, b"{}")

    def test_forged(self) -> None:
        body = _payment_event_body()
        header = stripe_signature(body, "whsec_attacker")
        with pytest.raises(WebhookVerificationFailed) as raised:
            _verifier(OLD_WEBHOOK_SECRET, WEBHOOK_SECRET).parse({"Stripe-Signature": header}, body)
        assert WEBHOOK_SECRET not in str(raised.value)
        assert OLD_WEBHOOK_SECRET not in str(raised.value)
        assert raised.value.__cause__ is None

    def test_stale(self) -> None:
        body = _payment_event_body()
        header = stripe_signature(body, WEBHOOK_SECRET, int(time.time()) - 301)
        with pytest.raises(WebhookVerificationFailed):
            _verifier(tolerance=300).parse({"Stripe-Signature": header}, body)

    def test_within_a_longer_tolerance(self) -> None:
        body = _payment_event_body()
        header = stripe_signature(body, WEBHOOK_SECRET, int(time.time()) - 301)
        assert _verifier(tolerance=600).parse({"Stripe-Signature": header}, body)

    def test_changed_body(self) -> None:
        body = _payment_event_body()
        header = stripe_signature(body, WEBHOOK_SECRET)
        tampered = body.replace(b'"succeeded"', b'"canceled"')
        assert tampered != body
        with pytest.raises(WebhookVerificationFailed):
            _verifier().parse({"Stripe-Signature": header}, tampered)

    @pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "t=123", "v1=deadbeef"])
    def test_unparseable_header(self, header: str) -> None:
        with pytest.raises(WebhookVerificationFailed):
            _verifier().parse({"Stripe-Signature": header}, b"{}")

    def test_non_utf8_body(self) -> None:
        body = b"\xff\xfe{}"
        with pytest.raises(WebhookVerificationFailed):
            _verifier().parse({"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET)}, body)

    def test_no_secret_configured(self) -> None:
        body = _payment_event_body()
        verifier = StripeWebhookVerifier([], publishable_key=PUBLISHABLE_KEY)
        with pytest.raises(WebhookVerificationFailed):
            verifier.parse({"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET)}, body)


class TestMalformedButSigned:
    @pytest.mark.parametrize(
        "body",
        [
            b"not json at all",
            b"[1, 2, 3]",
            b'{"object": "event"}',
            b'{"id": "evt_1", "object": "event", "type": "x", "created": "yesterday", "data": {}}',
            b'{"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": {}}',
            b'{"id": "evt_1", "object": "v2.core.event", "type": "x", "created": 1}',
        ],
    )
    def test_body_is_not_an_event(self, body: bytes) -> None:
        with pytest.raises(WebhookMalformed):
            _verifier().parse({"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET)}, body)

    def test_payment_intent_with_an_unknown_status(self) -> None:
        body = json.dumps(event_fixture(payment_intent_fixture(status="requires_magic"))).encode()
        with pytest.raises(WebhookMalformed, match="requires_magic"):
            _verifier().parse({"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET)}, body)
