"""AES-256-GCM for third-party secrets at rest (webhook signing secrets).

The key comes from PIX_EXPORT_SECRETS_KEY (base64 of 32 bytes). Without it, a key is derived
from PIX_INTERNAL_KEY with HKDF-SHA256: fine for development, but it ties the stored secrets to
the internal key, so production should set its own key (a warning is logged).
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secrets key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    @classmethod
    def from_config(cls, secrets_key: str | None, internal_key: bytes) -> SecretBox:
        if secrets_key:
            return cls(base64.b64decode(secrets_key, validate=True))
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"pix-export-secrets-v1"
        ).derive(internal_key)
        return cls(derived)

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """nonce || ciphertext+tag; `context` (the row id) binds it to its row."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
