"""RSA in Ping++'s two directions, PKCS#1 v1.5 with SHA-256 and base64 both ways.

Requests: the merchant signs and Ping++ verifies with the public key uploaded to the
dashboard. The SDK (`APIRequestor.get_rsa_verify_data`) signs, as one UTF-8 string,
the JSON body (POST and PUT only), then the request URI (the path, plus `?` and the encoded
query when a GET or DELETE has parameters), then the decimal Unix time it also sends as
`Pingplusplus-Request-Timestamp`. The PHP and Go SDKs build the same string.

Webhooks: Ping++ signs the raw body with its own key; `X-Pingplusplus-Signature` carries the
signature and no timestamp, so a receiver cannot tell a replay from a retry by the signature.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PrivateKey = rsa.RSAPrivateKey
PublicKey = rsa.RSAPublicKey


def generate_private_key(bits: int = 2048) -> PrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def load_private_key(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key")
    return key


def load_public_key(pem: str) -> PublicKey:
    key = serialization.load_pem_public_key(pem.strip().encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the public key is not an RSA key")
    return key


def private_key_pem(key: PrivateKey) -> str:
    # PKCS#1 ("BEGIN RSA PRIVATE KEY") is the form Ping++'s key guide produces with openssl
    # and the Go SDK parses; pycryptodome (the Python SDK) reads it as well.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def public_key_pem(key: PrivateKey | PublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    # SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"): what the dashboard shows and the Go SDK's
    # webhook verifier (x509.ParsePKIXPublicKey) requires.
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign(data: bytes, key: PrivateKey) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(data: bytes, signature: str, key: PublicKey) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def request_signing_data(body: bytes, request_uri: str | bytes, timestamp: str) -> bytes:
    """What the merchant signs: body (POST/PUT), request URI with query, timestamp."""
    uri = request_uri.encode() if isinstance(request_uri, str) else request_uri
    return body + uri + timestamp.encode()


def sign_request(body: bytes, request_uri: str, timestamp: str, key: PrivateKey) -> dict[str, str]:
    """The two headers an SDK adds, for clients that are not the SDK (tests, curl)."""
    return {
        "Pingplusplus-Request-Timestamp": timestamp,
        "Pingplusplus-Signature": sign(request_signing_data(body, request_uri, timestamp), key),
    }


def sign_webhook(payload: bytes, key: PrivateKey) -> str:
    """The `X-Pingplusplus-Signature` value for a webhook body."""
    return sign(payload, key)


def verify_webhook(payload: bytes, signature: str, public_key_pem_text: str) -> bool:
    return verify(payload, signature, load_public_key(public_key_pem_text))
