"""Credentials out of anything written to a log: an API key sent in a query string, a
client token, provider keys and signing secrets wherever they appear in a line."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

REDACTED = "[redacted]"
_SENSITIVE_NAME = re.compile(
    r"key|token|secret|password|passwd|auth|signature|credential|session", re.IGNORECASE
)
_SECRET_VALUE = re.compile(
    r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9_]+"
    r"|\bwhsec_[A-Za-z0-9+/=_-]+"
    r"|\bct_[A-Za-z0-9_-]{16,}"
    r"|(?i:bearer)\s+\S+"
)


def redact(text: str) -> str:
    return _SECRET_VALUE.sub(REDACTED, text)


def redact_query(query: str) -> str:
    """A query string with the value of every parameter that names a credential hidden."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    safe = [(name, REDACTED if _SENSITIVE_NAME.search(name) else value) for name, value in pairs]
    return redact(urlencode(safe, safe="[]"))
