"""OpenImmo 1.2.7b: `openimmo.xml` plus the web renditions in one ZIP, as CRMs import it.

Element order follows the standard's sequences (openimmo_127b.xsd):
  openimmo: uebertragung, anbieter
  anbieter: firma, openimmo_anid, immobilie
  immobilie: objektkategorie, geo, kontaktperson, freitexte, anhaenge, verwaltung_techn
  freitexte: objekttitel, ausstatt_beschr, objektbeschreibung
  anhang: anhangtitel, format, daten/pfad
  verwaltung_techn: objektnr_extern, aktion, openimmo_obid, kennung_ursprung, stand_vom, sprache
The transfer is `umfang="TEIL"` (this one object) and `aktion aktionart="CHANGE"`, so an import
updates or creates this object and never removes the agency's others. The shoot order knows
neither price nor areas, so `preise`/`flaechen` are left to the CRM; `objektkategorie` carries
neutral defaults (residential, for sale) the agent corrects there.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from pix_export.formats.base import ImageSource, Photo, RenderedFile, Snapshot, truncate

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
_ADDRESS = re.compile(
    r"^\s*(?P<strasse>.+?)\s+(?P<hausnummer>\d+\s*[a-zA-Z]?(?:\s*-\s*\d+\s*[a-zA-Z]?)?)\s*,"
    r"\s*(?P<plz>\d{5})\s+(?P<ort>[^,]+?)\s*(?:,.*)?$"
)


def anhang_gruppe(photo: Photo, cover: Photo | None) -> str:
    if photo is cover:
        return "TITELBILD"
    if photo.is_floor_plan:
        return "GRUNDRISS"
    return "AUSSENANSICHTEN" if photo.is_outside else "INNENANSICHTEN"


def _text(parent: Element, tag: str, value: str | None, **attrs: str) -> Element:
    element = SubElement(parent, tag, attrs)
    if value is not None:
        element.text = value
    return element


def _geo(immobilie: Element, address: str | None) -> None:
    geo = SubElement(immobilie, "geo")
    match = _ADDRESS.match(address or "")
    if match:
        _text(geo, "plz", match["plz"])
        _text(geo, "ort", match["ort"])
        _text(geo, "strasse", match["strasse"])
        _text(geo, "hausnummer", match["hausnummer"])
    else:
        # Unparsed (foreign or free-form) address: keep it whole rather than guess its parts.
        _text(geo, "plz", "")
        _text(geo, "ort", address or "")
    SubElement(geo, "land", {"iso_land": "DEU"})


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

    kategorie = SubElement(immobilie, "objektkategorie")
    SubElement(kategorie, "nutzungsart", {"WOHNEN": "true", "GEWERBE": "false"})
    SubElement(kategorie, "vermarktungsart", {"KAUF": "true", "MIETE_PACHT": "false"})
    objektart = SubElement(kategorie, "objektart")
    SubElement(objektart, "sonstige", {"sonstige_typ": "SONSTIGE"})

    _geo(immobilie, snapshot.property_address)

    kontakt = SubElement(immobilie, "kontaktperson")
    _text(kontakt, "email_zentrale", snapshot.contact_email or "")
    _text(kontakt, "name", snapshot.contact_name or snapshot.provider_firma)

    freitexte = SubElement(immobilie, "freitexte")
    title_key, text_key = (
        ("title_en", "description_en") if english else ("title_de", "description_de")
    )
    if cover is not None:
        _text(freitexte, "objekttitel", cover.caption[title_key])
    features: list[str] = []
    for photo in snapshot.photos:
        for feature in photo.caption.get("features") or []:
            if feature not in features:
                features.append(feature)
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
        return [RenderedFile("openimmo.zip", "openimmo", "application/zip", buffer.getvalue())]


FORMAT = OpenImmo()
