"""Leads from a CSV or Excel file dropped into the chat: read, previewed, and after the user's yes
created through the leads API as that user (so the organisation's rules apply unchanged).

German and English column names are recognised ("Name", "Vorname"/"Nachname", "E-Mail",
"Telefon"/"Mobil", "Nachricht"/"Bemerkung", "Finanzierung", "Budget"/"Kaufpreis bis", "Sprache").
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from typing import Any, Literal

from openpyxl import load_workbook  # type: ignore[import-untyped]
from pix_runtime.errors import Invalid
from pydantic import BaseModel

from pix_assistant.listing_import import LISTING_COLUMNS, ListingField, ListingRow, listing_row
from pix_assistant.platform import Caller, PlatformApis, ServiceError

IMPORT_LEADS = "import_leads"

Field = Literal[
    "name", "first_name", "last_name", "email", "phone", "message", "financing", "budget", "locale"
]
COLUMNS: dict[str, Field] = {
    "name": "name",
    "vollständiger name": "name",
    "kontakt": "name",
    "interessent": "name",
    "vorname": "first_name",
    "first name": "first_name",
    "nachname": "last_name",
    "familienname": "last_name",
    "last name": "last_name",
    "e-mail": "email",
    "email": "email",
    "mail": "email",
    "e-mail-adresse": "email",
    "telefon": "phone",
    "tel": "phone",
    "tel.": "phone",
    "telefonnummer": "phone",
    "mobil": "phone",
    "handy": "phone",
    "phone": "phone",
    "nachricht": "message",
    "anfrage": "message",
    "bemerkung": "message",
    "kommentar": "message",
    "notiz": "message",
    "message": "message",
    "finanzierung": "financing",
    "financing": "financing",
    "budget": "budget",
    "budget max": "budget",
    "kaufpreis bis": "budget",
    "max. kaufpreis": "budget",
    "sprache": "locale",
    "language": "locale",
}
FINANCING = {
    "confirmed": ("ja", "bestätigt", "vorhanden", "gesichert", "zusage", "yes", "confirmed"),
    "in_progress": ("in prüfung", "in bearbeitung", "beantragt", "läuft", "in progress"),
    "none": ("nein", "keine", "no", "none"),
}


class ImportRow(BaseModel):
    line: int
    name: str
    email: str | None = None
    phone: str | None = None
    message: str = ""
    financing: Literal["confirmed", "in_progress", "none"] | None = None
    budget_max_eur: int | None = None
    locale: Literal["de", "en"] = "de"


class ImportPreview(BaseModel):
    kind: Literal["leads", "listings"] = "leads"
    filename: str
    columns: dict[str, str]
    ignored_columns: list[str]
    rows: list[ImportRow]
    listings: list[ListingRow] = []
    skipped: list[str]

    @property
    def count(self) -> int:
        return len(self.rows) + len(self.listings)


def _header(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "").strip().lower().rstrip(":"))


def _table(filename: str, data: bytes) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:
            raise Invalid("unreadable", "the Excel file cannot be read", "file") from exc
        sheet = book.worksheets[0]
        table = [
            ["" if cell is None else str(cell).strip() for cell in row]
            for row in sheet.iter_rows(values_only=True)
        ]
        book.close()
        return table
    if not filename.lower().endswith((".csv", ".txt")):
        raise Invalid("unsupported", "only .csv and .xlsx files can be imported", "file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    dialect: Any = csv.excel
    with contextlib.suppress(csv.Error):
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=";,\t")
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _financing(value: str) -> Literal["confirmed", "in_progress", "none"] | None:
    lowered = value.strip().lower()
    for state, words in FINANCING.items():
        if any(lowered.startswith(word) for word in words):
            return state  # type: ignore[return-value]
    return None


def _budget(value: str) -> int | None:
    digits = re.sub(r"[^\d]", "", value.split(",")[0])
    return int(digits) if digits and int(digits) < 100_000_000 else None


def preview(filename: str, data: bytes, *, max_rows: int) -> ImportPreview:
    """Leads when the sheet names people, listings when it names titles or addresses."""
    table = [row for row in _table(filename, data) if any(row)]
    if not table:
        raise Invalid("empty", "the file has no rows", "file")
    if len(table) - 1 > max_rows:
        raise Invalid("too_many_rows", f"at most {max_rows} rows can be imported at once", "file")
    headers = {COLUMNS.get(_header(title)) for title in table[0]}
    if not {"name", "first_name", "last_name"} & headers and {
        LISTING_COLUMNS.get(_header(title)) for title in table[0]
    } & {"title", "street"}:
        return _listings_preview(filename, table)
    return _leads_preview(filename, table)


def _listings_preview(filename: str, table: list[list[str]]) -> ImportPreview:
    header = table[0]
    mapping: dict[int, ListingField] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        known = LISTING_COLUMNS.get(_header(title))
        if known is not None and known not in mapping.values():
            mapping[index] = known
        elif title:
            ignored.append(title)
    listings: list[ListingRow] = []
    skipped: list[str] = []
    for number, raw in enumerate(table[1:], start=2):
        values = {field: raw[i].strip() for i, field in mapping.items() if i < len(raw)}
        row = listing_row(number, values)
        if isinstance(row, str):
            skipped.append(row)
        else:
            listings.append(row)
    return ImportPreview(
        kind="listings",
        filename=filename,
        columns={header[i]: field for i, field in mapping.items()},
        ignored_columns=ignored,
        rows=[],
        listings=listings,
        skipped=skipped,
    )


def _leads_preview(filename: str, table: list[list[str]]) -> ImportPreview:
    header = table[0]
    mapping: dict[int, Field] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        known = COLUMNS.get(_header(title))
        if known is not None and known not in mapping.values():
            mapping[index] = known
        elif title:
            ignored.append(title)
    if not {"name", "first_name", "last_name"} & set(mapping.values()):
        raise Invalid(
            "no_name_column",
            "no column with a name (Name, Vorname, Nachname) or a listing (Titel, Straße)",
            "file",
        )
    rows: list[ImportRow] = []
    skipped: list[str] = []
    for number, raw in enumerate(table[1:], start=2):
        values: dict[Field, str] = {
            field: raw[index].strip() for index, field in mapping.items() if index < len(raw)
        }
        name = values.get("name") or " ".join(
            part for part in (values.get("first_name"), values.get("last_name")) if part
        )
        if not name:
            skipped.append(f"Zeile {number}: kein Name")
            continue
        locale = values.get("locale", "").lower()
        rows.append(
            ImportRow(
                line=number,
                name=name[:200],
                email=values.get("email") or None,
                phone=values.get("phone") or None,
                message=values.get("message", "")[:20_000],
                financing=_financing(values.get("financing", "")),
                budget_max_eur=_budget(values.get("budget", "")),
                locale="en" if locale.startswith(("en", "eng")) else "de",
            )
        )
    return ImportPreview(
        filename=filename,
        columns={header[i]: field for i, field in mapping.items()},
        ignored_columns=ignored,
        rows=rows,
        skipped=skipped,
    )


async def execute_import(apis: PlatformApis, caller: Caller, arguments: dict[str, Any]) -> Any:
    """Create each row as a lead (then its financing and budget, which only an edit takes)."""
    created: list[str] = []
    failed: list[dict[str, Any]] = []
    for raw in arguments["rows"]:
        row = ImportRow.model_validate(raw)
        try:
            lead = await apis.call(
                caller,
                "leads",
                "POST",
                "/leads",
                json={
                    "name": row.name,
                    "email": row.email,
                    "phone": row.phone,
                    "message": row.message,
                    "locale": row.locale,
                },
            )
            changes = {
                k: v
                for k, v in {
                    "financing": row.financing,
                    "budget_max_eur": row.budget_max_eur,
                }.items()
                if v is not None
            }
            if changes:
                await apis.call(caller, "leads", "PATCH", f"/leads/{lead['id']}", json=changes)
            created.append(lead["id"])
        except ServiceError as exc:
            failed.append({"line": row.line, "error": exc.message})
    return {"created": len(created), "lead_ids": created, "failed": failed}


async def undo_import(
    apis: PlatformApis, caller: Caller, arguments: dict[str, Any], result: Any
) -> Any:
    """The imported leads erased again (each through the leads API, as the user)."""
    erased = 0
    for lead_id in result["lead_ids"]:
        try:
            await apis.call(caller, "leads", "DELETE", f"/leads/{lead_id}")
            erased += 1
        except ServiceError as exc:
            if exc.status != 404:
                raise
    return {"erased": erased}
