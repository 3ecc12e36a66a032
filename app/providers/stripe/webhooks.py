"""`Stripe-Signature` verification and Stripe event -> ProviderEvent."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import stripe

from app.providers.base import (
    ProviderDispute,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    WebhookMalformed,
    WebhookSignatureMissing,
    WebhookVerificationFailed,
    check_storable,
    optional_id,
    read_envelope,
)
from app.providers.stripe.transformers import (
    PROVIDER,
    StripeObjectUnreadable,
    dispute_from_stripe,
    payment_from_payment_intent,
    refund_from_stripe,
)

SIGNATURE_HEADER = "stripe-signature"


class StripeWebhookVerifier:
    def __init__(
        self,
        webhook_secrets: Sequence[str],
        *,
        publishable_key: str,
        tolerance_seconds: int = 300,
    ) -> None:
        self._secrets = tuple(secret for secret in webhook_secrets if secret)
        self._publishable_key = publishable_key
        self._tolerance_seconds = tolerance_seconds

    def parse(self, headers: Mapping[str, str], raw_body: bytes) -> ProviderEvent:
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise WebhookSignatureMissing("missing Stripe-Signature header", provider=PROVIDER)
        body = self._verified_text(signature, raw_body)
        return event_from_body(body, publishable_key=self._publishable_key)

    def _verified_text(self, signature: str, raw_body: bytes) -> str:
        if not self._secrets:
            raise WebhookVerificationFailed(
                "no Stripe webhook secret configured", provider=PROVIDER
            )
        if _from_the_future(signature, self._tolerance_seconds):
            # The SDK checks only that a timestamp is not too old; one far ahead is
            # a replay prepared in advance, or a clock not to be trusted.
            raise WebhookVerificationFailed(
                "Stripe-Signature timestamp is ahead of our clock", provider=PROVIDER
            )
        try:
            # Stripe signs the UTF-8 text of the body and the SDK verifies that text.
            body = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookVerificationFailed(
                "Stripe webhook body is not UTF-8", provider=PROVIDER
            ) from None
        # During a secret rotation Stripe signs with every active secret (several v1=
        # entries) while our configuration may still list the old secret first.
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(
                    body, signature, secret, tolerance=self._tolerance_seconds
                )
            except stripe.SignatureVerificationError:
                continue
            return body
        # Deliberately no chained cause: the SDK error carries the header and the body.
        raise WebhookVerificationFailed(
            "Stripe-Signature does not match any configured webhook secret, "
            "or its timestamp is outside the tolerance",
            provider=PROVIDER,
        )


def _from_the_future(signature: str, tolerance_seconds: int) -> bool:
    for part in signature.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) < 20:
            return int(value) > time.time() + tolerance_seconds
    return False


def event_from_body(body: str | bytes, *, publishable_key: str) -> ProviderEvent:
    """A ProviderEvent from an already verified Stripe event body."""
    try:
        event = json.loads(body)
        check_storable(event)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise WebhookMalformed(f"Stripe webhook body: {error}", provider=PROVIDER) from None
    if not isinstance(event, dict):
        raise WebhookMalformed("Stripe webhook body is not a JSON object", provider=PROVIDER)
    return event_from_dict(event, publishable_key=publishable_key)


def event_from_dict(event: Mapping[str, Any], *, publishable_key: str) -> ProviderEvent:
    envelope = read_envelope(event, provider=PROVIDER, label="Stripe", object_id_required=False)
    event_id, event_type, obj = envelope.event_id, envelope.event_type, envelope.obj
    payment_reference = _payment_reference(obj)
    return ProviderEvent(
        event_id=event_id,
        event_type=event_type,
        created_at=envelope.created_at,
        object_id=envelope.object_id,
        payment=_payment_snapshot(event_id, obj, publishable_key),
        raw=dict(event),
        refund=_refund_snapshot(event_id, obj),
        payment_reference=payment_reference,
        dispute=_dispute_snapshot(event_id, obj),
        # `charge.refunded` carries the charge, not its refunds (they are no longer
        # included by default): a hint to read the payment's refunds again.
        refunds_of=payment_reference if event_type == "charge.refunded" else None,
        livemode=event.get("livemode") is True,
    )


def _dispute_snapshot(event_id: str, obj: Mapping[str, Any]) -> ProviderDispute | None:
    if obj.get("object") != "dispute":
        return None
    try:
        return dispute_from_stripe(obj)
    except StripeObjectUnreadable as error:
        raise WebhookMalformed(
            f"Stripe event {event_id}: {error.message}", provider=PROVIDER
        ) from error


def _refund_snapshot(event_id: str, obj: Mapping[str, Any]) -> ProviderRefund | None:
    if obj.get("object") != "refund":
        return None
    try:
        return refund_from_stripe(obj)
    except StripeObjectUnreadable as error:
        raise WebhookMalformed(
            f"Stripe event {event_id}: {error.message}", provider=PROVIDER
        ) from error


def _payment_reference(obj: Mapping[str, Any]) -> str | None:
    """A charge's or refund's PaymentIntent: which payment to look at again."""
    if obj.get("object") == "payment_intent":
        return None
    return optional_id(obj.get("payment_intent"))


def _payment_snapshot(
    event_id: str, obj: Mapping[str, Any], publishable_key: str
) -> ProviderPayment | None:
    if obj.get("object") != "payment_intent":
        return None
    try:
        return payment_from_payment_intent(obj, publishable_key=publishable_key)
    except StripeObjectUnreadable as error:
        raise WebhookMalformed(
            f"Stripe event {event_id}: {error.message}", provider=PROVIDER
        ) from error


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None
