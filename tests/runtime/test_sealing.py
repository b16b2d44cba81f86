"""Secrets at rest: sealed under a key ring, bound to their row, rotated without loss."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from pix_runtime.sealing import SealBroken, SecretBox, seal, unseal


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_secret_opens_only_for_its_own_row() -> None:
    box = SecretBox.from_config(_key(), b"internal", "export-secrets")
    row, other = uuid.uuid4().bytes, uuid.uuid4().bytes
    sealed = box.seal(b"whsec_abc", context=row)
    assert b"whsec_abc" not in sealed
    assert box.open(sealed, context=row) == b"whsec_abc"
    with pytest.raises(SealBroken):
        box.open(sealed, context=other)


def test_rotation_opens_old_secrets_and_seals_new_ones_with_the_new_key() -> None:
    old_key, new_key = _key(), _key()
    old_box = SecretBox.from_config(old_key, b"internal", "export-secrets")
    row = uuid.uuid4().bytes
    sealed_before = old_box.seal(b"crm-api-key", context=row)

    rotated = SecretBox.from_config(f"{new_key}, {old_key}", b"internal", "export-secrets")
    assert rotated.open(sealed_before, context=row) == b"crm-api-key"
    sealed_after = rotated.seal(b"crm-api-key", context=row)
    with pytest.raises(SealBroken):
        old_box.open(sealed_after, context=row)
    # Once every row is sealed again the old key can go.
    assert SecretBox.from_config(new_key, b"internal", "x").open(sealed_after, context=row) == (
        b"crm-api-key"
    )


def test_development_keys_differ_per_purpose_and_tampering_is_refused() -> None:
    row = uuid.uuid4().bytes
    sealed = SecretBox.from_config(None, b"internal", "export-secrets").seal(b"s", context=row)
    with pytest.raises(SealBroken):
        SecretBox.from_config(None, b"internal", "mailbox-tokens").open(sealed, context=row)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealBroken):
        SecretBox.from_config(None, b"internal", "export-secrets").open(tampered, context=row)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox.from_config(base64.b64encode(b"short").decode(), b"internal", "x")


def test_values_sealed_for_the_broker_fail_loudly_when_damaged() -> None:
    token = seal("https://pix.immo/reset#t", b"k" * 32, context="email-link")
    assert unseal(token, b"k" * 32, context="email-link") == "https://pix.immo/reset#t"
    with pytest.raises(SealBroken):
        unseal(token, b"k" * 32, context="other")
