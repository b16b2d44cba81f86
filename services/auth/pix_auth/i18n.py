"""The auth service's texts for people in German and English: locale/<lang>/LC_MESSAGES/
messages.po, read at start by pix_runtime.i18n."""

from __future__ import annotations

from pix_runtime.i18n import Catalogue

CATALOGUE = Catalogue.load("pix_auth")
