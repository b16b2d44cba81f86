"""Checking an order form: every field at once, so the form can mark all mistakes in one go.

The HTTP layer hands over what the client typed, barely parsed; every rule lives here. Errors
are codes (`required`, `invalid_phone`, …) the web page translates, keyed by field name
(`preferred_slots.0.date` for the date of the first slot).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pix_runtime.errors import Invalid

from pix_orders.catalogue import COUNTRIES, LOCALES, MARKETING, PROPERTY_TYPES, WINDOWS

BERLIN = ZoneInfo("Europe/Berlin")
MAX_SLOTS = 3
# A shoot is booked for the coming months, not years; a far date is a typo (2062 for 2026).
MAX_DAYS_AHEAD = 366
POSTCODE = {"DE": re.compile(r"\d{5}"), "AT": re.compile(r"\d{4}"), "CH": re.compile(r"\d{4}")}
MAX_LENGTH = {
    "contact_name": 200,
    "contact_email": 320,
    "contact_phone": 40,
    "street": 200,
    "house_number": 20,
    "postcode": 10,
    "city": 100,
    "access_notes": 2000,
}
# "1.250,5": thousands grouped with dots, a decimal comma.
GERMAN_GROUPED = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")
AREA_RANGE = (1.0, 100_000.0)
ROOMS_RANGE = (0.5, 100.0)


@dataclass(frozen=True)
class SlotForm:
    date: str | None = None
    window: str | None = None


@dataclass(frozen=True)
class OrderForm:
    """An order as submitted: anything may be missing or wrong."""

    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    street: str | None = None
    house_number: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    property_type: str | None = None
    marketing: str | None = None
    # Text as typed ("94,5", "abc") or a number: a value that is no number is one field error
    # among the others, not a refusal of the whole form.
    living_area_m2: float | str | None = None
    rooms: float | str | None = None
    services: list[str] = field(default_factory=list)
    preferred_slots: list[SlotForm] = field(default_factory=list)
    access_notes: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class Slot:
    date: date
    window: str

    def as_json(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), "window": self.window}


@dataclass(frozen=True)
class ValidOrder:
    """An order that passed every check, normalised (trimmed, E.164 phone, deduplicated)."""

    contact_name: str
    contact_email: str
    contact_phone: str
    street: str
    house_number: str
    postcode: str
    city: str
    country: str
    property_type: str
    marketing: str
    living_area_m2: float | None
    rooms: float | None
    services: list[str]
    preferred_slots: list[Slot]
    access_notes: str
    locale: str


class OrderInvalid(Invalid):
    def __init__(self, fields: dict[str, str]) -> None:
        count = len(fields)
        super().__init__(
            "invalid",
            f"{count} field{'s' if count != 1 else ''} of the order need attention",
            fields=fields,
        )


def today_in_berlin() -> date:
    return datetime.now(BERLIN).date()


def validate_order(
    form: OrderForm, *, known_services: set[str], today: date | None = None
) -> ValidOrder:
    """The normalised order, or `OrderInvalid` naming every bad field with its code."""
    errors: dict[str, str] = {}
    today = today or today_in_berlin()

    def text(name: str, value: str | None, *, required: bool = True) -> str:
        cleaned = " ".join((value or "").split()) if name != "access_notes" else (value or "")
        cleaned = cleaned.strip()
        if required and not cleaned:
            errors[name] = "required"
        elif len(cleaned) > MAX_LENGTH[name]:
            errors[name] = "too_long"
        return cleaned

    contact_name = text("contact_name", form.contact_name)
    email = text("contact_email", form.contact_email)
    if email and "contact_email" not in errors:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["contact_email"] = "invalid_email"

    country = (form.country or "").strip().upper()
    if not country:
        errors["country"] = "required"
    elif country not in COUNTRIES:
        errors["country"] = "country_unsupported"

    phone = text("contact_phone", form.contact_phone)
    if phone and "contact_phone" not in errors:
        normalised = normalise_phone(phone, country if country in COUNTRIES else "DE")
        if normalised is None:
            errors["contact_phone"] = "invalid_phone"
        else:
            phone = normalised

    street = text("street", form.street)
    house_number = text("house_number", form.house_number)
    city = text("city", form.city)
    postcode = text("postcode", form.postcode).replace(" ", "")
    if (
        postcode
        and "postcode" not in errors
        and country in POSTCODE
        and not POSTCODE[country].fullmatch(postcode)
    ):
        errors["postcode"] = "postcode_format"

    property_type = (form.property_type or "").strip()
    if not property_type:
        errors["property_type"] = "required"
    elif property_type not in PROPERTY_TYPES:
        errors["property_type"] = "invalid_choice"

    marketing = (form.marketing or "").strip()
    if not marketing:
        errors["marketing"] = "required"
    elif marketing not in MARKETING:
        errors["marketing"] = "invalid_choice"

    area = _number("living_area_m2", form.living_area_m2, errors)
    if area is None:
        # Land has no living area; every building does.
        if property_type and property_type != "land" and "living_area_m2" not in errors:
            errors["living_area_m2"] = "required"
    elif not AREA_RANGE[0] <= area <= AREA_RANGE[1]:
        errors["living_area_m2"] = "out_of_range"
    rooms = _number("rooms", form.rooms, errors)
    if rooms is not None and (
        not ROOMS_RANGE[0] <= rooms <= ROOMS_RANGE[1] or (rooms * 2) % 1 != 0
    ):
        errors["rooms"] = "out_of_range"

    services = list(dict.fromkeys(key.strip() for key in form.services))
    if not services:
        errors["services"] = "no_service"
    elif any(key not in known_services for key in services):
        errors["services"] = "unknown_service"

    slots = _slots(form.preferred_slots, today, errors)

    access_notes = text("access_notes", form.access_notes, required=False)
    locale = (form.locale or "de").strip()
    if locale not in LOCALES:
        errors["locale"] = "invalid_choice"

    if errors:
        raise OrderInvalid(errors)
    return ValidOrder(
        contact_name=contact_name,
        contact_email=email,
        contact_phone=phone,
        street=street,
        house_number=house_number,
        postcode=postcode,
        city=city,
        country=country,
        property_type=property_type,
        marketing=marketing,
        living_area_m2=round(area, 2) if area is not None else None,
        rooms=rooms,
        services=services,
        preferred_slots=slots,
        access_notes=access_notes,
        locale=locale,
    )


def _number(name: str, value: float | str | None, errors: dict[str, str]) -> float | None:
    """A number from the form: German decimal commas read, blank is None, anything else that
    is no finite number is `not_a_number`."""
    if value is None or isinstance(value, float | int):
        number = None if value is None else float(value)
    else:
        raw = value.strip().replace(" ", "")
        if not raw:
            return None
        if GERMAN_GROUPED.fullmatch(raw):
            raw = raw.replace(".", "").replace(",", ".")
        elif raw.count(",") == 1 and "." not in raw:
            raw = raw.replace(",", ".")
        try:
            number = float(raw)
        except ValueError:
            errors[name] = "not_a_number"
            return None
    if number is not None and not math.isfinite(number):
        errors[name] = "not_a_number"
        return None
    return number


def _slots(forms: list[SlotForm], today: date, errors: dict[str, str]) -> list[Slot]:
    if not forms:
        errors["preferred_slots"] = "no_slot"
        return []
    if len(forms) > MAX_SLOTS:
        errors["preferred_slots"] = "too_many_slots"
        return []
    slots: list[Slot] = []
    for index, form in enumerate(forms):
        prefix = f"preferred_slots.{index}"
        day: date | None = None
        raw = (form.date or "").strip()
        if not raw:
            errors[f"{prefix}.date"] = "required"
        else:
            try:
                day = date.fromisoformat(raw) if len(raw) == 10 else None
            except ValueError:
                day = None
            if day is None:
                errors[f"{prefix}.date"] = "invalid_date"
            elif day <= today:
                errors[f"{prefix}.date"] = "date_in_past"
            elif day > today + timedelta(days=MAX_DAYS_AHEAD):
                errors[f"{prefix}.date"] = "out_of_range"
        window = (form.window or "").strip()
        if not window:
            errors[f"{prefix}.window"] = "required"
        elif window not in WINDOWS:
            errors[f"{prefix}.window"] = "invalid_window"
        if day is not None and window in WINDOWS:
            slots.append(Slot(day, window))
    return slots


def normalise_phone(raw: str, region: str) -> str | None:
    """The number in E.164 (+4930…), or None; a national number is read in `region`."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
