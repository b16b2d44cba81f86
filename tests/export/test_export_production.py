"""Production refuses to start export without its own key for the CRM credentials."""

from __future__ import annotations

import base64
import os

import pytest
from pix_export.app import create_app
from pix_export.settings import ExportSettings
from pix_runtime.settings import PlatformSettings
from pydantic import SecretStr


def test_production_needs_the_export_secrets_key() -> None:
    platform = PlatformSettings(env="production", internal_key=SecretStr("k" * 48))
    with pytest.raises(RuntimeError, match="PIX_EXPORT_SECRETS_KEY"):
        create_app(ExportSettings(platform=platform))
    key = SecretStr(base64.b64encode(os.urandom(32)).decode())
    app, _ = create_app(ExportSettings(platform=platform, secrets_key=key))
    assert app.title == "pix.immo export"
