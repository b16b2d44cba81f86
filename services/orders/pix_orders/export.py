"""Orders as CSV for spreadsheets: German Excel opens it by double-click.

That means a UTF-8 byte-order mark (else Excel guesses Windows-1252 and mangles umlauts),
semicolons (the list separator in a German locale) and decimal commas. Statuses, services,
property types and marketing are words from the service's German catalogue, not keys.
"""

from __future__ import annotations

import csv
import io
import re

from pix_orders.i18n import CATALOGUE
from pix_orders.records import Order
from pix_orders.validation import BERLIN

BOM = "\ufeff"
HEADER = [
    "Auftrag",
    "Eingang",
    "Status",
    "Ansprechpartner",
    "E-Mail",
    "Telefon",
    "Straße",
    "Hausnummer",
    "PLZ",
    "Ort",
    "Land",
    "Objektart",
    "Vermarktung",
    "Wohnfläche m²",
    "Zimmer",
    "Leistungen",
    "Summe EUR",
    "Wunschtermine",
    "Zugang",
]
# A cell starting like a formula is run by Excel (CSV injection, OWASP): such user text gets
# a leading apostrophe. Our own E.164 phone numbers (+49…) are digits only and stay as they are.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PHONE = re.compile(r"\+\d{6,15}")


def orders_csv(rows: list[Order]) -> str:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for order in rows:
        writer.writerow(
            [
                order.reference,
                order.created_at.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M"),
                _word("status", order.status),
                _safe(order.contact_name),
                _safe(order.contact_email),
                order.contact_phone
                if order.contact_phone and PHONE.fullmatch(order.contact_phone)
                else _safe(order.contact_phone or ""),
                _safe(order.street),
                _safe(order.house_number),
                _safe(order.postcode),
                _safe(order.city),
                order.country,
                _word("type", order.property_type),
                _word("marketing", order.marketing) if order.marketing else "",
                _decimal(order.living_area_m2),
                _decimal(order.rooms),
                ", ".join(_word("service", line.key) for line in order.services),
                _decimal(order.total_cents / 100, places=2),
                ", ".join(
                    f"{s.date.strftime('%d.%m.%Y')} {_word('window', s.window)}"
                    for s in order.preferred_slots
                ),
                _safe(order.access_notes),
            ]
        )
    return out.getvalue()


def _word(kind: str, key: str) -> str:
    # The CSV is for German Excel; the organisation's UUID is no column of it (orders knows no
    # organisation names, and a UUID means nothing in a spreadsheet).
    return CATALOGUE.gettext("de", f"{kind}.{key}")


def _safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _decimal(value: float | None, *, places: int | None = None) -> str:
    if value is None:
        return ""
    text = f"{value:.{places}f}" if places is not None else f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")
