"""The CRM formats, parsed field by field: OpenImmo XML in its ZIP, onOffice, Propstack, ZIPs."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import openimmo_schema
import pytest
from export_testkit import Service, caption_ready, export_service, order_placed, uploaded
from pix_export.formats.base import Photo, PropertyFacts, Snapshot
from pix_export.formats.openimmo import IMMOBILIE_ORDER, build_xml

NAMES = ["Bathroom_01", "Exterior_01", "Floorplan_01", "Kitchen_01"]


async def files_of(svc: Service, gallery_id: uuid.UUID, org_id: uuid.UUID) -> dict[str, bytes]:
    async with svc.client() as http:
        latest = (
            await http.get(f"/galleries/{gallery_id}/exports/latest", headers=svc.headers(org_id))
        ).json()
    found = {}
    for f in latest["files"]:
        key = f"exports/{gallery_id}/v{latest['version']}/" + (
            f"captions/{f['name']}" if f["format"].startswith("image-") else f["name"]
        )
        found[f["name"]] = await svc.runtime.storage.get_bytes(key)
    return found


def in_order(tags: list[str], order: tuple[str, ...]) -> bool:
    positions = [order.index(t) for t in tags]
    return positions == sorted(positions)


async def test_openimmo_onoffice_propstack_and_bundles(migrated: set[str]) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        await svc.publish(order_placed(gallery_id, org_id, "PX-2026-0042"))
        for name in NAMES:
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
        for name in NAMES:
            await svc.publish(caption_ready(gallery_id, org_id, name))
        await svc.deliver(gallery_id, org_id, NAMES)
        assert await svc.versions(gallery_id) == [1]

        # Default cover: the house from outside, not the first name in the alphabet (Bathroom).
        files = await files_of(svc, gallery_id, org_id)
        root = ElementTree.fromstring(  # noqa: S314 (our own output)
            zipfile.ZipFile(io.BytesIO(files["openimmo.zip"])).read("openimmo.xml")
        )
        groups = {a.findtext("daten/pfad"): a.get("gruppe") for a in root.iter("anhang")}
        assert groups["Exterior_01.jpg"] == "TITELBILD"
        assert groups["Bathroom_01.jpg"] != "TITELBILD"

        # The agent chooses the kitchen; the next (debounced) version uses it.
        kitchen = uuid.uuid5(gallery_id, "Kitchen_01")
        async with svc.client() as http:
            chosen = await http.put(
                f"/galleries/{gallery_id}/cover",
                json={"asset_id": str(kitchen)},
                headers=svc.headers(org_id),
            )
            assert chosen.status_code == 200
            assert chosen.json()["cover_asset_id"] == str(kitchen)
            stranger = await http.put(
                f"/galleries/{gallery_id}/cover",
                json={"asset_id": str(kitchen)},
                headers=svc.headers(uuid.uuid4()),
            )
            assert stranger.status_code == 404
        svc.runtime.clock.advance(timedelta(seconds=31))  # the quiet period
        assert await svc.desk.flush_due() == 1
        assert await svc.versions(gallery_id) == [1, 2]

        files = await files_of(svc, gallery_id, org_id)
        archive = zipfile.ZipFile(io.BytesIO(files["openimmo.zip"]))
        assert sorted(archive.namelist()) == sorted(["openimmo.xml", *[f"{n}.jpg" for n in NAMES]])
        root = ElementTree.fromstring(archive.read("openimmo.xml"))  # noqa: S314 (our own output)
        assert [c.tag for c in root] == ["uebertragung", "anbieter"]
        assert root.find("uebertragung").get("umfang") == "TEIL"  # type: ignore[union-attr]
        anbieter = root.find("anbieter")
        assert anbieter is not None
        assert [c.tag for c in anbieter] == ["firma", "openimmo_anid", "immobilie"]
        immobilie = anbieter.find("immobilie")
        assert immobilie is not None
        tags = [c.tag for c in immobilie]
        assert in_order(tags, IMMOBILIE_ORDER), tags
        assert {"freitexte", "anhaenge", "verwaltung_techn", "geo"} <= set(tags)
        techn = immobilie.find("verwaltung_techn")
        assert techn is not None
        assert [c.tag for c in techn][:2] == ["objektnr_extern", "aktion"]
        assert techn.findtext("objektnr_extern") == "PX-2026-0042"
        assert techn.findtext("stand_vom")
        assert immobilie.findtext("geo/plz") == "10969"
        assert immobilie.findtext("geo/hausnummer") == "12a"
        freitexte = immobilie.find("freitexte")
        assert freitexte is not None
        assert [c.tag for c in freitexte] == [
            "objekttitel",
            "ausstatt_beschr",
            "objektbeschreibung",
        ]
        # An order from before the facts travelled: a title from its address, no photo's title;
        # the neutral defaults in objektkategorie; the photo traits left out of the features.
        assert freitexte.findtext("objekttitel") == "Immobilie in Berlin"
        assert immobilie.find("objektkategorie/objektart/sonstige") is not None
        assert immobilie.find("flaechen") is None
        assert freitexte.findtext("ausstatt_beschr") == "Hell, Badezimmer, Küche"
        assert openimmo_schema.problems(root) == []
        assert "Beschreibung Bathroom_01." in (freitexte.findtext("objektbeschreibung") or "")
        anhaenge = immobilie.findall("anhaenge/anhang")
        paths = [a.findtext("daten/pfad") for a in anhaenge]
        assert sorted(paths) == sorted(f"{n}.jpg" for n in NAMES)  # every photo exactly once
        for anhang in anhaenge:
            assert anhang.get("location") == "INTERN"
            assert [c.tag for c in anhang] == ["anhangtitel", "format", "daten"]
            assert 0 < len(anhang.findtext("anhangtitel") or "") <= 30
            assert anhang.findtext("format") == "image/jpeg"
        groups = {a.findtext("daten/pfad"): a.get("gruppe") for a in anhaenge}
        assert groups == {
            "Kitchen_01.jpg": "TITELBILD",
            "Bathroom_01.jpg": "INNENANSICHTEN",
            "Exterior_01.jpg": "AUSSENANSICHTEN",
            "Floorplan_01.jpg": "GRUNDRISS",
        }
        assert paths[0] == "Kitchen_01.jpg"

        onoffice = json.loads(files["onoffice-uploadfile.json"])
        arts = {f["parameters"]["file"]: f["parameters"]["Art"] for f in onoffice["files"]}
        assert arts == {
            "Kitchen_01.jpg": "Titelbild",
            "Bathroom_01.jpg": "Foto",
            "Exterior_01.jpg": "Foto",
            "Floorplan_01.jpg": "Grundriss",
        }
        first = onoffice["files"][0]["parameters"]
        assert first["language"] == "DEU"
        assert first["module"] == "estate"
        assert first["title"]
        assert first["freetext"]

        propstack = json.loads(files["propstack-images.json"])
        images = [p["image"] for p in propstack]
        assert [i["position"] for i in images] == [0, 1, 2, 3]
        assert images[0]["photo"] == "Kitchen_01.jpg"
        assert {i["photo"]: i["is_floorplan"] for i in images}["Floorplan_01.jpg"] is True
        assert all(i["is_private"] is False and i["title"] for i in images)

        single = json.loads(files["Kitchen_01.json"])
        assert single["cover"] is True
        assert single["title_de"]
        assert files["Kitchen_01.txt"].decode().startswith("Kitchen_01\n[DE] ")

        web = zipfile.ZipFile(io.BytesIO(files["bundle-web.zip"]))
        assert {"captions.json", "captions.txt", "openimmo.zip", "captions/Kitchen_01.json"} <= set(
            web.namelist()
        )
        assert web.read("images/Kitchen_01.jpg").startswith(b"\xff\xd8\xff")

        async with svc.client() as http:
            made = await http.post(
                f"/galleries/{gallery_id}/exports/2/bundle",
                params={"size": "original"},
                headers=svc.headers(org_id),
            )
            assert made.status_code == 200, made.text
            bad = await http.post(
                f"/galleries/{gallery_id}/exports/2/bundle",
                params={"size": "huge"},
                headers=svc.headers(org_id),
            )
            assert bad.status_code == 422
        original = zipfile.ZipFile(
            io.BytesIO(
                await svc.runtime.storage.get_bytes(f"exports/{gallery_id}/v2/bundle-original.zip")
            )
        )
        assert original.read("originals/Kitchen_01.png").startswith(b"\x89PNG")
        assert "images/Kitchen_01.jpg" not in original.namelist()
        assert made.json()["byte_size"] == original.fp.getbuffer().nbytes  # type: ignore[union-attr]


async def test_a_chosen_cover_stays_when_better_photos_arrive(migrated: set[str]) -> None:
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        await svc.publish(order_placed(gallery_id, org_id, "PX-2026-0043"))
        for name in ("Bathroom_01", "Kitchen_01"):
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
            await svc.publish(caption_ready(gallery_id, org_id, name))

        async def cover() -> tuple[str | None, bool]:
            async with svc.client() as http:
                view = (
                    await http.get(f"/galleries/{gallery_id}/photos", headers=svc.headers(org_id))
                ).json()
            names = {p["asset_id"]: p["name"] for p in view["photos"]}
            return names.get(view["cover_asset_id"]), view["cover_chosen"]

        assert await cover() == ("Kitchen_01", False)  # a kitchen sells better than a bathroom
        bathroom = uuid.uuid5(gallery_id, "Bathroom_01")
        async with svc.client() as http:
            chosen = await http.put(
                f"/galleries/{gallery_id}/cover",
                json={"asset_id": str(bathroom)},
                headers=svc.headers(org_id),
            )
            assert chosen.status_code == 200

        # The last upload is the best default picture, yet the agent's choice stays.
        await svc.publish(await uploaded(svc, gallery_id, org_id, "Exterior_01"))
        await svc.publish(caption_ready(gallery_id, org_id, "Exterior_01"))
        assert await cover() == ("Bathroom_01", True)

        async with svc.client() as http:
            reset = await http.put(
                f"/galleries/{gallery_id}/cover",
                json={"asset_id": None},
                headers=svc.headers(org_id),
            )
            assert reset.status_code == 200
        assert await cover() == ("Exterior_01", False)


async def test_an_original_replaced_after_its_check_never_leaves(migrated: set[str]) -> None:
    """On S3 a signed upload link stays usable until it expires: if an original's bytes are
    not the ones media checked (their SHA-256 came with the upload event), the original-size
    bundle carries the web rendition in its place."""
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        await svc.publish(order_placed(gallery_id, org_id, "PX-2026-0043"))
        for name in ("Kitchen_01", "Bathroom_01"):
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
            await svc.publish(caption_ready(gallery_id, org_id, name))
        await svc.deliver(gallery_id, org_id, ["Kitchen_01", "Bathroom_01"])
        swapped = uuid.uuid5(gallery_id, "Bathroom_01")
        await svc.runtime.storage.put_bytes(
            f"originals/{gallery_id}/{swapped}",
            b"\x89PNG\r\n\x1a\nnot what was checked",
            "image/png",
        )
        version = (await svc.versions(gallery_id))[-1]
        async with svc.client() as http:
            made = await http.post(
                f"/galleries/{gallery_id}/exports/{version}/bundle",
                params={"size": "original"},
                headers=svc.headers(org_id),
            )
            assert made.status_code == 200, made.text
        bundle = zipfile.ZipFile(
            io.BytesIO(
                await svc.runtime.storage.get_bytes(
                    f"exports/{gallery_id}/v{version}/bundle-original.zip"
                )
            )
        )
        assert bundle.read("originals/Kitchen_01.png") == b"\x89PNG\r\n\x1a\noriginal-Kitchen_01"
        assert "originals/Bathroom_01.png" not in bundle.namelist()
        assert bundle.read("originals/Bathroom_01.jpg") == b"\xff\xd8\xff\xe0web-Bathroom_01"


FACTS = {
    "street": "Torstraße",
    "house_number": "101",
    "postcode": "10119",
    "city": "Berlin-Mitte",
    "country": "DE",
    "property_type": "apartment",
    "marketing": "rent",
    "living_area_m2": 94.5,
    "rooms": 3.0,
}


async def test_the_orders_property_facts_make_the_listing(migrated: set[str]) -> None:
    """#15.13: objektart, Kauf/Miete, area, rooms and address from the order; a title an agent
    would publish; German feature names; valid OpenImmo; the same facts for onOffice/Propstack."""
    async with export_service() as svc:
        gallery_id, org_id = uuid.uuid4(), uuid.uuid4()
        # The one-line address disagrees on purpose: the structured parts win.
        await svc.publish(order_placed(gallery_id, org_id, "PIX-001234", **FACTS))
        names = ["Balcony_01", "Bedroom_01", "Kitchen_01"]
        for name in names:
            await svc.publish(await uploaded(svc, gallery_id, org_id, name))
        for name in names:
            await svc.publish(caption_ready(gallery_id, org_id, name))
        await svc.deliver(gallery_id, org_id, names)
        files = await files_of(svc, gallery_id, org_id)

    root = ElementTree.fromstring(  # noqa: S314 (our own output)
        zipfile.ZipFile(io.BytesIO(files["openimmo.zip"])).read("openimmo.xml")
    )
    assert openimmo_schema.problems(root) == []
    immobilie = root.find("anbieter/immobilie")
    assert immobilie is not None
    kategorie = immobilie.find("objektkategorie")
    assert kategorie is not None
    assert kategorie.find("nutzungsart").attrib == {"WOHNEN": "true", "GEWERBE": "false"}  # type: ignore[union-attr]
    assert kategorie.find("vermarktungsart").attrib == {"KAUF": "false", "MIETE_PACHT": "true"}  # type: ignore[union-attr]
    [objektart] = list(kategorie.find("objektart"))  # type: ignore[arg-type]
    assert (objektart.tag, objektart.attrib) == ("wohnung", {"wohnungtyp": "KEINE_ANGABE"})
    geo = immobilie.find("geo")
    assert geo is not None
    assert [(c.tag, c.text) for c in geo][:4] == [
        ("plz", "10119"),
        ("ort", "Berlin-Mitte"),
        ("strasse", "Torstraße"),
        ("hausnummer", "101"),
    ]
    flaechen = immobilie.find("flaechen")
    assert flaechen is not None
    assert [(c.tag, c.text) for c in flaechen] == [("wohnflaeche", "94.5"), ("anzahl_zimmer", "3")]
    title = "3-Zimmer-Wohnung in Berlin-Mitte, 94,5 m²"
    assert immobilie.findtext("freitexte/objekttitel") == title
    features = immobilie.findtext("freitexte/ausstatt_beschr") or ""
    assert features.split(", ") == ["Hell", "Balkon", "Schlafzimmer", "Küche"]

    estate = json.loads(files["onoffice-uploadfile.json"])["estate"]
    assert estate["resourcetype"] == "estate"
    assert estate["parameters"]["data"] == {
        "objekttitel": "3-Zimmer-Wohnung in Berlin-Mitte, 94,5 m²",
        "objektart": "wohnung",
        "nutzungsart": "wohnen",
        "vermarktungsart": "miete",
        "wohnflaeche": 94.5,
        "anzahl_zimmer": 3.0,
        "strasse": "Torstraße",
        "hausnummer": "101",
        "plz": "10119",
        "ort": "Berlin-Mitte",
        "land": "DEU",
        "ausstatt_beschr": features,
    }
    unit = json.loads(files["propstack-unit.json"])["property"]
    assert unit == {
        "title": "3-Zimmer-Wohnung in Berlin-Mitte, 94,5 m²",
        "marketing_type": "RENT",
        "object_type": "LIVING",
        "rs_type": "APARTMENT",
        "living_space": 94.5,
        "number_of_rooms": 3.0,
        "street": "Torstraße",
        "house_number": "101",
        "zip_code": "10119",
        "city": "Berlin-Mitte",
        "country": "DE",
        "furnishing_note": features,
    }


def _snapshot(locale: str = "de", **facts: object) -> Snapshot:
    caption = {
        "title_de": "Küche",
        "title_en": "Kitchen",
        "description_de": "Helle Küche.",
        "description_en": "Bright kitchen.",
        "features": ["hardwood floor", "fitted kitchen", "warm tones", "landscape", "wine cellar"],
    }
    photo = Photo(uuid.uuid4(), "Kitchen_01", "kitchen", caption, "renditions/x/web.jpg")
    return Snapshot(
        gallery_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        version=1,
        generated_at=datetime(2026, 12, 6, 10, 0, tzinfo=UTC),
        photos=[photo],
        property_address="Lindenallee 5a, 10115 Berlin",
        property_facts=PropertyFacts(**facts),  # type: ignore[arg-type]
        locale=locale,
    )


@pytest.mark.parametrize(
    ("facts", "element", "attributes", "nutzung", "title"),
    [
        (
            {"property_type": "house", "marketing": "sale", "rooms": 5.5, "living_area_m2": 1250},
            "haus",
            {"haustyp": "KEINE_ANGABE"},
            {"WOHNEN": "true", "GEWERBE": "false"},
            "5,5-Zimmer-Haus in Berlin, 1.250 m²",
        ),
        (
            {"property_type": "commercial", "marketing": "rent", "living_area_m2": 310},
            "buero_praxen",
            {"buero_typ": "BUEROFLAECHE"},
            {"WOHNEN": "false", "GEWERBE": "true"},
            "Gewerbefläche in Berlin, 310 m²",
        ),
        (
            {"property_type": "land", "marketing": "sale"},
            "grundstueck",
            {"grundst_typ": "WOHNEN"},
            {"WOHNEN": "true", "GEWERBE": "false"},
            "Grundstück in Berlin",
        ),
    ],
)
def test_each_property_type_is_its_openimmo_objektart(
    facts: dict[str, object],
    element: str,
    attributes: dict[str, str],
    nutzung: dict[str, str],
    title: str,
) -> None:
    root = ElementTree.fromstring(build_xml(_snapshot(**facts)))  # noqa: S314 (our own output)
    assert openimmo_schema.problems(root) == []
    [objektart] = list(root.find("anbieter/immobilie/objektkategorie/objektart"))  # type: ignore[arg-type]
    assert (objektart.tag, objektart.attrib) == (element, attributes)
    kategorie = root.find("anbieter/immobilie/objektkategorie")
    assert kategorie.find("nutzungsart").attrib == nutzung  # type: ignore[union-attr]
    # The old one-line address is parsed when the order had no structured one.
    assert root.findtext("anbieter/immobilie/geo/hausnummer") == "5a"
    assert root.findtext("anbieter/immobilie/freitexte/objekttitel") == title


def test_english_listings_get_english_titles_and_feature_names() -> None:
    snapshot = _snapshot("en", property_type="apartment", rooms=2.5, living_area_m2=1094.5)
    root = ElementTree.fromstring(build_xml(snapshot))  # noqa: S314 (our own output)
    assert openimmo_schema.problems(root) == []
    freitexte = root.find("anbieter/immobilie/freitexte")
    assert freitexte is not None
    assert freitexte.findtext("objekttitel") == "2.5-room apartment in Berlin, 1,094.5 m²"
    # Photo traits (tones, orientation) are no features; an unknown tag stays readable.
    assert freitexte.findtext("ausstatt_beschr") == "Hardwood floor, Fitted kitchen, Wine cellar"
    german = ElementTree.fromstring(build_xml(_snapshot(property_type="apartment")))  # noqa: S314
    assert german.findtext("anbieter/immobilie/freitexte/ausstatt_beschr") == (
        "Parkett, Einbauküche, Wine cellar"
    )
