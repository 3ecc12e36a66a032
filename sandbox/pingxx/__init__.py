"""An offline, stateful stand-in for the Ping++ API that the official `pingpp` SDK can talk to."""

from .config import DEFAULT_APP_ID, PingxxSandboxConfig
from .server import create_app
from .signing import sign_request, sign_webhook, verify_webhook

__all__ = [
    "DEFAULT_APP_ID",
    "PingxxSandboxConfig",
    "create_app",
    "sign_request",
    "sign_webhook",
    "verify_webhook",
]
