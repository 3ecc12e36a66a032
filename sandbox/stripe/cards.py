"""Stripe's test cards, test PaymentMethod ids and test tokens, and what each one does."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["succeed", "decline", "three_d_secure", "refund_fails"]


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    outcome: Outcome = "succeed"
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    advice_code: str | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.number.encode()).hexdigest()[:16]


def _decline(
    number: str,
    decline_code: str,
    message: str,
    *,
    code: str = "card_declined",
    brand: str = "visa",
    advice_code: str | None = None,
) -> TestCard:
    return TestCard(
        number=number,
        brand=brand,
        outcome="decline",
        code=code,
        decline_code=decline_code,
        message=message,
        advice_code=advice_code,
    )


DECLINED = "Your card was declined."

CARDS: dict[str, TestCard] = {
    card.number: card
    for card in [
        TestCard("4242424242424242", "visa"),
        TestCard("4000056655665556", "visa", funding="debit"),
        TestCard("5555555555554444", "mastercard"),
        TestCard("2223003122003222", "mastercard"),
        TestCard("5200828282828210", "mastercard", funding="debit"),
        TestCard("378282246310005", "amex"),
        TestCard("6011111111111117", "discover"),
        TestCard("3566002020360505", "jcb", country="JP"),
        TestCard("6200000000000005", "unionpay", country="CN"),
        _decline("4000000000000002", "generic_decline", DECLINED),
        _decline(
            "4000000000009995",
            "insufficient_funds",
            "Your card has insufficient funds.",
            advice_code="try_again_later",
        ),
        _decline("4000000000009987", "lost_card", DECLINED, advice_code="do_not_try_again"),
        _decline("4000000000009979", "stolen_card", DECLINED, advice_code="do_not_try_again"),
        _decline("4000000000000069", "expired_card", "Your card has expired.", code="expired_card"),
        _decline(
            "4000000000000127",
            "incorrect_cvc",
            "Your card's security code is incorrect.",
            code="incorrect_cvc",
        ),
        _decline(
            "4000000000000119",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
            code="processing_error",
        ),
        _decline("4100000000000019", "fraudulent", DECLINED),
        TestCard("4000002500003155", "visa", outcome="three_d_secure"),
        TestCard("4000000000003220", "visa", outcome="three_d_secure"),
        TestCard("4000002760003184", "visa", outcome="three_d_secure", country="DE"),
        TestCard("4000000000005126", "visa", outcome="refund_fails"),
    ]
}

# Stripe's test PaymentMethod ids; using one creates a fresh PaymentMethod from the card.
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_mastercard_debit": "5200828282828210",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_jcb": "3566002020360505",
    "pm_card_unionpay": "6200000000000005",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeDeclinedFraudulent": "4100000000000019",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_threeDSecureRequired": "4000002500003155",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_refundFail": "4000000000005126",
}

TEST_TOKENS: dict[str, str] = {
    "tok_visa": "4242424242424242",
    "tok_visa_debit": "4000056655665556",
    "tok_mastercard": "5555555555554444",
    "tok_amex": "378282246310005",
    "tok_chargeDeclined": "4000000000000002",
    "tok_chargeDeclinedInsufficientFunds": "4000000000009995",
    "tok_chargeDeclinedExpiredCard": "4000000000000069",
    "tok_threeDSecure2Required": "4000000000003220",
    "tok_refundFail": "4000000000005126",
}


def lookup(number: str) -> TestCard | None:
    """The test card for a raw number; None for numbers Stripe test mode would refuse."""
    return CARDS.get(number.replace(" ", "").replace("-", ""))
