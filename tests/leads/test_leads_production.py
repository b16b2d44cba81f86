"""Production refuses to start leads without its own key for the mailbox and calendar
credentials (a key derived from PIX_INTERNAL_KEY would lose them with its rotation)."""

from __future__ import annotations

import base64
import os

import pytest
from pix_leads.app import create_app
from pix_leads.settings import LeadsSettings
from pix_runtime.settings import PlatformSettings
from pydantic import SecretStr


def test_production_needs_the_leads_secrets_key() -> None:
    platform = PlatformSettings(env="production", internal_key=SecretStr("k" * 48))
    with pytest.raises(RuntimeError, match="PIX_LEADS_SECRETS_KEY"):
        create_app(LeadsSettings(platform=platform))
    key = SecretStr(base64.b64encode(os.urandom(32)).decode())
    app, _ = create_app(LeadsSettings(platform=platform, secrets_key=key))
    assert app.title.startswith("pix.immo")
