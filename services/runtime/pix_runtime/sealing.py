"""Sealed values: secrets that must travel through the broker (a reset link) travel encrypted.

AES-256-GCM with a key derived (HKDF-SHA256) from the internal key, so only our services can
open them, and a tampered value fails to open instead of decoding to something else.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class SealBroken(Exception):
    """The sealed value was tampered with, truncated, or sealed with another key."""


def derive_key(internal_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so keys for different uses never coincide."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"pix.immo", info=purpose.encode()
    ).derive(internal_key)


def seal(plaintext: str, key: bytes, *, context: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(token: str, key: bytes, *, context: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        return AESGCM(key).decrypt(nonce, sealed, context.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise SealBroken("sealed value is damaged or was sealed with another key") from exc
