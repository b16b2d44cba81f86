"""Listing pages: the list with one search box, the edit page (facts, energy certificate,
media order and title picture, description drafts, publish/withdraw), the leads who might want
a listing, and exposés with their progress. A lead's page can embed its matching listings
(`/listings/for-lead/{lead_id}`, an HTMX fragment)."""

import re
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.assistant import AssistantClient
from pix_gateway.clients.base import NotFound, ServiceError, or_default
from pix_gateway.clients.leads import LeadsClient
from pix_gateway.clients.listings import ListingsClient
from pix_gateway.clients.listings_models import LeadMatches, Listing, SearchHit
from pix_gateway.i18n import Locale, translate
from pix_gateway.pages import UI, PageError, PageUI, error_of, served

PROPERTY_TYPES = ("apartment", "house", "commercial", "land")
ENERGY_CLASSES = ("A+", "A", "B", "C", "D", "E", "F", "G", "H")
TEXT_FIELDS = (
    "title",
    "reference",
    "energy_carrier",
    "available_from",
    "street",
    "postcode",
    "city",
    "contact_name",
    "contact_email",
    "contact_phone",
    "description_de",
    "description_en",
    "video_url",
    "tour_url",
)
NUMBER_FIELDS = ("rooms", "living_area_m2", "plot_area_m2", "energy_value_kwh")
INTEGER_FIELDS = ("price_eur", "service_charge_eur", "deposit_eur", "year_built")
CHOICE_FIELDS = ("property_type", "marketing", "energy_certificate_type", "energy_class")


def number(value: str) -> float | str | None:
    value = value.strip().replace(".", "").replace(",", ".") if "," in value else value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return value  # the API names the field


def integer(value: str) -> int | str | None:
    cleaned = value.strip().replace(".", "").replace(" ", "").replace("€", "")
    if not cleaned:
        return None
    try:
        return int(float(cleaned.replace(",", ".")))
    except ValueError:
        return value


def shown(value: Any, locale: str) -> Any:
    """A number as people write it: 3 not 3.0, 84,5 in German."""
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else f"{value:g}"
        return text.replace(".", ",") if locale == "de" else text
    return value


def listing_body(form: dict[str, str]) -> dict[str, Any]:
    """The edit form as the API's changes: empty text clears optional fields."""
    body: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        if key in form:
            value = form[key].strip()
            body[key] = value if value or key in ("description_de", "description_en") else None
    for key in NUMBER_FIELDS:
        if key in form:
            body[key] = number(form[key])
    for key in INTEGER_FIELDS:
        if key in form:
            body[key] = integer(form[key])
    for key in CHOICE_FIELDS:
        if key in form:
            body[key] = form[key] or None
    if "features" in form:
        body["features"] = [f.strip() for f in form["features"].split(",") if f.strip()]
    if "portal_ids" in form:
        body["portal_ids"] = [f.strip() for f in form["portal_ids"].split(",") if f.strip()]
    if body.get("reference") is None:
        body.pop("reference", None)
    if body.get("marketing") is None:
        body.pop("marketing", None)
    return body


router = APIRouter()

# Virtual staging runs in the assistant (its image model); the listing gets the result as a new
# photo, marked and labelled by listings.
STAGING_STYLES = ("modern", "scandinavian", "classic", "industrial", "cosy")
# The staging texts: `listing_staging.<key>` in the gateway's catalogues.
STAGING_TEXT_KEYS = (
    "stage",
    "style",
    "modern",
    "scandinavian",
    "classic",
    "industrial",
    "cosy",
    "running",
    "staged",
    "source",
    "done",
    "off",
    "unreachable",
    "failed",
)


def staging_texts(locale: Locale) -> dict[str, str]:
    return {key: translate(f"listing_staging.{key}", locale) for key in STAGING_TEXT_KEYS}


async def staging_state(ui: UI, me: Identity) -> str:
    """ "on", "off" (no image model configured) or "unreachable"."""
    try:
        status = await AssistantClient(ui.backend, me).status()
    except (httpx.HTTPError, ValueError, ServiceError):
        return "unreachable"
    return "on" if status.staging else "off"


async def load(ui: UI, me: Identity, listing_id: uuid.UUID) -> Listing:
    try:
        return await served(ListingsClient(ui.backend, me).listing(str(listing_id)))
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError as exc:
        raise PageError(503, "error.503") from exc


async def lead_names(ui: UI, me: Identity, ids: list[str]) -> dict[str, str]:
    """Names come from the leads API (events carry none); without it, short ids."""
    names: dict[str, str] = {}
    for lead_id in ids:
        try:
            name = (await LeadsClient(ui.backend, me).lead(lead_id)).name
        except Exception:
            name = ""
        names[lead_id] = name or lead_id[:8]
    return names


