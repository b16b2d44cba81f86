"""Every text the gateway asks for exists in German and in English (its gettext catalogues).

A key missing from a catalogue shows as the raw key on a page ("orders.photos"); this finds the
keys in the templates (`t("...")`) and the Python (`translate("...", ...)`), and the keys the
templates build from a vocabulary (`t("order." ~ status)`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from pix_contracts.events import ORDER_STATUSES, Role
from pix_gateway.assistant_pages import TEXT_KEYS
from pix_gateway.i18n import CATALOGUE, LOCALES, translate
from pix_notify.delivery import MailStatus

PACKAGE = Path(__file__).resolve().parents[2] / "services" / "gateway" / "pix_gateway"
# t("key") / t('key', n=1) in templates and page code; translate("key", locale) in Python.
TEMPLATE_KEY = re.compile(r"""\bt\(\s*(["'])([A-Za-z0-9_.\-]+)\1\s*[,)]""")
# The assistant's pages: at("key") reads assistant.<key>.
ASSISTANT_KEY = re.compile(r"""\bat\(\s*(["'])([A-Za-z0-9_.\-]+)\1\s*[,)]""")
PYTHON_KEY = re.compile(r"""\btranslate\(\s*(["'])([A-Za-z0-9_.\-]+)\1\s*,""")
# Keys the templates build from a closed vocabulary.
VOCABULARIES = {
    "order.": ORDER_STATUSES,
    "role.": get_args(Role),
    "mail.": get_args(MailStatus),
    "type.": ("apartment", "house", "commercial", "land"),
    "service.": ("photos", "drone", "tour360", "floorplan", "video"),
    "delivery.error.": ("gallery_incomplete", "gallery_empty", "already_delivered", "other"),
}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in PACKAGE.rglob("*"):
        if path.suffix == ".html":
            keys |= {m.group(2) for m in TEMPLATE_KEY.finditer(path.read_text("utf-8"))}
        elif path.suffix == ".py":
            text = path.read_text("utf-8")
            keys |= {m.group(2) for m in PYTHON_KEY.finditer(text)}
            keys |= {m.group(2) for m in TEMPLATE_KEY.finditer(text)}
    for path in (PACKAGE / "templates" / "assistant").glob("*.html"):
        text = path.read_text("utf-8")
        keys |= {f"assistant.{m.group(2)}" for m in ASSISTANT_KEY.finditer(text)}
    keys |= {f"assistant.{key}" for key in TEXT_KEYS}
    for prefix, words in VOCABULARIES.items():
        keys |= {prefix + word for word in words}
    return keys


def test_the_scan_finds_the_pages_texts() -> None:
    keys = used_keys()
    assert len(keys) > 300
    assert {"nav.dashboard", "order.delivered", "home.title", "assistant.off_hint"} <= keys


@pytest.mark.parametrize("locale", LOCALES)
def test_every_used_key_has_a_text_in_each_language(locale: str) -> None:
    missing = sorted(used_keys() - CATALOGUE.msgids(locale))
    assert missing == [], f"missing in locale/{locale}/LC_MESSAGES/messages.po"


def test_both_catalogues_hold_the_same_keys() -> None:
    assert CATALOGUE.msgids("de") == CATALOGUE.msgids("en")


def test_translate_reads_the_catalogue_and_fills_values() -> None:
    assert translate("nav.dashboard", "de") == "Übersicht"
    assert translate("nav.dashboard", "en") == "Dashboard"
    assert translate("leads.day", "de", day=3) == "Tag 3"
    # Braces shown to the user stay when no values are given.
    assert "{sender_name}" in translate("leads.placeholders", "de")
    assert translate("no.such.key", "de") == "no.such.key"
