"""German first, English on request: every text of the web UI, in both languages.

The texts live in gettext catalogues inside this package, locale/<lang>/LC_MESSAGES/messages.po
(msgid = the key the pages use, e.g. "nav.dashboard"), read at start by pix_runtime.i18n.
A new text goes into both .po files; tests/gateway/test_gateway_texts.py checks that every key
the templates and pages use is in each.
"""

from __future__ import annotations

from typing import Literal

from pix_runtime.i18n import Catalogue

Locale = Literal["de", "en"]
LOCALES: tuple[Locale, ...] = ("de", "en")

CATALOGUE = Catalogue.load("pix_gateway", locales=LOCALES)


def translate(key: str, locale: Locale, **values: object) -> str:
    return CATALOGUE.gettext(locale, key, **values)
