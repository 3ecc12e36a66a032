"""Stripe: PaymentIntents (and later Checkout Sessions) behind the PaymentProvider protocol."""

from app.providers.stripe.adapter import StripeProvider
from app.providers.stripe.transformers import StripeObjectUnreadable, ensure_matches

__all__ = ["StripeObjectUnreadable", "StripeProvider", "ensure_matches"]
