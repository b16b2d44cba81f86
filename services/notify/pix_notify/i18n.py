"""Notify's mail texts in German and English: locale/<lang>/LC_MESSAGES/messages.po, read at
start by pix_runtime.i18n. Templates hold markup and placeholders only; each sentence is one
message (`t("order_status.body", reference=..., status=...)`).

Text mails get plain strings; HTML mails get Markup whose values are escaped unless they are
Markup themselves (`strong(reference)` in a template keeps its tag).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape
from pix_runtime.i18n import Catalogue

CATALOGUE = Catalogue.load("pix_notify")


def gettext(locale: str, msgid: str, **values: object) -> str:
    return CATALOGUE.gettext(locale, msgid, **values)


def text_helpers(locale: str) -> dict[str, Callable[..., Any]]:
    """`t` and `strong` for a plain-text template."""

    def t(msgid: str, **values: object) -> str:
        return CATALOGUE.gettext(locale, msgid, **values)

    def strong(value: object) -> object:
        return value

    return {"t": t, "strong": strong}


def html_helpers(locale: str) -> dict[str, Callable[..., Any]]:
    """`t` and `strong` for an HTML template: the text escaped, Markup values kept."""

    def t(msgid: str, **values: object) -> Markup:
        text = escape(CATALOGUE.lookup(locale, msgid) or msgid)
        return text.format(**values) if values else text

    def strong(value: object) -> Markup:
        return Markup("<strong>{}</strong>").format(value)

    return {"t": t, "strong": strong}
