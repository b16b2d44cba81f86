"""OpenImmo 1.2.7b: `openimmo.xml` plus the web renditions in one ZIP, as CRMs import it.

Element order follows the standard's sequences (openimmo_127b.xsd):
  openimmo: uebertragung, anbieter
  anbieter: firma, openimmo_anid, immobilie
  immobilie: objektkategorie, geo, kontaktperson, flaechen, freitexte, anhaenge, verwaltung_techn
  objektkategorie: nutzungsart, vermarktungsart, objektart
  flaechen: wohnflaeche, …, anzahl_zimmer
  freitexte: objekttitel, ausstatt_beschr, objektbeschreibung
  anhang: anhangtitel, format, daten/pfad
  verwaltung_techn: objektnr_extern, aktion, openimmo_obid, kennung_ursprung, stand_vom, sprache
The transfer is `umfang="TEIL"` (this one object) and `aktion aktionart="CHANGE"`, so an import
updates or creates this object and never removes the agency's others. The order's facts fill
`objektkategorie` (its property type as `objektart`, sale or rent as `vermarktungsart`), `geo`
(the structured address; the one-line address parsed for orders placed before it travelled)
and `flaechen`; the shoot order knows no price, so `preise` is left to the CRM. An order
without facts keeps the neutral defaults (residential, for sale, `sonstige`).
"""

from __future__ import annotations

import io
import zipfile
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from pix_export.formats.base import ImageSource, Photo, RenderedFile, Snapshot, truncate
from pix_export.formats.listing import feature_names, listing_title, parse_address

OPENIMMO_VERSION = "1.2.7b"
ANHANGTITEL_MAX = 30
IMMOBILIE_ORDER = (
    "objektkategorie",
    "geo",
    "kontaktperson",
    "weitere_adresse",
    "preise",
    "bieterverfahren",
    "versteigerung",
    "flaechen",
    "ausstattung",
    "zustand_angaben",
    "bewertung",
    "infrastruktur",
    "freitexte",
    "anhaenge",
    "verwaltung_objekt",
    "verwaltung_techn",
)
# objektart's element and its type attribute per property type of the order form. The form
# knows no more detail (floor, house style, office or shop), so the type says KEINE_ANGABE where
# the standard has it; commercial space goes in as office space (buero_praxen), the agent
# refines it in the CRM.
OBJEKTART = {
    "apartment": ("wohnung", "wohnungtyp", "KEINE_ANGABE"),
    "house": ("haus", "haustyp", "KEINE_ANGABE"),
    "commercial": ("buero_praxen", "buero_typ", "BUEROFLAECHE"),
    "land": ("grundstueck", "grundst_typ", "WOHNEN"),
}
ISO_LAND = {"DE": "DEU", "AT": "AUT", "CH": "CHE"}


def anhang_gruppe(photo: Photo, cover: Photo | None) -> str:
    if photo is cover:
        return "TITELBILD"
    if photo.is_floor_plan:
        return "GRUNDRISS"
    return "AUSSENANSICHTEN" if photo.is_outside else "INNENANSICHTEN"


def _deliverables(anhaenge: Element, snapshot: Snapshot) -> None:
    """Floor plans as GRUNDRISS, videos as FILM (the file in the ZIP) and FILMLINK (a signed
    download link, for CRMs and portals that take films only by address)."""
    english = snapshot.locale == "en"
    for item in snapshot.deliverables:
        if item.is_floor_plan:
            title = f"{'Floor plan' if english else 'Grundriss'} {item.number}"
            gruppe = "GRUNDRISS"
        else:
            title = f"{'Video tour' if english else 'Videorundgang'} {item.number}"
            gruppe = "FILM"
        anhang = SubElement(anhaenge, "anhang", {"location": "INTERN", "gruppe": gruppe})
        _text(anhang, "anhangtitel", truncate(title, ANHANGTITEL_MAX))
        _text(anhang, "format", item.media_type)
        _text(SubElement(anhang, "daten"), "pfad", item.name)
        if not item.is_floor_plan and item.link:
            link = SubElement(anhaenge, "anhang", {"location": "EXTERN", "gruppe": "FILMLINK"})
            _text(link, "anhangtitel", truncate(title, ANHANGTITEL_MAX))
            _text(link, "format", item.media_type)
            _text(SubElement(link, "daten"), "pfad", item.link)


def _text(parent: Element, tag: str, value: str | None, **attrs: str) -> Element:
    element = SubElement(parent, tag, attrs)
    if value is not None:
        element.text = value
    return element


def _decimal(value: float) -> str:
    """xsd:decimal: a dot, no exponent, no trailing zeros."""
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def _objektkategorie(immobilie: Element, snapshot: Snapshot) -> None:
    facts = snapshot.property_facts
    kategorie = SubElement(immobilie, "objektkategorie")
    commercial = facts.property_type == "commercial"
    SubElement(
        kategorie,
        "nutzungsart",
        {"WOHNEN": str(not commercial).lower(), "GEWERBE": str(commercial).lower()},
    )
    SubElement(
        kategorie,
        "vermarktungsart",
        {"KAUF": str(not facts.for_rent).lower(), "MIETE_PACHT": str(facts.for_rent).lower()},
    )
    objektart = SubElement(kategorie, "objektart")
    if facts.property_type in OBJEKTART:
        tag, attribute, value = OBJEKTART[facts.property_type]
        SubElement(objektart, tag, {attribute: value})
    else:
        SubElement(objektart, "sonstige", {"sonstige_typ": "SONSTIGE"})


