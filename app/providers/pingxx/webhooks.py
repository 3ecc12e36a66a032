"""`X-Pingplusplus-Signature` verification and Ping++ event -> ProviderEvent.

Ping++ signs the raw body with its RSA key and no timestamp, so a captured event could be
replayed at will: the inbox's dedupe on the event id is what stops that. Only the events
Ping++ documents, with an object that agrees with their type, are applied as they stand;
anything else is a hint to read the charge (or its refunds) from Ping++.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from app.providers.base import (
    PaymentStatus,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    RefundStatus,
    WebhookMalformed,
    WebhookSignatureMissing,
    WebhookVerificationFailed,
    check_storable,
    read_envelope,
)
from app.providers.pingxx.signing import WEBHOOK_SIGNATURE_HEADER, webhook_signature_valid
from app.providers.pingxx.transformers import (
    PROVIDER,
    PingxxObjectUnreadable,
    payment_from_charge,
    refund_from_pingxx,
)

# What Ping++ documents sending, and the state each type vouches for.
KNOWN_EVENTS: dict[str, tuple[str, PaymentStatus | RefundStatus]] = {
    "charge.succeeded": ("charge", PaymentStatus.SUCCEEDED),
    "refund.succeeded": ("refund", RefundStatus.SUCCEEDED),
    "refund.failed": ("refund", RefundStatus.FAILED),
}


def parse_webhook(
    public_key: rsa.RSAPublicKey | None, headers: Mapping[str, str], raw_body: bytes
) -> ProviderEvent:
    signature = next(
        (value for name, value in headers.items() if name.lower() == WEBHOOK_SIGNATURE_HEADER),
        None,
    )
    if not signature:
        raise WebhookSignatureMissing("missing X-Pingplusplus-Signature header", provider=PROVIDER)
    if public_key is None:
        raise WebhookVerificationFailed("no Ping++ public key configured", provider=PROVIDER)
    if not webhook_signature_valid(public_key, raw_body, signature.strip()):
        raise WebhookVerificationFailed(
            "X-Pingplusplus-Signature does not verify with the configured public key",
            provider=PROVIDER,
        )
    try:
        event = json.loads(raw_body)
        check_storable(event)
    except (ValueError, RecursionError) as error:
        raise WebhookMalformed(f"Ping++ webhook body: {error}", provider=PROVIDER) from None
    if not isinstance(event, dict):
        raise WebhookMalformed("Ping++ webhook body is not a JSON object", provider=PROVIDER)
    return event_from_dict(event)


def event_from_dict(event: Mapping[str, Any]) -> ProviderEvent:
    envelope = read_envelope(event, provider=PROVIDER, label="Ping++", object_id_required=True)
    event_id, event_type, obj = envelope.event_id, envelope.event_type, envelope.obj
    try:
        payment = payment_from_charge(obj) if obj.get("object") == "charge" else None
        refund = refund_from_pingxx(obj) if obj.get("object") == "refund" else None
    except PingxxObjectUnreadable as error:
        raise WebhookMalformed(
            f"Ping++ event {event_id}: {error.message}", provider=PROVIDER
        ) from error
    believed = _believed(event_type, payment, refund)
    return ProviderEvent(
        event_id=event_id,
        event_type=event_type,
        created_at=envelope.created_at,
        object_id=envelope.object_id,
        payment=payment,
        raw=dict(event),
        # An unvouched refund snapshot is not applied: the charge's refunds are read.
        refund=refund if believed else None,
        payment_reference=refund.payment_reference if refund is not None else None,
        refunds_of=refund.payment_reference if refund is not None and not believed else None,
        livemode=event.get("livemode") is True,
        believed=believed,
    )


def _believed(
    event_type: str, payment: ProviderPayment | None, refund: ProviderRefund | None
) -> bool:
    """Only a documented event whose object agrees with its type is applied as it stands."""
    if payment is not None:
        return KNOWN_EVENTS.get(event_type) == ("charge", payment.status)
    if refund is not None:
        return KNOWN_EVENTS.get(event_type) == ("refund", refund.status)
    return False
