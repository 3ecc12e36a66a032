"""An offline, stateful stand-in for the Stripe API that the official SDK can talk to."""

from .config import StripeSandboxConfig
from .server import create_app
from .webhooks import sign as sign_webhook

__all__ = ["StripeSandboxConfig", "create_app", "sign_webhook"]