def _geo(immobilie: Element, snapshot: Snapshot) -> None:
    facts = snapshot.property_facts
    geo = SubElement(immobilie, "geo")
    parsed = parse_address(snapshot.property_address)
    if facts.has_address:
        _text(geo, "plz", facts.postcode)
        _text(geo, "ort", facts.city)
        _text(geo, "strasse", facts.street)
        if facts.house_number:
            _text(geo, "hausnummer", facts.house_number)
    elif parsed:
        # An order placed before the address travelled in parts: its one line, parsed.
        _text(geo, "plz", parsed["plz"])
        _text(geo, "ort", parsed["ort"])
        _text(geo, "strasse", parsed["strasse"])
        _text(geo, "hausnummer", parsed["hausnummer"])
    else:
        # Unparsed (foreign or free-form) address: keep it whole rather than guess its parts.
        _text(geo, "plz", "")
        _text(geo, "ort", snapshot.property_address or "")
    SubElement(geo, "land", {"iso_land": ISO_LAND.get(facts.country or "DE", "DEU")})


def _flaechen(immobilie: Element, snapshot: Snapshot) -> None:
    facts = snapshot.property_facts
    if facts.living_area_m2 is None and facts.rooms is None:
        return
    flaechen = SubElement(immobilie, "flaechen")
    if facts.living_area_m2 is not None:
        _text(flaechen, "wohnflaeche", _decimal(facts.living_area_m2))
    if facts.rooms is not None:
        _text(flaechen, "anzahl_zimmer", _decimal(facts.rooms))


def build_xml(snapshot: Snapshot) -> bytes:
    english = snapshot.locale == "en"
    lang = "en" if english else "de"
    cover = snapshot.cover
    root = Element("openimmo")
    SubElement(
        root,
        "uebertragung",
        {
            "art": "OFFLINE",
            "umfang": "TEIL",
            "modus": "CHANGE",
            "version": OPENIMMO_VERSION,
            "sendersoftware": "pix.immo",
            "senderversion": "1",
            "timestamp": snapshot.generated_at.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    anbieter = SubElement(root, "anbieter")
    _text(anbieter, "firma", snapshot.provider_firma)
    _text(anbieter, "openimmo_anid", snapshot.provider_anid)
    immobilie = SubElement(anbieter, "immobilie")

    _objektkategorie(immobilie, snapshot)
    _geo(immobilie, snapshot)

    kontakt = SubElement(immobilie, "kontaktperson")
    _text(kontakt, "email_zentrale", snapshot.contact_email or "")
    _text(kontakt, "name", snapshot.contact_name or snapshot.provider_firma)

    _flaechen(immobilie, snapshot)

    freitexte = SubElement(immobilie, "freitexte")
    title_key, text_key = (
        ("title_en", "description_en") if english else ("title_de", "description_de")
    )
    # The listing's title from the order's facts; a photo's title only when the order said
    # nothing about the property.
    title = listing_title(snapshot) or (cover.caption[title_key] if cover is not None else None)
    if title:
        _text(freitexte, "objekttitel", title)
    features = feature_names(snapshot)
    if features:
        _text(freitexte, "ausstatt_beschr", ", ".join(features))
    description = "\n\n".join(
        f"{p.caption[title_key]}: {p.caption[text_key]}" for p in snapshot.photos
    )
    if description:
        _text(freitexte, "objektbeschreibung", description)

    # Cover first: importers that ignore `gruppe` take the first picture as the title picture.
    ordered = ([cover] if cover else []) + [p for p in snapshot.photos if p is not cover]
    anhaenge = SubElement(immobilie, "anhaenge")
    for photo in ordered:
        anhang = SubElement(
            anhaenge,
            "anhang",
            {"location": "INTERN", "gruppe": anhang_gruppe(photo, cover)},
        )
        _text(anhang, "anhangtitel", truncate(photo.caption[title_key], ANHANGTITEL_MAX))
        _text(anhang, "format", "image/jpeg")
        daten = SubElement(anhang, "daten")
        _text(daten, "pfad", photo.image_name)

    _deliverables(anhaenge, snapshot)

    techn = SubElement(immobilie, "verwaltung_techn")
    _text(techn, "objektnr_extern", snapshot.reference or str(snapshot.gallery_id))
    SubElement(techn, "aktion", {"aktionart": "CHANGE"})
    _text(techn, "openimmo_obid", snapshot.gallery_id.hex.upper())
    _text(techn, "kennung_ursprung", "pix.immo")
    _text(techn, "stand_vom", snapshot.generated_at.date().isoformat())
    _text(techn, "sprache", lang)

    indent(root)
    body: bytes = tostring(root, encoding="unicode").encode()
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


class OpenImmo:
    format_id = "openimmo"

    async def render(self, snapshot: Snapshot, images: ImageSource) -> list[RenderedFile]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("openimmo.xml", build_xml(snapshot))
            for photo in snapshot.photos:
                # JPEGs do not compress further; storing them saves CPU on big galleries.
                archive.writestr(
                    zipfile.ZipInfo(photo.image_name), await images(photo), zipfile.ZIP_STORED
                )
            for item in snapshot.deliverables:
                archive.writestr(zipfile.ZipInfo(item.name), await images(item), zipfile.ZIP_STORED)
        return [RenderedFile("openimmo.zip", "openimmo", "application/zip", buffer.getvalue())]


FORMAT = OpenImmo()
