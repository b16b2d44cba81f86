"""What an inquiry's text says: labelled fields ("Telefon: …", in German and English, as the
portals lay them out) and the facts in free text (financing, time frame, budget, viewing and
callback wishes, household, language).
"""

from __future__ import annotations

import re

# --- labelled fields -------------------------------------------------------------------------

_LABELS: dict[str, str] = {
    "anrede": "salutation",
    "salutation": "salutation",
    "name": "name",
    "ihr name": "name",
    "vor- und nachname": "name",
    "vollständiger name": "name",
    "full name": "name",
    "interessent": "name",
    "absender der anfrage": "name",
    "vorname": "first_name",
    "first name": "first_name",
    "nachname": "last_name",
    "last name": "last_name",
    "e-mail": "email",
    "email": "email",
    "e-mail-adresse": "email",
    "e-mail adresse": "email",
    "mail": "email",
    "email address": "email",
    "telefon": "phone",
    "telefonnummer": "phone",
    "tel": "phone",
    "tel.": "phone",
    "mobil": "phone",
    "handy": "phone",
    "mobilnummer": "phone",
    "telefon (mobil)": "phone",
    "phone": "phone",
    "phone number": "phone",
    "telephone": "phone",
    "nachricht": "message",
    "ihre nachricht": "message",
    "nachricht des interessenten": "message",
    "anfrage": "message",
    "anfragetext": "message",
    "mitteilung": "message",
    "message": "message",
    "your message": "message",
    "kommentar": "message",
    "objektnummer": "reference",
    "ihre objektnummer": "reference",
    "objekt-nr.": "reference",
    "objekt-nr": "reference",
    "objektnr": "reference",
    "ihre objekt-nr.": "reference",
    "referenz": "reference",
    "referenznummer": "reference",
    "reference": "reference",
    "kundenreferenz": "reference",
    "objekt": "title",
    "immobilie": "title",
    "anzeige": "title",
    "objekttitel": "title",
    "titel": "title",
    "property": "title",
    "listing": "title",
    "scout-id": "portal_id",
    "immobilienscout24-id": "portal_id",
    "online-id": "portal_id",
    "anzeigennummer": "portal_id",
    "anzeigen-nr.": "portal_id",
    "anzeigennr.": "portal_id",
    "anzeigen-id": "portal_id",
    "willhaben-code": "portal_id",
    "anzeigencode": "portal_id",
    "objekt-id": "portal_id",
    "finanzierung": "financing",
    "finanzierungsstatus": "financing",
    "financing": "financing",
    "einzugstermin": "time_frame",
    "einzug": "time_frame",
    "einzugsdatum": "time_frame",
    "umzugszeitpunkt": "time_frame",
    "kaufzeitpunkt": "time_frame",
    "zeitrahmen": "time_frame",
    "geplanter einzug": "time_frame",
    "move-in date": "time_frame",
    "time frame": "time_frame",
    "budget": "budget",
    "max. kaufpreis": "budget",
    "kaufpreis bis": "budget",
    "max. miete": "budget",
    "maximale miete": "budget",
    "preisvorstellung": "budget",
    "haushaltsgröße": "household",
    "haushalt": "household",
    "personen im haushalt": "household",
    "anzahl personen": "household",
    "anzahl der personen": "household",
    "household": "household",
    "besichtigung": "viewing",
    "besichtigungswunsch": "viewing",
    "besichtigungstermin": "viewing",
    "viewing": "viewing",
    "rückruf": "callback",
    "rückrufwunsch": "callback",
    "callback": "callback",
    "kontaktwunsch": "contact_wish",
    "wunsch": "contact_wish",
    "straße": "street",
    "strasse": "street",
    "street": "street",
    "plz / ort": "postcode_city",
    "plz/ort": "postcode_city",
    "plz, ort": "postcode_city",
    "wohnort": "postcode_city",
    "postleitzahl": "postcode",
    "plz": "postcode",
    "ort": "city",
}
_MULTILINE = {"message"}
_LABEL_LINE = re.compile(r"^\s*\*?\s*([A-Za-zÄÖÜäöüß0-9 ./()\-]{2,40}?)\s*\*?\s*:\s*(.*)$")
FOOTER = re.compile(
    r"^\s*(--\s*$|ihr (immobilienscout24|immoscout24|immowelt|willhaben)|dein kleinanzeigen|"
    r"ihr kleinanzeigen|mit freundlichen grüßen,? ?ihr|diese e-mail wurde|"
    r"bitte antworten sie|antworten sie direkt|hinweis:|datenschutz|impressum|"
    r"you received this|this email was sent|_{5,}|={5,})",
    re.IGNORECASE,
)


