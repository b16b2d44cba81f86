"""Notify's mails take every sentence from its gettext catalogues (German first, English on
request): no raw msgid in a mail, both catalogues complete, HTML values escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pix_contracts.events import ORDER_STATUSES
from pix_notify.i18n import CATALOGUE
from pix_notify.service import Templates

TEMPLATES = Path(__file__).resolve().parents[2] / "services/notify/pix_notify/templates"
# A msgid left in a mail ("order_status.body"); file names and addresses have other shapes.
RAW_MSGID = re.compile(r"\b[a-z_]+\.[a-z_]+\b(?![@/.])")
MSGID = re.compile(
    r"""\bt\(\s*"([a-z_.]+)"|"([a-z_]+\.[a-z_]+)"\s+if\b|else\s+"([a-z_]+\.[a-z_]+)\""""
)


class File:
    name = "captions.json"
    download_url = "https://files.example/captions.json?sig=abc"


VALUES: dict[str, dict[str, object]] = {
    "order_confirmation": {"name": "Jörg", "reference": "PIX-0042", "address": "Lindenallee 5"},
    "gallery_ready": {
        "name": "Jörg",
        "reference": "PIX-0042",
        "asset_count": 14,
        "version": 1,
        "files": [File()],
        "expires": "06.12.2026, 18:00 MEZ",
    },
    "gallery_updated": {
        "name": "Jörg",
        "reference": "PIX-0042",
        "asset_count": 15,
        "version": 2,
        "files": [File()],
        "expires": "06.12.2026, 18:00 MEZ",
    },
    "welcome_verify": {"name": "Jörg", "link": "https://pix.example/v", "expires": "morgen"},
    "password_reset": {"name": "Jörg", "link": "https://pix.example/r", "expires": "morgen"},
    "invitation": {"name": "Jörg", "link": "https://pix.example/i", "expires": "morgen"},
    "password_changed": {"name": "Jörg", "via": "reset"},
    "order_status": {
        "name": "Jörg",
        "reference": "PIX-0042",
        "status": "terminiert",
        "note": "<b>Dienstag</b>",
    },
    "new_order_admin": {"reference": "PIX-0042", "contact": "Jörg <j@x.de>", "address": "Berlin"},
    "caption_failed_admin": {"pseudonym": "Kitchen_07", "gallery_id": "g", "reason": "timeout"},
}


def used_msgids() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.iterdir():
        for match in MSGID.finditer(path.read_text("utf-8")):
            found |= {group for group in match.groups() if group}
    return found


def test_both_catalogues_hold_every_msgid_the_mails_use() -> None:
    wanted = used_msgids() | {f"subject.{kind}" for kind in VALUES}
    wanted |= {f"status.{status}" for status in ORDER_STATUSES}
    assert "password_changed.body_reset" in wanted
    for locale in ("de", "en"):
        assert sorted(wanted - CATALOGUE.msgids(locale)) == []
    assert CATALOGUE.msgids("de") == CATALOGUE.msgids("en")


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_each_mail_renders_in_german_and_english_without_keys(kind: str) -> None:
    templates = Templates()
    german = templates.render(kind, "de", "a@b.de", **VALUES[kind])
    english = templates.render(kind, "en", "a@b.de", **VALUES[kind])
    for mail in (german, english):
        for body in (mail.subject, mail.text, mail.html):
            leftover = [msgid for msgid in CATALOGUE.msgids("de") if msgid in body]
            assert leftover == [], body
    assert "Diese E-Mail wurde automatisch" in german.html
    assert german.subject != english.subject
    assert "automatically by pix.immo" in english.html


def test_html_escapes_values_and_keeps_the_templates_markup() -> None:
    mail = Templates().render("order_status", "de", "a@b.de", **VALUES["order_status"])
    assert (
        "Ihr Auftrag <strong>PIX-0042</strong> ist jetzt: <strong>terminiert</strong>." in mail.html
    )
    assert "&lt;b&gt;Dienstag&lt;/b&gt;" in mail.html
    assert "Hinweis: <b>Dienstag</b>" in mail.text
    assert "Ihr Auftrag PIX-0042 ist jetzt: terminiert." in mail.text


def test_text_mails_wrap_long_sentences() -> None:
    mail = Templates().render("password_changed", "de", "a@b.de", **VALUES["password_changed"])
    assert "(über den Link „Passwort vergessen“)" in mail.text.replace("\n", " ")
    assert max(len(line) for line in mail.text.splitlines()) <= 76


def test_an_unknown_language_gets_the_german_mail() -> None:
    mail = Templates().render("invitation", "fr", "a@b.de", **VALUES["invitation"])
    assert mail.subject == "Sie wurden zu pix.immo eingeladen"
