"""The parts of the OpenImmo 1.2.7b schema (openimmo_127b.xsd) our export writes, as a checker.

The official XSD is not redistributable here (and no package on PyPI ships it), so its rules for
the elements we emit are transcribed: each element's children in the order of its xsd:sequence,
the children it requires, and the enumerations of the attributes we set. `problems(root)` lists
every breach; an empty list means the document is valid in these respects, and any element we
emit that is not described here is a breach too (so a new element has to be looked up first).
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

BOOL = {"true", "false", "1", "0"}
DECIMAL = re.compile(r"-?\d+(\.\d+)?")

# element -> (children in sequence order, required children)
SEQUENCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "openimmo": (("uebertragung", "anbieter", "user_defined_simplefield"), ("uebertragung",)),
    "anbieter": (
        ("anbieternr", "firma", "openimmo_anid", "lizenzkennung", "immobilie", "impressum"),
        ("firma", "openimmo_anid"),
    ),
    "immobilie": (
        (
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
        ),
        ("objektkategorie", "geo", "kontaktperson", "verwaltung_techn"),
    ),
    "objektkategorie": (
        ("nutzungsart", "vermarktungsart", "objektart"),
        ("nutzungsart", "vermarktungsart", "objektart"),
    ),
    "geo": (
        (
            "plz",
            "ort",
            "geokoordinaten",
            "strasse",
            "hausnummer",
            "bundesland",
            "land",
            "gemeindecode",
            "flur",
            "flurstueck",
            "gemarkung",
            "etage",
            "anzahl_etagen",
            "lage_im_bau",
            "wohnungsnr",
            "lage_gebiet",
            "regionaler_zusatz",
            "karten_makro",
            "karten_mikro",
            "virtuelletour",
            "luftbildern",
        ),
        ("plz", "ort"),
    ),
    "kontaktperson": (
        (
            "email_zentrale",
            "email_direkt",
            "tel_zentrale",
            "tel_durchw",
            "tel_fax",
            "tel_handy",
            "name",
            "vorname",
            "titel",
            "anrede",
            "position",
            "anrede_brief",
            "firma",
        ),
        ("name",),
    ),
    "flaechen": (
        (
            "wohnflaeche",
            "nutzflaeche",
            "gesamtflaeche",
            "ladenflaeche",
            "lagerflaeche",
            "verkaufsflaeche",
            "freiflaeche",
            "bueroflaeche",
            "bueroteilflaeche",
            "fensterfront",
            "verwaltungsflaeche",
            "gastroflaeche",
            "grz",
            "gfz",
            "bmz",
            "bgf",
            "grundstuecksflaeche",
            "sonstflaeche",
            "anzahl_zimmer",
            "anzahl_schlafzimmer",
            "anzahl_badezimmer",
        ),
        (),
    ),
    "freitexte": (
        (
            "objekttitel",
            "dreizeiler",
            "lage",
            "ausstatt_beschr",
            "objektbeschreibung",
            "sonstige_angaben",
        ),
        (),
    ),
    "anhaenge": (("anhang",), ()),
    "anhang": (("anhangtitel", "format", "check", "daten"), ("format",)),
    "daten": (("pfad", "anhanginhalt"), ()),
    "verwaltung_techn": (
        (
            "objektnr_intern",
            "objektnr_extern",
            "aktion",
            "aktiv_von",
            "aktiv_bis",
            "openimmo_obid",
            "kennung_ursprung",
            "stand_vom",
            "weitergabe_generell",
            "weitergabe_positiv",
            "weitergabe_negativ",
            "gruppen_kennung",
            "master",
            "sprache",
        ),
        ("objektnr_extern", "openimmo_obid", "kennung_ursprung", "stand_vom"),
    ),
}
# Leaf elements (text or attributes only).
LEAVES = {
    "uebertragung",
    "firma",
    "openimmo_anid",
    "nutzungsart",
    "vermarktungsart",
    "plz",
    "ort",
    "strasse",
    "hausnummer",
    "land",
    "email_zentrale",
    "name",
    "wohnflaeche",
    "anzahl_zimmer",
    "objekttitel",
    "ausstatt_beschr",
    "objektbeschreibung",
    "anhangtitel",
    "format",
    "pfad",
    "objektnr_extern",
    "aktion",
    "openimmo_obid",
    "kennung_ursprung",
    "stand_vom",
    "sprache",
}
DECIMALS = {"wohnflaeche", "anzahl_zimmer"}
# objektart: a choice of these, each with its type attribute's enumeration.
OBJEKTARTEN: dict[str, tuple[str, set[str]]] = {
    "wohnung": (
        "wohnungtyp",
        {
            "DACHGESCHOSS",
            "MAISONETTE",
            "LOFT-STUDIO-ATELIER",
            "PENTHOUSE",
            "TERRASSEN",
            "ETAGE",
            "ERDGESCHOSS",
            "SOUTERRAIN",
            "APARTMENT",
            "FERIENWOHNUNG",
            "GALERIE",
            "ROHDACHBODEN",
            "ATTIKAWOHNUNG",
            "KEINE_ANGABE",
        },
    ),
    "haus": (
        "haustyp",
        {
            "REIHENHAUS",
            "REIHENEND",
            "REIHENMITTEL",
            "REIHENECK",
            "DOPPELHAUSHAELFTE",
            "EINFAMILIENHAUS",
            "STADTHAUS",
            "BUNGALOW",
            "VILLA",
            "RESTHOF",
            "BAUERNHAUS",
            "LANDHAUS",
            "SCHLOSS",
            "ZWEIFAMILIENHAUS",
            "MEHRFAMILIENHAUS",
            "FERIENHAUS",
            "BERGHUETTE",
            "CHALET",
            "STRANDHAUS",
            "LAUBE-DATSCHE-GARTENHAUS",
            "APARTMENTHAUS",
            "BURG",
            "HERRENHAUS",
            "FINCA",
            "RUSTICO",
            "FERTIGHAUS",
            "KEINE_ANGABE",
        },
    ),
    "buero_praxen": (
        "buero_typ",
        {
            "BUEROFLAECHE",
            "BUEROHAUS",
            "BUEROZENTRUM",
            "LOFT_ATELIER",
            "PRAXIS",
            "PRAXISFLAECHE",
            "PRAXISHAUS",
            "AUSSTELLUNGSFLAECHE",
            "COWORKING",
            "SHARED_OFFICE",
        },
    ),
    "grundstueck": (
        "grundst_typ",
        {
            "WOHNEN",
            "GEWERBE",
            "INDUSTRIE",
            "LAND_FORSTWIRSCHAFT",
            "FREIZEIT",
            "GEMISCHT",
            "GEWERBEPARK",
            "SONDERNUTZUNG",
            "SEELIEGENSCHAFT",
        },
    ),
    "sonstige": ("sonstige_typ", {"SONSTIGE"}),
}
ENUM_ATTRIBUTES: dict[str, dict[str, set[str]]] = {
    "nutzungsart": {"WOHNEN": BOOL, "GEWERBE": BOOL, "ANLAGE": BOOL, "WAZ": BOOL},
    "vermarktungsart": {"KAUF": BOOL, "MIETE_PACHT": BOOL, "ERBPACHT": BOOL, "LEASING": BOOL},
    "land": {"iso_land": {"DEU", "AUT", "CHE"}},
    "aktion": {"aktionart": {"CHANGE", "DELETE", "REFERENZ"}},
    "anhang": {
        "location": {"INTERN", "EXTERN", "REMOTE"},
        "gruppe": {
            "TITELBILD",
            "INNENANSICHTEN",
            "AUSSENANSICHTEN",
            "GRUNDRISS",
            "KARTEN_LAGEPLAN",
            "ANBIETERLOGO",
            "BILD",
            "DOKUMENTE",
            "LINKS",
            "PANORAMA",
            "QRCODE",
            "FILM",
            "FILMLINK",
            "EPASS-SKALA",
            "ANBOBJURL",
        },
    },
}
REQUIRED_ATTRIBUTES = {"nutzungsart": {"WOHNEN", "GEWERBE"}, "vermarktungsart": {"KAUF"}}


def problems(root: Element) -> list[str]:
    found: list[str] = []
    _check(root, "", found)
    return found


def _check(element: Element, parent: str, found: list[str]) -> None:
    tag = element.tag
    where = f"{parent}/{tag}"
    for name, allowed in ENUM_ATTRIBUTES.get(tag, {}).items():
        value = element.get(name)
        if value is not None and value not in allowed:
            found.append(f"{where}@{name}={value!r} not in the enumeration")
    for name in REQUIRED_ATTRIBUTES.get(tag, set()):
        if element.get(name) is None:
            found.append(f"{where}@{name} missing")
    if tag in DECIMALS and not DECIMAL.fullmatch(element.text or ""):
        found.append(f"{where}={element.text!r} is no xsd:decimal")
    if tag == "objektart":
        children = list(element)
        if len(children) != 1 or children[0].tag not in OBJEKTARTEN:
            found.append(f"{where} must hold one known objektart, has {[c.tag for c in children]}")
        for child in children:
            attribute, values = OBJEKTARTEN.get(child.tag, ("", set()))
            if set(child.attrib) - {attribute} or (
                attribute in child.attrib and child.get(attribute) not in values
            ):
                found.append(f"{where}/{child.tag} {child.attrib} breaks its enumeration")
        return
    if tag in LEAVES:
        if len(element):
            found.append(f"{where} is a leaf but has children")
        return
    if tag not in SEQUENCES:
        found.append(f"{where} is not described (look it up in openimmo_127b.xsd)")
        return
    order, required = SEQUENCES[tag]
    tags = [child.tag for child in element]
    unknown = [t for t in tags if t not in order]
    if unknown:
        found.append(f"{where} has children outside its sequence: {unknown}")
    positions = [order.index(t) for t in tags if t in order]
    if positions != sorted(positions):
        found.append(f"{where} children out of sequence order: {tags}")
    for name in required:
        if name not in tags:
            found.append(f"{where} lacks required {name}")
    for child in element:
        _check(child, where, found)
