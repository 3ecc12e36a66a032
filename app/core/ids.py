"""Prefixed, time-sortable identifiers (`pay_...`), so newest-first is `ORDER BY id DESC`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# The 26 characters after an id's prefix (`pay_`, `rf_`, `evt_`).
ID_BODY_PATTERN = "[0-9a-hjkmnp-tv-z]{26}"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """48 bits of milliseconds then 80 random bits: 26 characters, sortable by creation time."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_encode(millis, 10)}{_encode(secrets.randbits(80), 16)}"


def derived_id(prefix: str, *parts: str) -> str:
    """The same parts always name the same object: a retried request finds what it made."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return f"{prefix}_{_encode(int.from_bytes(digest[:16]), 26)}"


def new_client_token() -> str:
    return "ct_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # Any string a header can carry hashes; one that is no token of ours just matches none.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches_digest(token: str, digests: list[str]) -> bool:
    """Constant time over bytes, against every digest: the time says nothing of which."""
    digest = token_digest(token).encode()
    matched = False
    for known in digests:
        matched |= hmac.compare_digest(digest, known.encode())
    return matched
