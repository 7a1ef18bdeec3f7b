"""WireGuard keys generated in Python: X25519 private/public keys and preshared keys, standard base64 of 32 bytes.

The output is byte-for-byte what ``wg genkey`` / ``wg pubkey`` / ``wg genpsk`` produce (``wg pubkey`` accepts our
private keys and prints our public key; a test checks this against the real tool).
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from vpnsmm.domain.errors import ValidationError


def _decode(key: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(f"{what} is not base64", field=what) from exc
    if len(raw) != 32:
        raise ValidationError(f"{what} must encode 32 bytes, got {len(raw)}", field=what)
    return raw


def generate_private_key() -> str:
    """A new X25519 private key (clamped, as ``wg genkey`` prints it)."""
    raw = X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    # cryptography returns the unclamped scalar; clamp like wg so the stored key is canonical.
    clamped = bytearray(raw)
    clamped[0] &= 248
    clamped[31] = (clamped[31] & 127) | 64
    return base64.b64encode(bytes(clamped)).decode()


def public_key_of(private_key: str) -> str:
    """The public key for ``private_key``. Raises ValidationError for a malformed key."""
    raw = _decode(private_key, "private_key")
    public = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(public).decode()


def generate_preshared_key() -> str:
    """32 random bytes, base64 (``wg genpsk``)."""
    return base64.b64encode(os.urandom(32)).decode()


def check_key(key: str, what: str = "key") -> str:
    """Return ``key`` if it is base64 of exactly 32 bytes, else raise ValidationError."""
    _decode(key, what)
    return key