def labelled_fields(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    current: str | None = None
    buffer: list[str] = []

    def close() -> None:
        nonlocal current
        if current is not None:
            value = "\n".join(buffer).strip()
            if value and current not in found:
                found[current] = value
        current = None
        buffer.clear()

    for line in text.splitlines():
        match = _LABEL_LINE.match(line)
        key = _LABELS.get(match.group(1).strip().lower()) if match else None
        if match and key:
            close()
            current = key
            buffer.append(match.group(2).strip())
            continue
        if current in _MULTILINE:
            if FOOTER.match(line):
                close()
                continue
            buffer.append(line.rstrip())
            continue
        if current is not None and not buffer[0] and line.strip():
            # "Label:" on one line and its value on the next (a common text layout).
            buffer[0] = line.strip()
            close()
            continue
        close()
    close()
    return found


# --- free-text facts ---------------------------------------------------------------------------

_FINANCING_CONFIRMED = re.compile(
    r"finanzierung(sbestätigung)?\s+(ist\s+|liegt\s+)?(gesichert|bestätigt|vor|steht|geklärt)|"
    r"finanzierungsbestätigung\s+(liegt\s+)?vor|finanzierungszusage|eigenkapital\s+vorhanden|"
    r"barzahl|ohne finanzierung|financing (is )?(secured|confirmed|approved)|"
    r"mortgage (is )?(approved|pre-?approved)|cash buyer|^(ja|gesichert|bestätigt|confirmed|yes)\b",
    re.IGNORECASE | re.MULTILINE,
)
_FINANCING_PROGRESS = re.compile(
    r"finanzierung\s+(ist\s+|wird\s+)?(in (klärung|prüfung|bearbeitung)|geprüft|angefragt)|"
    r"finanzierung[^.\n]{0,40}(geprüft|in klärung|in prüfung|beantragt|angefragt)|"
    r"bank(termin|gespräch)|in (klärung|prüfung)|financing (is )?in progress|"
    r"(talking|speaking) to (the|my|our) bank|^(in klärung|in prüfung|in progress)\b",
    re.IGNORECASE | re.MULTILINE,
)
_FINANCING_NONE = re.compile(
    r"^(nein|keine|no|none)\b|keine finanzierung|noch keine finanzierung|no financing",
    re.IGNORECASE | re.MULTILINE,
)
_TIME_IMMEDIATE = re.compile(
    r"\b(ab sofort|sofort|schnellstmöglich|so schnell wie möglich|asap|immediately|"
    r"zum nächstmöglichen|as soon as possible|dringend|urgent)\b",
    re.IGNORECASE,
)
_TIME_3M = re.compile(
    r"\b(in|innerhalb( von)?|within)\s+(1|2|3|einem|zwei|drei|one|two|three)(\s*-\s*\d)?\s+"
    r"(monat(en)?|months?)|nächsten monat|next month|1\s*-\s*3 monate",
    re.IGNORECASE,
)
_TIME_6M = re.compile(
    r"\b(in|innerhalb( von)?|within)\s+([4-6]|vier|fünf|sechs|four|five|six|einem halben jahr|"
    r"half a year)(\s+(monat(en)?|months?))?|3\s*-\s*6 monate",
    re.IGNORECASE,
)
_TIME_LATER = re.compile(
    r"\b(später|in einem jahr|nächstes jahr|next year|mehr als 6 monate|> ?6 monate|"
    r"no rush|keine eile|zeit lassen)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:[.\s']\d{3})+|\d+(?:[.,]\d+)?)\s*(k|tsd\.?|tausend|mio\.?|million)?\s*"
    r"(€|eur|euro)?",
    re.IGNORECASE,
)
BUDGET_CONTEXT = re.compile(
    r"(budget|bis zu|bis maximal|maximale miete|maximal|max\.|höchstens|kaufpreis bis|up to|"
    r"at most|preisvorstellung|warmmiete bis|miete bis)"
    r"(?:\s*(?:von|liegt bei|is|of|:|bis zu|bis|up to|ca\.?|circa|maximal|around|about))*\s*"
    r"(\d[\d.,']*(?:\s\d{3})*\s*(?:k|tsd\.?|tausend|mio\.?|million)?\s*(?:€|eur|euro)?)",
    re.IGNORECASE,
)
VIEWING = re.compile(
    r"besichtig|besichtigungstermin|anschauen|ansehen|vor ort sehen|viewing|"
    r"see the (flat|apartment|house|property)|visit the",
    re.IGNORECASE,
)
CALLBACK = re.compile(
    r"rückruf|zurückrufen|rufen sie mich|bitte um anruf|call me|call back|phone me",
    re.IGNORECASE,
)
HOUSEHOLD_COUNT = re.compile(
    r"\b(\d+|ein|eine|zwei|drei|vier|fünf|one|two|three|four|five)\s+"
    r"(personen|erwachsene|kinder(n)?|persons|people|adults|children|kids)\b",
    re.IGNORECASE,
)
HOUSEHOLD_KIND = re.compile(
    r"\b(familie|paar|ehepaar|couple|family|single|alleinstehend|studentin|student|haustier|hund|"
    r"katze|pets?|dog|cat)\b",
    re.IGNORECASE,
)
PHONE_IN_TEXT = re.compile(
    r"(?:tel(?:efon)?\.?|phone|mobil|handy|erreichbar unter)\s*:?\s*(\+?[\d][\d\s/()\-]{6,20}\d)",
    re.IGNORECASE,
)
_ENGLISH = re.compile(
    r"\b(the|and|i am|i'm|we are|interested|would|please|hello|dear|regards|thank you|viewing|"
    r"apartment|flat)\b",
    re.IGNORECASE,
)
_GERMAN = re.compile(
    r"\b(ich|wir|und|die|der|das|sehr geehrte|guten tag|hallo|interesse|wohnung|besichtigung|"
    r"grüße|freundlichen)\b",
    re.IGNORECASE,
)


def money(value: str) -> int | None:
    """`450.000 €`, `450k`, `1,2 Mio.`, `1.250 EUR` → euros."""
    match = _MONEY.search(value)
    if not match:
        return None
    number, unit = match.group(1), (match.group(2) or "").lower()
    digits = re.sub(r"[.\s']", "", number) if re.search(r"[.\s']\d{3}", number) else number
    try:
        amount = float(digits.replace(",", "."))
    except ValueError:
        return None
    if unit.startswith(("k", "tsd", "tausend")):
        amount *= 1_000
    elif unit.startswith(("mio", "million")):
        amount *= 1_000_000
    return int(amount) if 100 <= amount <= 100_000_000 else None


def financing_of(text: str) -> str:
    if _FINANCING_CONFIRMED.search(text):
        return "confirmed"
    if _FINANCING_PROGRESS.search(text):
        return "in_progress"
    if _FINANCING_NONE.search(text):
        return "none"
    return "unknown"


def time_frame_of(text: str) -> str:
    if _TIME_IMMEDIATE.search(text):
        return "immediate"
    if _TIME_3M.search(text):
        return "3_months"
    if _TIME_6M.search(text):
        return "6_months"
    if _TIME_LATER.search(text):
        return "later"
    return "unknown"


def locale_of(text: str) -> str:
    english = len(_ENGLISH.findall(text))
    german = len(_GERMAN.findall(text))
    return "en" if english > german + 1 else "de"