async def edit_page(
    ui: UI,
    request: Request,
    me: Identity,
    listing_id: uuid.UUID,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    **ctx: Any,
) -> Response:
    listing = await load(ui, me, listing_id)
    locale = ui.locale(request, me)
    client = ListingsClient(ui.backend, me)
    matched = await or_default(
        served(client.leads_for_listing(str(listing_id), limit=5, locale=locale)),
        LeadMatches(count=0, matches=[]),
    )
    lead_count, matches = matched.count, matched.matches
    names = await lead_names(ui, me, [m.id for m in matches])
    exposes = await or_default(served(client.exposes(str(listing_id))), [])
    sources = {m.id: m.name for m in listing.media or []}
    return ui.render(
        request,
        "listings/edit.html",
        me,
        status=status,
        page="listings",
        listing=listing,
        form=form or {k: shown(v, locale) for k, v in listing.model_dump(mode="json").items()},
        lead_count=lead_count,
        matches=matches,
        names=names,
        exposes=exposes,
        property_types=PROPERTY_TYPES,
        energy_classes=ENERGY_CLASSES,
        staging=await staging_state(ui, me),
        st=staging_texts(locale),
        staging_styles=STAGING_STYLES,
        sources=sources,
        staged_now=request.query_params.get("staged", ""),
        # Only a code travels in the link (a message there could be anyone's words).
        staging_error=re.sub(r"[^a-z_]", "", request.query_params.get("staging_error", ""))[:40],
        **ctx,
    )


@router.get("/listings", response_class=HTMLResponse)
async def listing_list(ui: PageUI, request: Request, q: str = "", status: str = "") -> Response:
    me = await ui.signed_in(request)
    client = ListingsClient(ui.backend, me)
    hits: list[SearchHit] | None = None
    message = None
    if q.strip():
        try:
            hits = await served(client.search(q[:200]))
        except ServiceError as refusal:
            hits = []
            message = ui.field_errors(request, me, refusal, "q")[1]
    listings = await or_default(served(client.listings(status)), [])
    return ui.render(
        request,
        "listings/list.html",
        me,
        page="listings",
        listings=listings,
        shown=shown,
        q=q,
        hits=hits,
        status_filter=status,
        message=message,
        message_kind="error",
    )


