"""The portal-mail corpus: every message gives its expected fields; auto-replies and bounces
are recognised and never become leads; a mail without contact data is unparseable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pix_leads.enrichment import normalise_phone
from pix_leads.fields import money
from pix_leads.mail import html_to_text, read_mail, without_quote
from pix_leads.parsers import NotAnInquiry, Unparseable, parse_inquiry

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())


def test_the_corpus_has_at_least_thirty_messages_of_every_kind() -> None:
    assert len(EXPECTED) >= 30
    sources = {facts.get("source") for facts in EXPECTED.values()}
    assert {"immoscout24", "immowelt", "kleinanzeigen", "willhaben", "email"} <= sources
    kinds = {facts.get("not_a_lead") for facts in EXPECTED.values()}
    assert {"auto_reply", "bounce"} <= kinds
    raw = b"".join((CORPUS / f"{name}.eml").read_bytes() for name in EXPECTED)
    for marker in (
        b"quoted-printable",
        b"base64",
        b"iso-8859-1",
        b"multipart/alternative",
        b"message/rfc822",
        b"openimmo-feedback.xml",
        b"multipart/report",
    ):
        assert marker in raw, marker


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_message_gives_its_expected_fields(name: str) -> None:
    facts = EXPECTED[name]
    mail = read_mail((CORPUS / f"{name}.eml").read_bytes())
    if "not_a_lead" in facts:
        with pytest.raises(NotAnInquiry) as refused:
            parse_inquiry(mail)
        assert refused.value.kind == facts["not_a_lead"]
        return
    if facts.get("needs") == "unparseable":
        with pytest.raises(Unparseable):
            parse_inquiry(mail)
        return
    inquiry = parse_inquiry(mail)
    got = dict(vars(inquiry))
    got["phone"] = normalise_phone(inquiry.phone, prefer=inquiry.phone_region)
    for key, want in facts.items():
        if key == "message_contains":
            assert want in inquiry.message, (name, inquiry.message)
        elif key == "household_contains":
            assert want in (inquiry.household or ""), (name, inquiry.household)
        else:
            assert got[key] == want, (name, key, got[key])


def test_html_tables_read_as_labelled_lines() -> None:
    text = html_to_text(
        "<table><tr><td>Name:</td><td><b>Lena</b> Beispiel</td></tr>"
        "<tr><td>E-Mail</td><td><a href='mailto:l@example.org'>l@example.org</a></td></tr></table>"
        "<script>alert(1)</script><p>Hallo<br>Welt</p>"
    )
    assert "Name: Lena Beispiel" in text
    assert "E-Mail: l@example.org" in text
    assert "alert" not in text
    assert "Hallo\nWelt" in text


@pytest.mark.parametrize(
    ("text", "euros"),
    [("450.000 €", 450000), ("450k", 450000), ("1,2 Mio. €", 1200000), ("1.250 EUR", 1250)],
)
def test_money_reads_german_and_english_amounts(text: str, euros: int) -> None:
    assert money(text) == euros


def test_a_reply_keeps_only_its_own_words() -> None:
    reply = "Ja, Dienstag passt gut.\n\nAm 01.12.2026 schrieb Makler <a@b.de>:\n> Wann passt es?"
    assert without_quote(reply) == "Ja, Dienstag passt gut."
