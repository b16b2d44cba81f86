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


@pytest.mark.parametrize(
    ("raw", "subject", "sender", "filename"),
    [
        # Encoded words (RFC 2047), also in an attachment's name, folded over two lines.
        (
            b"From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <jm@example.org>\r\n"
            b"Subject: =?UTF-8?B?QW5mcmFnZSBmw7xy?=\r\n =?utf-8?q?_3-Zimmer-Wohnung?=\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nHallo\r\n"
            b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;"
            b' filename="=?utf-8?q?Anfrage_f=C3=BCr.xml?="\r\n\r\n<x/>\r\n--b--\r\n',
            "Anfrage für 3-Zimmer-Wohnung",
            "Jürgen Müller",
            "Anfrage für.xml",
        ),
        # Raw 8-bit headers, as mailers send them now: UTF-8, else Latin-1.
        (
            "From: Jürgen Müller <jm@example.org>\r\nSubject: Anfrage für Haus\r\n\r\nx".encode(),
            "Anfrage für Haus",
            "Jürgen Müller",
            None,
        ),
        (
            'From: "Müller, Hans" <hm@example.org>\r\nSubject: Grüße\r\n\r\nx'.encode("latin-1"),
            "Grüße",
            "Müller, Hans",
            None,
        ),
    ],
)
def test_headers_are_decoded_however_they_were_written(
    raw: bytes, subject: str, sender: str, filename: str | None
) -> None:
    mail = read_mail(raw)
    assert mail.subject == subject
    assert mail.from_name == sender
    assert mail.from_addr.endswith("@example.org")
    assert [a.filename for a in mail.attachments] == ([filename] if filename else [])
