"""Share links in media: created and revoked by the gallery's organisation, opened without an
account by token (and PIN), expiring on the service's clock, PIN attempts limited, views
counted, downloads in every size; real photos, the real database, files fetched through media's
signed storage route."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from client_gallery import Gallery, opened_gallery
from photos import room_photo
from PIL import Image
from pix_media.arrangement import PORTAL_MAX_BYTES


@pytest.fixture
async def gallery(migrated: set[str]) -> AsyncIterator[Gallery]:
    async with opened_gallery("Lindenallee 9") as opened:
        yield opened


async def share(gallery: Gallery, **body: Any) -> dict[str, Any]:
    created = await gallery.http.post(
        f"/galleries/{gallery.id}/shares", json=body, headers=gallery.headers()
    )
    assert created.status_code == 201, created.text
    link: dict[str, Any] = created.json()
    return link


async def open_link(gallery: Gallery, token: str, grant: str | None = None) -> httpx.Response:
    headers = {"X-Pix-Share-Grant": grant} if grant else {}
    return await gallery.http.get(f"/public/shares/{token}", headers=headers)


async def links(gallery: Gallery) -> list[dict[str, Any]]:
    answer = await gallery.http.get(f"/galleries/{gallery.id}/shares", headers=gallery.headers())
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def test_a_link_opens_the_gallery_read_only_and_counts_views(gallery: Gallery) -> None:
    kitchen = await gallery.upload("Küche.jpg", room_photo(3000, 2000))
    bath = await gallery.upload("Bad.jpg", room_photo(900, 600, colour=(120, 170, 200)))
    await gallery.put("/arrangement/order", {"asset_ids": [bath, kitchen]})
    await gallery.put("/arrangement/title", {"asset_id": kitchen})
    link = await share(gallery, label="Co-Makler Weber", expires_in_days=7)
    assert link["active"] is True
    assert link["has_pin"] is False
    assert link["view_count"] == 0

    first = await open_link(gallery, link["token"])
    assert first.status_code == 200, first.text
    shown = first.json()
    # Only the gallery's title and photos: nothing of the order or the organisation.
    assert set(shown) == {"title", "expires_at", "downloads", "photos"}
    assert shown["title"] == "Lindenallee 9"
    assert [p["id"] for p in shown["photos"]] == [bath, kitchen]
    assert [p["title"] for p in shown["photos"]] == [False, True]
    assert all(p["web_url"] and p["thumb_url"] for p in shown["photos"])
    assert "Küche" not in first.text  # pseudonyms, never the uploaded file names
    await open_link(gallery, link["token"])
    [listed] = await links(gallery)
    assert listed["view_count"] == 2
    assert listed["last_viewed_at"] is not None
    assert listed["token"] == link["token"]

    # The shared sizes, through the link, with their real size.
    got = await gallery.http.get(
        f"/public/shares/{link['token']}/photos/{kitchen}/download?size=portal"
    )
    assert got.status_code == 200, got.text
    data = (await gallery.http.get(gallery.local(got.json()["url"]))).content
    assert len(data) <= PORTAL_MAX_BYTES
    with Image.open(io.BytesIO(data)) as image:
        assert max(image.size) == 1920
    # Never the original: it still has its EXIF/GPS and unblurred faces.
    printed = await gallery.http.get(
        f"/public/shares/{link['token']}/photos/{kitchen}/download?size=print"
    )
    assert printed.status_code == 422, printed.text
    assert printed.json()["error"]["code"] == "size_not_shared"
    # A photo of another gallery is not reachable through this link.
    elsewhere = await gallery.http.get(
        f"/public/shares/{link['token']}/photos/{uuid.uuid4()}/download?size=web"
    )
    assert elsewhere.status_code == 404


async def test_forged_expired_and_revoked_links_are_refused(gallery: Gallery) -> None:
    await gallery.upload("Küche.jpg", room_photo(900, 600))
    link = await share(gallery, expires_in_days=2)
    token: str = link["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await open_link(gallery, forged)).status_code == 404
    assert (await open_link(gallery, "not-a-token")).status_code == 404
    assert (
        await open_link(gallery, f"{uuid.uuid4().hex}-{token.split('-', 1)[1]}")
    ).status_code == 404

    gallery.runtime.clock.advance(timedelta(days=2, seconds=1))
    expired = await open_link(gallery, token)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "link_expired"
    [listed] = await links(gallery)
    assert listed["active"] is False

    other = await share(gallery)
    assert (await open_link(gallery, other["token"])).status_code == 200
    revoked = await gallery.http.post(
        f"/galleries/{gallery.id}/shares/{other['id']}/revoke", headers=gallery.headers()
    )
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    gone = await open_link(gallery, other["token"])
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "link_revoked"


async def test_another_organisation_cannot_see_or_touch_the_links(gallery: Gallery) -> None:
    link = await share(gallery)
    stranger = gallery.headers(org=uuid.uuid4())
    base = f"/galleries/{gallery.id}/shares"
    assert (await gallery.http.get(base, headers=stranger)).status_code == 404
    assert (await gallery.http.post(base, json={}, headers=stranger)).status_code == 404
    revoke = await gallery.http.post(f"{base}/{link['id']}/revoke", headers=stranger)
    assert revoke.status_code == 404
    # A photographer (platform staff, not a member) neither.
    photographer = gallery.headers(role="photographer", org=uuid.uuid4())
    assert (await gallery.http.post(base, json={}, headers=photographer)).status_code == 404
    # Refused input.
    bad_pin = await gallery.http.post(base, json={"pin": "12a4"}, headers=gallery.headers())
    assert bad_pin.status_code == 422
    too_long = await gallery.http.post(
        base, json={"expires_in_days": 365}, headers=gallery.headers()
    )
    assert too_long.status_code == 422


async def test_a_pin_is_asked_once_and_wrong_pins_lock_the_link(gallery: Gallery) -> None:
    photo = await gallery.upload("Küche.jpg", room_photo(900, 600))
    link = await share(gallery, pin="4711")
    token = link["token"]
    assert link["has_pin"] is True

    asked = await open_link(gallery, token)
    assert asked.status_code == 401
    assert asked.json()["error"]["code"] == "pin_required"
    download = f"/public/shares/{token}/photos/{photo}/download?size=web"
    assert (await gallery.http.get(download)).status_code == 401

    async def attempt(pin: str) -> httpx.Response:
        return await gallery.http.post(f"/public/shares/{token}/unlock", json={"pin": pin})

    wrong = await attempt("0000")
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "wrong_pin"
    right = await attempt("4711")
    assert right.status_code == 200
    grant = right.json()["grant"]
    assert (await open_link(gallery, token, grant)).status_code == 200
    granted = await gallery.http.get(download, headers={"X-Pix-Share-Grant": grant})
    assert granted.status_code == 200
    assert (await open_link(gallery, token, grant[:-2] + "xx")).status_code == 401

    # Five wrong PINs in a row lock the link, even for the right PIN, for a quarter of an hour.
    for _ in range(4):
        assert (await attempt("1234")).status_code == 422
    locked = await attempt("1234")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "pin_locked"
    assert (await attempt("4711")).status_code == 429
    gallery.runtime.clock.advance(timedelta(minutes=15, seconds=1))
    assert (await attempt("4711")).status_code == 200

    # The grant ends with its 12 hours.
    gallery.runtime.clock.advance(timedelta(hours=13))
    assert (await open_link(gallery, token, grant)).status_code == 401
    [listed] = await links(gallery)
    assert listed["view_count"] == 1
