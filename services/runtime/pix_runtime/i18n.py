"""One way to say things in German and English: gettext catalogues, read with Babel.

Each package ships its texts as `<package>/locale/<lang>/LC_MESSAGES/<domain>.po`. The catalogues
are read once at start (`babel.messages.pofile.read_po`): no compile step and no `.mo` files in
git, and a translator edits the `.po` files with any gettext tool. A msgid is a stable key
("nav.dashboard", "mail.order_status.subject") so code and templates never change when a
wording does.

Lookup: the locale's text, else the fallback locale's (English), else the msgid itself: a page
never breaks for a missing translation, and a test (per package) keeps the catalogues complete.
Placeholders are `str.format` fields (`{reference}`), filled only when values are given, so a
text that shows braces literally ("Platzhalter: {name}") is left as it is.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib import resources
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.pofile import read_po

DEFAULT_LOCALE: Final = "de"
FALLBACK_LOCALE: Final = "en"
BERLIN: Final = ZoneInfo("Europe/Berlin")
_BABEL_LOCALES: Final = {"de": "de_DE", "en": "en_GB"}
_ONE_LINE_MSGID: Final = re.compile(r'^msgid "(.+)"$', re.MULTILINE)


class Catalogue:
    """The texts of one package (one gettext domain) in every language it ships."""

    def __init__(
        self,
        messages: Mapping[str, Mapping[str, str]],
        *,
        default_locale: str = DEFAULT_LOCALE,
        fallback_locale: str = FALLBACK_LOCALE,
    ) -> None:
        self._messages = {locale: dict(texts) for locale, texts in messages.items()}
        self.default_locale = default_locale
        self.fallback_locale = fallback_locale

    @classmethod
    def load(
        cls,
        package: str,
        *,
        domain: str = "messages",
        locales: Iterable[str] = (DEFAULT_LOCALE, FALLBACK_LOCALE),
        default_locale: str = DEFAULT_LOCALE,
        fallback_locale: str = FALLBACK_LOCALE,
    ) -> Catalogue:
        """Read `<package>/locale/<lang>/LC_MESSAGES/<domain>.po` for each locale."""
        root = resources.files(package).joinpath("locale")
        messages: dict[str, dict[str, str]] = {}
        for locale in locales:
            po = root.joinpath(locale, "LC_MESSAGES", f"{domain}.po")
            raw = po.read_bytes()
            _refuse_duplicates(raw.decode("utf-8"), f"{package}: {locale}/{domain}.po")
            catalog = read_po(io.BytesIO(raw), locale=locale, domain=domain)
            messages[locale] = {
                message.id: message.string
                for message in catalog
                # The header has the empty msgid; a fuzzy entry is a guess nobody confirmed.
                if isinstance(message.id, str)
                and message.id
                and isinstance(message.string, str)
                and message.string
                and not message.fuzzy
            }
        return cls(messages, default_locale=default_locale, fallback_locale=fallback_locale)

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._messages)

    def msgids(self, locale: str) -> frozenset[str]:
        return frozenset(self._messages.get(locale, {}))

    def has(self, msgid: str) -> bool:
        """Whether any language knows the msgid."""
        return any(msgid in texts for texts in self._messages.values())

    def lookup(self, locale: str, msgid: str) -> str | None:
        """The text in the locale (or the fallback locale), None when nobody has it."""
        if locale not in self._messages:
            locale = self.default_locale
        text = self._messages.get(locale, {}).get(msgid)
        if text is None:
            text = self._messages.get(self.fallback_locale, {}).get(msgid)
        return text

    def gettext(self, locale: str, msgid: str, **values: object) -> str:
        text = self.lookup(locale, msgid)
        if text is None:
            text = msgid
        return text.format(**values) if values else text


def _refuse_duplicates(text: str, where: str) -> None:
    # Babel keeps the first of two entries with the same msgid and says nothing; gettext's
    # msgfmt refuses the file. Refuse it too, so a text added twice cannot hide the other.
    twice = sorted(m for m, n in Counter(_ONE_LINE_MSGID.findall(text)).items() if n > 1)
    if twice:
        raise ValueError(f"{where}: msgid defined more than once: {', '.join(twice)}")


def format_moment(moment: datetime, locale: str) -> str:
    """A moment as a reader in Germany expects it: Berlin time with the zone named
    ("06.12.2026, 18:00 MEZ"; "6 Dec 2026, 18:00 CET"). A naive moment is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    english = locale == "en"
    pattern = "d MMM yyyy, HH:mm z" if english else "dd.MM.yyyy, HH:mm z"
    return format_datetime(
        moment, pattern, tzinfo=BERLIN, locale=_BABEL_LOCALES["en" if english else "de"]
    )
