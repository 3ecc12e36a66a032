"""Ping++'s RSA signatures: ours on requests (when the merchant key is configured), theirs
on webhooks. Both are base64 RSA PKCS#1 v1.5 over SHA-256."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

REQUEST_TIMESTAMP_HEADER = "Pingplusplus-Request-Timestamp"
REQUEST_SIGNATURE_HEADER = "Pingplusplus-Signature"
WEBHOOK_SIGNATURE_HEADER = "x-pingplusplus-signature"


def pem_text(value: str) -> bytes:
    """A PEM as an environment variable carries it: real newlines or `\\n` escapes."""
    return value.strip().replace("\\n", "\n").encode()


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem_text(pem), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem_text(pem))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def sign_request(key: rsa.RSAPrivateKey, body: bytes, request_uri: str, timestamp: str) -> str:
    """Over the body (empty for a GET), the request URI with its query, the timestamp: the
    string the official SDK's `get_rsa_verify_data` builds."""
    data = body + request_uri.encode() + timestamp.encode()
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def webhook_signature_valid(key: rsa.RSAPublicKey, body: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    try:
        key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
