"""Numbers, money, dates and times as a German (or English) reader expects them: 199,00 €,
94,5 m², 06.12.2026, times in Europe/Berlin with the zone said (MEZ/MESZ)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from pix_gateway.i18n import Locale

BERLIN = ZoneInfo("Europe/Berlin")
BABEL_LOCALE = {"de": "de_DE", "en": "en_GB"}


def _moment(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    # Services answer in UTC; a value without a zone is UTC too.
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))


def money_cents(cents: int | None, locale: Locale) -> str:
    if cents is None:
        return "–"
    return format_currency(cents / 100, "EUR", locale=BABEL_LOCALE[locale])


def money(euros: float | None, locale: Locale) -> str:
    """Whole euros (prices of properties, budgets): no cents shown."""
    if euros is None:
        return "–"
    pattern = "#,##0\xa0¤" if locale == "de" else "¤#,##0"  # no break before the sign
    return format_currency(
        euros, "EUR", format=pattern, currency_digits=False, locale=BABEL_LOCALE[locale]
    )


def number(value: float | None, locale: Locale) -> str:
    if value is None:
        return "–"
    return format_decimal(value, locale=BABEL_LOCALE[locale])


def area(square_metres: float | None, locale: Locale) -> str:
    if square_metres is None:
        return "–"
    return f"{number(square_metres, locale)} m²"


def day(value: str | date | datetime | None, locale: Locale) -> str:
    if not value:
        return ""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, datetime | str):
        value = _moment(value).astimezone(BERLIN).date()
    return format_date(value, "dd.MM.yyyy" if locale == "de" else "d MMM yyyy", locale=locale)


def when(value: str | datetime | None, locale: Locale) -> str:
    """A moment in Berlin time, the zone named (MEZ in winter, MESZ in summer)."""
    if not value:
        return ""
    pattern = "dd.MM.yyyy, HH:mm z" if locale == "de" else "d MMM yyyy, HH:mm z"
    return format_datetime(_moment(value), pattern, tzinfo=BERLIN, locale=BABEL_LOCALE[locale])
