"""Staged photos: a virtually furnished copy stored as a new photo of the listing, marked and
labelled, beside its source, which stays as it was; only the listing's own organisation may add
one; the exposé names it "Virtuell eingerichtet"; a later export of the gallery leaves it."""

from __future__ import annotations

import io
import re
import uuid
import zlib
from typing import Any

from listings_helpers import Api, jpeg, order_placed, person, stage_export
from PIL import Image
from pix_runtime.identity import Identity


async def _listing(
    api: Api, agent: Identity, asset_ids: dict[str, uuid.UUID] | None = None
) -> tuple[dict[str, Any], Any]:
    placed = order_placed(agent.org_id)
    await api.publish(placed)
    exported = await stage_export(api.runtime, agent.org_id, placed.gallery_id, asset_ids=asset_ids)
    await api.publish(exported)
    [summary] = [
        x for x in (await api.get(agent, "/listings")).json() if x["reference"] == placed.reference
    ]
    listing: dict[str, Any] = (await api.get(agent, f"/listings/{summary['id']}")).json()
    return listing, placed


async def _stage(api: Api, who: Identity, lid: str, photo: str, body: bytes) -> Any:
    return await api.client.post(
        f"/staged-photos/{lid}/{photo}",
        params={"style": "scandinavian"},
        content=body,
        headers={**api.headers(who), "content-type": "image/jpeg"},
    )


def pdf_text(data: bytes) -> str:
    """The text the PDF draws (fpdf2 compresses each page's content stream)."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        shown += [m.decode("cp1252") for m in re.findall(rb"\((.*?)\) Tj", content)]
    return "\n".join(shown)


async def test_a_staged_photo_is_a_new_marked_photo_beside_its_untouched_source(api: Api) -> None:
    agent = person()
    asset_ids: dict[str, uuid.UUID] = {}
    listing, placed = await _listing(api, agent, asset_ids)
    lid = listing["id"]
    living = next(m for m in listing["media"] if m["name"] == "Wohnzimmer_01")
    original = await api.runtime.storage.get_bytes(living["storage_key"])
    furnished = jpeg((200, 180, 150))

    response = await _stage(api, agent, lid, living["id"], furnished)

    assert response.status_code == 201, response.text
    staged = response.json()
    assert staged["staged"] is True
    assert staged["source_photo_id"] == living["id"]
    assert staged["staging_style"] == "scandinavian"
    assert staged["label"] == "Virtuell eingerichtet"
    assert staged["asset_id"] is None
    assert staged["is_title"] is False
    assert staged["storage_key"] != living["storage_key"]
    # The stored picture carries the label on a dark band in its lower left corner.
    stored = await api.runtime.storage.get_bytes(staged["storage_key"])
    with Image.open(io.BytesIO(stored)) as picture, Image.open(io.BytesIO(furnished)) as sent:
        assert picture.size == sent.size
        box = (0, picture.height * 9 // 10, picture.width // 4, picture.height)
        corner = list(picture.convert("L").crop(box).tobytes())
        plain = list(sent.convert("L").crop(box).tobytes())
        assert sum(corner) / len(corner) < 0.75 * sum(plain) / len(plain)
        assert max(corner) > 230

    # The source is untouched and the staged photo follows it; the other photos stay.
    after = (await api.get(agent, f"/listings/{lid}")).json()
    ids = [m["id"] for m in after["media"]]
    assert ids.index(staged["id"]) == ids.index(living["id"]) + 1
    assert [i for i in ids if i != staged["id"]] == [m["id"] for m in listing["media"]]
    source = next(m for m in after["media"] if m["id"] == living["id"])
    assert source["staged"] is False
    assert source["label"] is None
    assert source["is_title"] == living["is_title"]
    assert await api.runtime.storage.get_bytes(living["storage_key"]) == original

    # The list marks a staged title picture.
    [before] = [x for x in (await api.get(agent, "/listings")).json() if x["id"] == lid]
    assert before["title_picture_label"] is None
    await api.put(agent, f"/listings/{lid}/media", {"order": ids, "title_media_id": staged["id"]})
    [titled] = [x for x in (await api.get(agent, "/listings")).json() if x["id"] == lid]
    assert titled["title_picture_label"] == "Virtuell eingerichtet"
    await api.put(agent, f"/listings/{lid}/media", {"order": ids, "title_media_id": living["id"]})

    # A later export of the gallery keeps the staged photo (it is not the gallery's) ...
    await api.publish(
        await stage_export(
            api.runtime, agent.org_id, placed.gallery_id, version=2, asset_ids=asset_ids
        )
    )
    again = (await api.get(agent, f"/listings/{lid}")).json()
    assert [m["id"] for m in again["media"]] == ids
    assert next(m for m in again["media"] if m["id"] == staged["id"])["staged"] is True

    # The exposé marks it.
    requested = await api.post(agent, f"/listings/{lid}/exposes", {"locale": "de"})
    assert requested.status_code == 202, requested.text
    await api.run_jobs()
    [done] = (await api.get(agent, f"/listings/{lid}/exposes")).json()
    assert done["status"] == "done", done
    pdf = await api.runtime.storage.get_bytes(f"listings/{lid}/exposes/v{done['version']}-de.pdf")
    assert pdf_text(pdf).count("Virtuell eingerichtet") == 1

    # ... and one without the source photo takes the staged copy with it.
    del asset_ids["Wohnzimmer_01"]
    await api.publish(
        await stage_export(
            api.runtime, agent.org_id, placed.gallery_id, version=3, asset_ids=asset_ids
        )
    )
    gone = (await api.get(agent, f"/listings/{lid}")).json()
    assert {living["id"], staged["id"]}.isdisjoint(m["id"] for m in gone["media"])


async def test_only_the_listings_organisation_stages_and_only_real_photos(api: Api) -> None:
    agent = person()
    listing, _ = await _listing(api, agent)
    lid = listing["id"]
    kitchen = next(m for m in listing["media"] if m["name"] == "Kueche_01")
    plan = next(m for m in listing["media"] if m["is_floor_plan"])
    picture = jpeg((120, 130, 140), (600, 400))

    stranger = person()
    foreign = await _stage(api, stranger, lid, kitchen["id"], picture)
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"
    colleague = person(org_id=agent.org_id)
    assert (await _stage(api, colleague, lid, kitchen["id"], picture)).status_code == 201

    assert (await _stage(api, agent, lid, plan["id"], picture)).status_code == 422
    other, _ = await _listing(api, agent)
    elsewhere = await _stage(api, agent, lid, other["media"][0]["id"], picture)
    assert elsewhere.status_code == 404
    not_an_image = await _stage(api, agent, lid, kitchen["id"], b"GIF? no, text")
    assert not_an_image.status_code == 422
    assert not_an_image.json()["error"]["code"] == "not_an_image"
    assert (await _stage(api, agent, lid, kitchen["id"], b"")).status_code == 422
    staged = [m for m in (await api.get(agent, f"/listings/{lid}")).json()["media"] if m["staged"]]
    restaged = await _stage(api, agent, lid, staged[0]["id"], picture)
    assert restaged.status_code == 422
    # Only the colleague's one was added; the other organisation's attempt left nothing.
    assert len(staged) == 1
