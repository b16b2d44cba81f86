"""pix_runtime.i18n: gettext catalogues shipped inside a package, read with Babel at start."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pix_runtime.i18n import Catalogue, format_moment

GERMAN = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: de\\n"

msgid "order.status"
msgstr "Ihr Auftrag {reference} ist jetzt {status}."

msgid "nav.home"
msgstr "Startseite"

#, fuzzy
msgid "nav.unsure"
msgstr "Geraten"

msgid "only.english"
msgstr ""

msgid "placeholders"
msgstr "Platzhalter: {name}, {greeting}"
"""

ENGLISH = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: en\\n"

msgid "order.status"
msgstr "Your order {reference} is now {status}."

msgid "nav.home"
msgstr "Home"

msgid "nav.unsure"
msgstr "Unsure"

msgid "only.english"
msgstr "Only in English"

msgid "placeholders"
msgstr "Placeholders: {name}, {greeting}"
"""


@pytest.fixture
def package(tmp_path: Path) -> Iterator[str]:
    """A real importable package with its .po files, as a service ships them."""
    name = f"i18n_probe_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    for locale, text in (("de", GERMAN), ("en", ENGLISH)):
        folder = root / "locale" / locale / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(text, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_reads_each_language_from_the_package(package: str) -> None:
    catalogue = Catalogue.load(package)
    assert catalogue.locales == ("de", "en")
    assert catalogue.gettext("de", "nav.home") == "Startseite"
    assert catalogue.gettext("en", "nav.home") == "Home"
    assert (
        catalogue.gettext("de", "order.status", reference="PIX-0001", status="geliefert")
        == "Ihr Auftrag PIX-0001 ist jetzt geliefert."
    )


def test_missing_german_falls_back_to_english_then_to_the_msgid(package: str) -> None:
    catalogue = Catalogue.load(package)
    # An empty msgstr is untranslated, a fuzzy one unconfirmed: both fall back to English.
    assert catalogue.gettext("de", "only.english") == "Only in English"
    assert catalogue.gettext("de", "nav.unsure") == "Unsure"
    assert catalogue.gettext("de", "nowhere.at.all") == "nowhere.at.all"
    assert catalogue.lookup("de", "nowhere.at.all") is None
    assert catalogue.has("only.english")
    assert not catalogue.has("nowhere.at.all")
    assert "only.english" not in catalogue.msgids("de")


def test_an_unknown_language_reads_german(package: str) -> None:
    assert Catalogue.load(package).gettext("fr", "nav.home") == "Startseite"


def test_braces_stay_as_written_without_values(package: str) -> None:
    catalogue = Catalogue.load(package)
    assert catalogue.gettext("de", "placeholders") == "Platzhalter: {name}, {greeting}"


def test_a_msgid_defined_twice_fails_at_start(package: str, tmp_path: Path) -> None:
    po = tmp_path / package / "locale" / "en" / "LC_MESSAGES" / "messages.po"
    po.write_text(ENGLISH + '\nmsgid "nav.home"\nmsgstr "Start"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"nav\.home"):
        Catalogue.load(package)


def test_a_package_without_a_catalogue_fails_at_start(package: str) -> None:
    with pytest.raises(FileNotFoundError):
        Catalogue.load(package, locales=("de", "fr"))


def test_moments_in_berlin_time_with_the_zone_named() -> None:
    winter = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    assert format_moment(winter, "de") == "06.12.2026, 18:00 MEZ"
    assert format_moment(summer, "de") == "01.07.2026, 10:30 MESZ"
    assert format_moment(winter, "en") == "6 Dec 2026, 18:00 CET"
    assert format_moment(datetime(2026, 12, 6, 17, 0), "fr") == "06.12.2026, 18:00 MEZ"
