"""From a portal's inquiry email to an `Inquiry`: ImmoScout24 (with its OpenImmo-Feedback XML
attachment when present), immowelt, Kleinanzeigen, Willhaben, and a generic parser for any
other sender (the agent's own contact form, a direct mail).

Every portal lays its inquiry out as labelled fields ("Name: …", "Telefon: …", or a two-column
HTML table, which `mail.html_to_text` renders the same way); the portals differ in their labels,
their listing ids and their footers. One label engine reads them all; each portal contributes
its listing-id pattern and sender markers. What the labels leave open (financing, time frame,
budget, viewing wishes) is inferred from the free text in German and English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeXML  # type: ignore[import-untyped]

from pix_leads.fields import (
    BUDGET_CONTEXT,
    CALLBACK,
    FOOTER,
    HOUSEHOLD_COUNT,
    HOUSEHOLD_KIND,
    PHONE_IN_TEXT,
    VIEWING,
    financing_of,
    labelled_fields,
    locale_of,
    money,
    time_frame_of,
)
from pix_leads.mail import ReadMail, is_auto_reply, is_bounce, is_machine_generated

PORTALS = ("immoscout24", "immowelt", "kleinanzeigen", "willhaben")


class NotAnInquiry(Exception):
    """The mail is an auto-reply or a bounce: recorded, never a lead."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Unparseable(Exception):
    """Nothing that identifies a person could be read: the lead needs a human."""


@dataclass
class Inquiry:
    source: str = "email"
    salutation: str | None = None
    name: str = ""
    email: str | None = None
    phone: str | None = None
    message: str = ""
    portal_listing_id: str | None = None
    listing_reference: str | None = None
    listing_title: str | None = None
    requested_viewing: bool = False
    requested_callback: bool = False
    financing: str = "unknown"
    time_frame: str = "unknown"
    budget_min_eur: int | None = None
    budget_max_eur: int | None = None
    household: str | None = None
    locale: str = "de"
    property_type: str | None = None
    marketing: str | None = None
    rooms_min: float | None = None
    area_min_m2: float | None = None
    postcodes: list[str] = field(default_factory=list)
    city: str | None = None
    street: str | None = None
    # Where a number without country code is most likely from (AT for Willhaben, the TLD).
    phone_region: str | None = None


# --- which portal --------------------------------------------------------------------------

_PORTAL_DOMAINS = {
    "immoscout24": ("immobilienscout24.de", "immoscout24.de", "immoscout24.at", "is24.de"),
    "immowelt": ("immowelt.de", "immowelt.at", "immonet.de"),
    "kleinanzeigen": ("kleinanzeigen.de", "ebay-kleinanzeigen.de"),
    "willhaben": ("willhaben.at",),
}
_LISTING_ID = {
    "immoscout24": re.compile(
        r"(?:scout-?id|immobilienscout24-id|objekt-id|expose[- ]?id)\s*[:#]?\s*(\d{6,12})"
        r"|expose/(\d{6,12})",
        re.IGNORECASE,
    ),
    "immowelt": re.compile(
        r"(?:online-id|immowelt-id|objekt-id)\s*[:#]?\s*([A-Za-z0-9]{5,12})"
        r"|expose/([A-Za-z0-9]{5,12})",
        re.IGNORECASE,
    ),
    "kleinanzeigen": re.compile(
        r"(?:anzeigen-?nr\.?|anzeigennummer|anzeigen-id)\s*[:#]?\s*(\d{6,12})"
        r"|s-anzeige/[^\s/]+/(\d{6,12})",
        re.IGNORECASE,
    ),
    "willhaben": re.compile(
        r"(?:willhaben-code|anzeigencode|anzeigen-code)\s*[:#]?\s*(\d{6,12})"
        r"|/d/[^\s]*?-(\d{6,12})/?",
        re.IGNORECASE,
    ),
}


