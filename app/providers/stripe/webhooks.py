"""`Stripe-Signature` verification and Stripe event -> ProviderEvent."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import stripe

from app.providers.base import (
    EVENT_TYPE,
    PROVIDER_ID,
    ProviderDispute,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    WebhookMalformed,
    WebhookSignatureMissing,
    WebhookVerificationFailed,
    check_storable,
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
    event_id = event.get("id")
    event_type = event.get("type")
    created = event.get("created")
    data = event.get("data")
    if event.get("object", "event") != "event":
        raise WebhookMalformed(
            f"not a snapshot event (object={event.get('object')!r})", provider=PROVIDER
        )
    if not isinstance(event_id, str) or not PROVIDER_ID.fullmatch(event_id):
        raise WebhookMalformed("Stripe event without a well-formed id", provider=PROVIDER)
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
        raise WebhookMalformed(
            f"Stripe event {event_id} without a well-formed type", provider=PROVIDER
        )
    if not isinstance(created, int) or isinstance(created, bool):
        raise WebhookMalformed(f"Stripe event {event_id} without a created time", provider=PROVIDER)
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise WebhookMalformed(f"Stripe event {event_id} without data.object", provider=PROVIDER)
    obj: Mapping[str, Any] = data["object"]
    object_id = obj.get("id")
    if object_id is not None and not (
        isinstance(object_id, str) and PROVIDER_ID.fullmatch(object_id)
    ):
        raise WebhookMalformed(f"Stripe event {event_id}: a malformed object id", provider=PROVIDER)
    payment_reference = _payment_reference(obj)
    return ProviderEvent(
        event_id=event_id,
        event_type=event_type,
        created_at=datetime.fromtimestamp(created, tz=UTC),
        object_id=object_id if isinstance(object_id, str) else None,
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
    reference = obj.get("payment_intent")
    return reference if isinstance(reference, str) and PROVIDER_ID.fullmatch(reference) else None


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
