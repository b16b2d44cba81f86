"""Sealed values: secrets that travel through the broker (a reset link) or rest in a database
(webhook secrets, CRM credentials) are encrypted.

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


class SecretBox:
    """Secrets at rest (webhook signing secrets, CRM credentials, mailbox tokens): bytes sealed
    under a key ring. The first key seals; every key opens, so a key is rotated by putting the
    new one first and keeping the old one until every row has been written again."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys or any(len(key) != 32 for key in keys):
            raise ValueError("a secrets key must be 32 bytes (AES-256)")
        self._ring = [AESGCM(key) for key in keys]

    @classmethod
    def from_config(cls, secrets_keys: str | None, internal_key: bytes, purpose: str) -> SecretBox:
        """`secrets_keys`: base64 keys separated by commas, newest first. Without them the key
        is derived from the internal key for `purpose` (development only: rotating the internal
        key would then lose the secrets, so production names its own keys)."""
        if secrets_keys:
            parts = secrets_keys.split(",")
            return cls([base64.b64decode(part.strip(), validate=True) for part in parts])
        return cls([derive_key(internal_key, purpose)])

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """nonce || ciphertext+tag; `context` (the row id) binds the value to its row."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._ring[0].encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        for aead in self._ring:
            try:
                return aead.decrypt(nonce, body, context)
            except InvalidTag:
                continue
        raise SealBroken("sealed secret is damaged, belongs to another row, or its key is gone")