def _portal_of(mail: ReadMail, text: str, has_feedback_xml: bool) -> str | None:
    if has_feedback_xml:
        return "immoscout24"
    addresses = [mail.from_addr, mail.reply_to] + [m.from_addr for m in mail.embedded]
    for portal, domains in _PORTAL_DOMAINS.items():
        if any(a.endswith(domains) for a in addresses if a):
            return portal
    # A forward keeps the portal's sender in its quoted header lines.
    for line in _forward_headers(text):
        for portal, domains in _PORTAL_DOMAINS.items():
            if any(d in line for d in domains):
                return portal
    lowered = text.lower()
    for portal, domains in _PORTAL_DOMAINS.items():
        if any(d in lowered for d in domains):
            return portal
    return None


_FORWARD_MARKER = re.compile(
    r"^[\s>]*(-{3,}\s*(forwarded message|weitergeleitete nachricht|original message|"
    r"ursprüngliche nachricht)\s*-{3,}|anfang der weitergeleiteten (nachricht|e-mail):?|"
    r"begin forwarded message:?)\s*$",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(r"^[\s>]*(von|from|absender)\s*:\s*(.+)$", re.IGNORECASE)


def _forward_headers(text: str) -> list[str]:
    return [m.group(2).lower() for m in map(_HEADER_LINE.match, text.splitlines()) if m]


def _innermost(text: str) -> str:
    """The forwarded original of a (possibly twice) forwarded mail, without quote marks."""
    lines = [re.sub(r"^(\s*>)+ ?", "", line) for line in text.splitlines()]
    start = 0
    for index, line in enumerate(lines):
        if _FORWARD_MARKER.match(line):
            start = index + 1
    return "\n".join(lines[start:])


_KLEINANZEIGEN_SENDER = re.compile(r"^nachricht von (.+?):\s*$", re.IGNORECASE | re.MULTILINE)


# --- the parse -----------------------------------------------------------------------------


def classify(mail: ReadMail, envelope_from: str | None) -> str | None:
    """`bounce` or `auto_reply` for mails that must never become leads, None otherwise."""
    if is_bounce(mail, envelope_from):
        return "bounce"
    if _portal_of(mail, mail.all_text(), _feedback_xml(mail) is not None):
        return None
    if is_auto_reply(mail):
        return "auto_reply"
    return None


def parse_inquiry(mail: ReadMail, *, envelope_from: str | None = None) -> Inquiry:
    """The inquiry in `mail`; raises NotAnInquiry or Unparseable."""
    kind = classify(mail, envelope_from)
    if kind:
        raise NotAnInquiry(kind)
    text = mail.all_text()
    xml = _feedback_xml(mail)
    portal = _portal_of(mail, text, xml is not None)
    if portal is None and is_machine_generated(mail):
        # A machine's mail that no portal sent (a newsletter, a system notice).
        raise NotAnInquiry("auto_reply")
    inquiry = Inquiry(source=portal or "email")
    if xml is not None:
        _from_feedback_xml(xml, inquiry)
    _from_text(_innermost(text), inquiry, portal)
    if not inquiry.email:
        inquiry.email = _sender_address(mail, portal)
    if not inquiry.name or portal == "kleinanzeigen":
        # Kleinanzeigen's From ("Erika M. über Kleinanzeigen") says more than its body.
        inquiry.name = _sender_name(mail, portal) or inquiry.name
    if not inquiry.listing_title:
        inquiry.listing_title = _title_from_subject(mail.subject)
    facts = "\n".join([inquiry.message, text])
    if inquiry.financing == "unknown":
        inquiry.financing = financing_of(inquiry.message)
    if inquiry.time_frame == "unknown":
        inquiry.time_frame = time_frame_of(inquiry.message)
    if inquiry.budget_max_eur is None:
        budget = BUDGET_CONTEXT.search(inquiry.message)
        inquiry.budget_max_eur = money(budget.group(2)) if budget else None
    inquiry.requested_viewing = inquiry.requested_viewing or bool(VIEWING.search(inquiry.message))
    inquiry.requested_callback = inquiry.requested_callback or bool(
        CALLBACK.search(inquiry.message)
    )
    if inquiry.household is None:
        household = HOUSEHOLD_COUNT.search(inquiry.message) or HOUSEHOLD_KIND.search(
            inquiry.message
        )
        inquiry.household = household.group(0) if household else None
    if not inquiry.phone:
        phone = PHONE_IN_TEXT.search(inquiry.message)
        inquiry.phone = phone.group(1).strip() if phone else None
    inquiry.phone_region = _region_hint(inquiry, mail)
    inquiry.locale = locale_of(inquiry.message or facts)
    if not (inquiry.email or inquiry.phone):
        raise Unparseable("no email address or phone number found")
    return inquiry


def _region_hint(inquiry: Inquiry, mail: ReadMail) -> str | None:
    if inquiry.source == "willhaben":
        return "AT"
    for address in (inquiry.email or "", mail.from_addr):
        if address.endswith(".at"):
            return "AT"
        if address.endswith(".ch"):
            return "CH"
    return None


def _title_from_subject(subject: str) -> str | None:
    match = re.search(r"[\"„“»](.+?)[\"“”«]", subject)
    return match.group(1).strip()[:300] if match else None


_NO_REPLY = re.compile(r"^(no-?reply|noreply|do-?not-?reply|kontakt|service|info|mailer)[@.+-]")


def _sender_address(mail: ReadMail, portal: str | None) -> str | None:
    """Whom an answer reaches when the body names no address: the portal's reply relay
    (Kleinanzeigen), or the sender of a direct mail."""
    for candidate in (mail.reply_to, mail.from_addr):
        if not candidate or _NO_REPLY.match(candidate):
            continue
        if portal is None or portal == "kleinanzeigen":
            return candidate
    return None


def _sender_name_text(header: str) -> str:
    return _sender_name_of(parseaddr(header)[0])


def _sender_name_of(name: str) -> str:
    relay = re.match(r"^(.+?)\s+(über|via)\s+\w+", name, re.IGNORECASE)
    return relay.group(1).strip() if relay else ""


def _sender_name(mail: ReadMail, portal: str | None) -> str:
    name = mail.from_name
    # Kleinanzeigen writes "Erika M. über Kleinanzeigen"; other portals send as themselves.
    relay = re.match(r"^(.+?)\s+(über|via)\s+\w+", name)
    if relay:
        return relay.group(1).strip()
    if portal is None:
        return name
    return ""


def _from_text(text: str, inquiry: Inquiry, portal: str | None) -> None:
    fields = labelled_fields(text)
    first, last = fields.get("first_name", ""), fields.get("last_name", "")
    if not inquiry.name:
        inquiry.name = fields.get("name") or f"{first} {last}".strip()
    inquiry.salutation = inquiry.salutation or _clean_salutation(fields.get("salutation"))
    if not inquiry.email and fields.get("email"):
        address = parseaddr(fields["email"])[1] or fields["email"]
        inquiry.email = address.strip().lower() if "@" in address else None
    inquiry.phone = inquiry.phone or fields.get("phone")
    if not inquiry.message and fields.get("message"):
        inquiry.message = fields["message"].strip()
    inquiry.listing_reference = inquiry.listing_reference or fields.get("reference")
    inquiry.listing_title = inquiry.listing_title or fields.get("title")
    if not inquiry.portal_listing_id:
        inquiry.portal_listing_id = _portal_id(fields.get("portal_id"), text, portal)
    if "financing" in fields and inquiry.financing == "unknown":
        inquiry.financing = financing_of(fields["financing"])
    if "time_frame" in fields and inquiry.time_frame == "unknown":
        inquiry.time_frame = time_frame_of(fields["time_frame"])
        if inquiry.time_frame == "unknown" and re.search(r"\d{1,2}\.\d{1,2}\.\d{2,4}", text):
            inquiry.time_frame = "3_months"
    if "budget" in fields and inquiry.budget_max_eur is None:
        inquiry.budget_max_eur = money(fields["budget"])
    if "household" in fields:
        inquiry.household = inquiry.household or fields["household"][:200]
    wishes = " ".join(fields.get(k, "") for k in ("viewing", "callback", "contact_wish")).lower()
    if re.search(r"besichtig|viewing|ja\b|yes\b", fields.get("viewing", "").lower() or wishes):
        inquiry.requested_viewing = "nein" not in fields.get("viewing", "").lower()
    if re.search(r"rückruf|anruf|callback|call|ja\b|yes\b", fields.get("callback", "") or wishes):
        inquiry.requested_callback = "nein" not in fields.get("callback", "").lower()
    inquiry.street = inquiry.street or fields.get("street")
    if "postcode_city" in fields:
        match = re.match(r"^\s*(\d{4,5})\s+(.+)$", fields["postcode_city"])
        if match:
            inquiry.city = inquiry.city or match.group(2).strip()
    if portal == "kleinanzeigen":
        _kleinanzeigen(text, inquiry)
    if not inquiry.message:
        inquiry.message = _unlabelled_message(text)


def _kleinanzeigen(text: str, inquiry: Inquiry) -> None:
    """Kleinanzeigen sends "Nachricht von <first name>:" and the words, from a relay address
    that reaches the person (which a forward keeps in its quoted header)."""
    sender = _KLEINANZEIGEN_SENDER.search(text)
    if sender and not inquiry.message:
        inquiry.name = inquiry.name or sender.group(1).strip()
        inquiry.message = _unlabelled_message(text[sender.end() :])
    if not inquiry.email:
        for line in _forward_headers(text):
            address = parseaddr(line)[1]
            if address.endswith("kleinanzeigen.de") and not _NO_REPLY.match(address):
                inquiry.email = address
                inquiry.name = inquiry.name or _sender_name_text(line)


def _unlabelled_message(text: str) -> str:
    """A direct mail has no labels: its own words are the message."""
    kept: list[str] = []
    for line in text.splitlines():
        if FOOTER.match(line) or _FORWARD_MARKER.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()[:5000]


def _clean_salutation(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    return value[:40] if value.lower() in ("frau", "herr", "mr", "mrs", "ms", "divers") else None


def _portal_id(labelled: str | None, text: str, portal: str | None) -> str | None:
    if labelled:
        match = re.search(r"[A-Za-z0-9]{5,12}", labelled)
        if match:
            return match.group(0)
    if portal is None:
        return None
    found = _LISTING_ID[portal].search(text)
    if not found:
        return None
    return next(group for group in found.groups() if group)


# --- OpenImmo-Feedback (ImmoScout24's CRM attachment) ---------------------------------------


def _feedback_xml(mail: ReadMail) -> Element | None:
    candidates = list(mail.attachments)
    for inner in mail.embedded:
        candidates += inner.attachments
    for attachment in candidates:
        looks_xml = attachment.filename.lower().endswith(".xml") or "xml" in attachment.content_type
        if not looks_xml or b"openimmo_feedback" not in attachment.data[:4000]:
            continue
        root = _parse_xml(attachment.data)
        if root is not None:
            return root
    return None


def _parse_xml(data: bytes) -> Element | None:
    try:
        root: Element = SafeXML.fromstring(data)
    except Exception:  # a damaged attachment: the text body still has the inquiry
        return None
    return root


def _xml_text(node: Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path)
    return (found.text or "").strip() if found is not None else ""


def _from_feedback_xml(root: Element, inquiry: Inquiry) -> None:
    """OpenImmo-Feedback 1.2.x: `objekt` carries the portal's and the agent's object ids,
    `interessent` the person and their request."""
    objekt = root.find("objekt")
    person = objekt.find("interessent") if objekt is not None else None
    inquiry.portal_listing_id = (
        _xml_text(objekt, "portal_obj_id") or _xml_text(objekt, "portal_unique_id") or None
    )
    inquiry.listing_reference = _xml_text(objekt, "oobj_id") or None
    inquiry.listing_title = _xml_text(objekt, "bezeichnung") or None
    if person is None:
        return
    inquiry.salutation = _clean_salutation(_xml_text(person, "anrede"))
    first, last = _xml_text(person, "vorname"), _xml_text(person, "nachname")
    inquiry.name = f"{first} {last}".strip()
    inquiry.email = _xml_text(person, "email").lower() or None
    inquiry.phone = _xml_text(person, "tel") or _xml_text(person, "handy") or None
    inquiry.message = _xml_text(person, "anfrage")
    inquiry.street = _xml_text(person, "strasse") or None
    inquiry.city = _xml_text(person, "ort") or None
    wish = _xml_text(person, "wunsch").upper()
    inquiry.requested_viewing = "BESICHTIG" in wish
    inquiry.requested_callback = "RUECKRUF" in wish or "RÜCKRUF" in wish