@router.post("/listings", response_class=HTMLResponse)
async def create_listing(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    client = ListingsClient(ui.backend, me)
    try:
        created = await served(client.create(listing_body(form)))
    except ServiceError as refusal:
        listings = await or_default(served(client.listings()), [])
        _, text = ui.field_errors(request, me, refusal, "title")
        return ui.render(
            request,
            "listings/list.html",
            me,
            status=refusal.status,
            page="listings",
            listings=listings,
            shown=shown,
            q="",
            hits=None,
            status_filter="",
            message=text or ui_text(ui, request, me, "listings.check_fields"),
            message_kind="error",
        )
    return RedirectResponse(f"/listings/{created.id}", status_code=303)


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
async def listing_edit(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    me = await ui.signed_in(request)
    saved = request.query_params.get("saved")
    message = ui_text(ui, request, me, f"listings.{saved}") if saved else None
    return await edit_page(ui, request, me, listing_id, message=message, message_kind="ok")


@router.post("/listings/{listing_id}", response_class=HTMLResponse)
async def listing_save(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await served(ListingsClient(ui.backend, me).update(str(listing_id), listing_body(form)))
    except NotFound as exc:
        raise PageError(404, "error.404") from exc
    except ServiceError as refusal:
        return await refused_save(ui, request, me, listing_id, form, refusal)
    return RedirectResponse(f"/listings/{listing_id}?saved=saved", status_code=303)


async def refused_save(
    ui: UI,
    request: Request,
    me: Identity,
    listing_id: uuid.UUID,
    form: dict[str, str],
    refusal: ServiceError,
) -> Response:
    errors, text = ui.field_errors(request, me, refusal, "title")
    return await edit_page(
        ui,
        request,
        me,
        listing_id,
        status=422,
        form=form,
        errors=errors,
        message=text or ui_text(ui, request, me, "listings.check_fields"),
        message_kind="error",
    )


@router.post("/listings/{listing_id}/publish", response_class=HTMLResponse)
async def listing_publish(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    try:
        await served(ListingsClient(ui.backend, me).publish(str(listing_id)))
    except ServiceError as refusal:
        missing = refusal.fields
        errors = {f: ui_text(ui, request, me, f"listings.missing.{c}") for f, c in missing.items()}
        return await edit_page(
            ui,
            request,
            me,
            listing_id,
            status=refusal.status,
            errors=errors,
            message=ui_text(ui, request, me, "listings.incomplete"),
            message_kind="error",
        )
    return RedirectResponse(f"/listings/{listing_id}?saved=published", status_code=303)


@router.post("/listings/{listing_id}/withdraw", response_class=HTMLResponse)
async def listing_withdraw(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    # A refused withdrawal (already withdrawn) shows the listing as it is.
    await or_default(
        served(
            ListingsClient(ui.backend, me).withdraw(
                str(listing_id), form.get("reason", "").strip()[:300] or None
            )
        ),
        None,
    )
    return RedirectResponse(f"/listings/{listing_id}?saved=withdrawn", status_code=303)


@router.post("/listings/{listing_id}/media", response_class=HTMLResponse)
async def listing_media(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    positions = []
    for key, value in form.items():
        if key.startswith("position_"):
            try:
                positions.append((float(value.replace(",", ".")), key.removeprefix("position_")))
            except ValueError:
                positions.append((1e9, key.removeprefix("position_")))
    order = [media_id for _, media_id in sorted(positions)]
    body: dict[str, Any] = {"order": order}
    if form.get("title_media_id"):
        body["title_media_id"] = form["title_media_id"]
    await or_default(
        served(ListingsClient(ui.backend, me).arrange_media(str(listing_id), body)), None
    )
    return RedirectResponse(f"/listings/{listing_id}?saved=media_saved#media", status_code=303)


@router.post("/listings/{listing_id}/stage", response_class=HTMLResponse)
async def listing_stage(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    """ "Virtuell einrichten": the assistant checks the photo and answers at once; its job
    furnishes it and stores the result as a new photo of the listing; back to the media, where
    the staging's card follows it (or with the reason it was refused)."""
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    style = form.get("style", "") if form.get("style") in STAGING_STYLES else "modern"
    try:
        staging = await AssistantClient(ui.backend, me).stage(
            str(listing_id), form.get("media_id", ""), style
        )
    except ServiceError as refusal:
        query = urlencode({"staging_error": refusal.code or "error"})
        return RedirectResponse(f"/listings/{listing_id}?{query}#media", status_code=303)
    except (httpx.HTTPError, ValueError):
        return RedirectResponse(
            f"/listings/{listing_id}?staging_error=unavailable#media", status_code=303
        )
    # The image model runs in the assistant's job; the page follows the staging.
    query = urlencode({"staging": staging.id})
    return RedirectResponse(f"/listings/{listing_id}?{query}#media", status_code=303)


@router.post("/listings/{listing_id}/draft", response_class=HTMLResponse)
async def listing_draft(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    drafted = await or_default(served(ListingsClient(ui.backend, me).draft(str(listing_id))), None)
    outcome = "drafted" if drafted is not None else "draft_failed"
    return RedirectResponse(f"/listings/{listing_id}?saved={outcome}#texts", status_code=303)


@router.post("/listings/{listing_id}/take-draft", response_class=HTMLResponse)
async def listing_take_draft(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    listing = await load(ui, me, listing_id)
    changes = {
        "description_de": listing.draft_de or listing.description_de,
        "description_en": listing.draft_en or listing.description_en,
    }
    await or_default(served(ListingsClient(ui.backend, me).update(str(listing_id), changes)), None)
    return RedirectResponse(f"/listings/{listing_id}?saved=draft_taken#texts", status_code=303)


@router.post("/listings/{listing_id}/exposes", response_class=HTMLResponse)
async def listing_expose(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    locale = "en" if form.get("locale") == "en" else "de"
    await or_default(
        served(ListingsClient(ui.backend, me).create_expose(str(listing_id), locale)), None
    )
    return RedirectResponse(f"/listings/{listing_id}#exposes", status_code=303)


@router.get("/listings/{listing_id}/exposes", response_class=HTMLResponse)
async def listing_exposes(ui: PageUI, request: Request, listing_id: uuid.UUID) -> Response:
    me = await ui.signed_in(request)
    exposes = await or_default(served(ListingsClient(ui.backend, me).exposes(str(listing_id))), [])
    return ui.render(
        request, "listings/exposes.html", me, listing={"id": listing_id}, exposes=exposes
    )


@router.get("/listings/for-lead/{lead_id}", response_class=HTMLResponse)
async def listings_for_lead(ui: PageUI, request: Request, lead_id: uuid.UUID) -> Response:
    me = await ui.signed_in(request)
    locale = ui.locale(request, me)
    matches = await or_default(
        served(
            ListingsClient(ui.backend, me).listings_for_lead(str(lead_id), limit=5, locale=locale)
        ),
        [],
    )
    return ui.render(request, "listings/for_lead.html", me, matches=matches)


def ui_text(ui: UI, request: Request, me: Identity, key: str) -> str:
    return translate(key, ui.locale(request, me))


__all__ = ["error_of", "router"]
