"""The assistant's tools: typed functions over the platform's APIs, each with the JSON schema of
its pydantic arguments model.

A read runs at once and hands its result to the model (never to the user as it is). A write
only proposes: it checks what it would change, names it in one sentence, and runs after the
user's yes (`Write.execute`, called by the actions desk). Memory tools change only the user's
own notes to the assistant and run at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from pix_assistant.platform import Caller, PlatformApis, ServiceError
from pix_assistant.staging import Stager, Style

Intent = Literal["smalltalk", "crm", "email", "calendar", "expose", "memory", "multi"]
INTENTS: tuple[Intent, ...] = ("smalltalk", "crm", "email", "calendar", "expose", "memory", "multi")
LeadStatus = Literal["NEW", "CONTACTED", "CONVERSATION", "BOOKED", "LOST"]
Financing = Literal["confirmed", "in_progress", "none", "unknown"]
# A tool result handed to the model is cut here: a long list costs tokens and says little more.
RESULT_LIMIT = 12_000
DETAIL_LIMIT = 25


class MemoryBook(Protocol):
    async def remember(self, caller: Caller, fact: str) -> uuid.UUID: ...

    async def facts(self, caller: Caller) -> list[tuple[uuid.UUID, str]]: ...

    async def forget(self, caller: Caller, memory_id: uuid.UUID) -> bool: ...


@dataclass
class ToolContext:
    apis: PlatformApis
    caller: Caller
    memory: MemoryBook
    locale: str = "de"
    stager: Stager | None = None

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return await self.apis.call(self.caller, service, "GET", path, params=params)


@dataclass(frozen=True)
class Proposal:
    """A write the user has to confirm: what it does, in their language, and its arguments."""

    summary: str
    arguments: dict[str, Any]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[Args]
    intents: frozenset[Intent]
    label_de: str
    label_en: str

    def label(self, locale: str) -> str:
        return self.label_de if locale == "de" else self.label_en

    def schema(self) -> dict[str, Any]:
        parameters = self.arguments.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }


@dataclass(frozen=True)
class Read(Tool):
    run: Callable[[ToolContext, Any], Awaitable[Any]] = field(kw_only=True)


Undo = Callable[[PlatformApis, Caller, dict[str, Any], Any], Awaitable[Any]]


@dataclass(frozen=True)
class Write(Tool):
    propose: Callable[[ToolContext, Any], Awaitable[Proposal]] = field(kw_only=True)
    execute: Callable[[PlatformApis, Caller, dict[str, Any]], Awaitable[Any]] = field(kw_only=True)
    # Where the domain allows taking it back: (arguments, the execution's result) -> result.
    undo: Undo | None = field(default=None, kw_only=True)


def result_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= RESULT_LIMIT else text[:RESULT_LIMIT] + " …(gekürzt)"


# --- leads -------------------------------------------------------------------------------------


class SearchLeads(Args):
    query: str | None = Field(
        default=None, max_length=200, description="Words to search in names, notes and messages"
    )
    status: LeadStatus | None = None
    listing_id: uuid.UUID | None = Field(default=None, description="Only leads for this listing")
    financing: Financing | None = Field(
        default=None, description="Only leads whose financing is in this state"
    )
    limit: int = Field(default=20, ge=1, le=50)


def _lead_brief(lead: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "name",
        "status",
        "financing",
        "time_frame",
        "budget_max_eur",
        "listing_id",
        "listing_title",
        "score",
        "source",
        "created_at",
    )
    return {k: lead[k] for k in keys if k in lead}


async def search_leads(ctx: ToolContext, args: SearchLeads) -> Any:
    if args.query:
        hits = await ctx.get("leads", "/search", q=args.query, limit=args.limit)
        found = [hit["lead"] for hit in hits]
        found = [
            lead
            for lead in found
            if (args.status is None or lead["status"] == args.status)
            and (args.listing_id is None or lead["listing_id"] == str(args.listing_id))
        ]
    else:
        found = await ctx.get(
            "leads", "/leads", status=args.status, listing_id=args.listing_id, limit=args.limit
        )
    # The inbox lists no financing or budget: the first leads are read in full for them.
    detailed = []
    for summary in found[:DETAIL_LIMIT]:
        detail = await ctx.get("leads", f"/leads/{summary['id']}")
        detailed.append(_lead_brief(detail["lead"]))
    if args.financing is not None:
        detailed = [lead for lead in detailed if lead.get("financing") == args.financing]
    return {"count": len(detailed), "leads": detailed}


class LeadRef(Args):
    lead_id: uuid.UUID


async def get_lead(ctx: ToolContext, args: LeadRef) -> Any:
    detail = await ctx.get("leads", f"/leads/{args.lead_id}")
    lead = detail["lead"]
    keys = (
        "email",
        "phone",
        "message",
        "locale",
        "household",
        "requested_viewing",
        "requested_callback",
        "notes",
        "lost_reason",
    )
    timeline = [
        {"kind": a["kind"], "at": a["at"], "text": a["text"][:300]} for a in detail["timeline"][-5:]
    ]
    return {**_lead_brief(lead), **{k: lead.get(k) for k in keys}, "timeline": timeline}


class DraftReply(Args):
    lead_id: uuid.UUID
    wishes: str = Field(default="", max_length=500, description="What the agent wants to say")


async def draft_reply(ctx: ToolContext, args: DraftReply) -> Any:
    lead = await get_lead(ctx, LeadRef(lead_id=args.lead_id))
    return {
        "lead": lead,
        "instruction": "Write the reply in the lead's language (locale) as the answer text. "
        "It is a draft: the agent sends it from the lead's page.",
        "wishes": args.wishes,
    }


class StatusChange(Args):
    lead_id: uuid.UUID
    status: LeadStatus
    reason: str | None = Field(default=None, max_length=300, description="Required for LOST")


async def propose_status(ctx: ToolContext, args: StatusChange) -> Proposal:
    lead = (await ctx.get("leads", f"/leads/{args.lead_id}"))["lead"]
    if ctx.locale == "de":
        summary = f"Status von {lead['name'] or 'Lead'} von {lead['status']} auf {args.status}"
    else:
        summary = f"Status of {lead['name'] or 'lead'} from {lead['status']} to {args.status}"
    return Proposal(summary, args.model_dump(mode="json"))


async def execute_status(apis: PlatformApis, caller: Caller, arguments: dict[str, Any]) -> Any:
    change = StatusChange.model_validate(arguments)
    lead = await apis.call(
        caller,
        "leads",
        "POST",
        f"/leads/{change.lead_id}/status",
        json={"status": change.status, "reason": change.reason},
    )
    return {"lead_id": lead["id"], "status": lead["status"]}


# --- listings ----------------------------------------------------------------------------------


class SearchListings(Args):
    query: str = Field(min_length=1, max_length=300, description="Address, title or wishes")
    limit: int = Field(default=10, ge=1, le=30)


async def search_listings(ctx: ToolContext, args: SearchListings) -> Any:
    hits = await ctx.get("listings", "/search", q=args.query, limit=args.limit)
    keys = ("id", "reference", "title", "status", "city", "postcode", "price_eur")
    return [{k: hit[k] for k in keys} for hit in hits]


class ListListings(Args):
    status: Literal["draft", "published", "withdrawn"] | None = None


async def list_listings(ctx: ToolContext, args: ListListings) -> Any:
    found = await ctx.get("listings", "/listings", status=args.status, limit=50)
    keys = ("id", "reference", "title", "status", "price_eur", "rooms", "postcode", "city")
    return [{k: item.get(k) for k in keys} for item in found]


class ListingRef(Args):
    listing_id: uuid.UUID


async def get_listing(ctx: ToolContext, args: ListingRef) -> Any:
    listing = await ctx.get("listings", f"/listings/{args.listing_id}")
    skip = {"media", "draft_de", "draft_en", "org_id", "order_id", "gallery_id", "latitude"}
    facts = {k: v for k, v in listing.items() if k not in skip and v not in (None, "", [])}
    facts["photos"] = [
        {"room": m["room_type"], "title_de": m["title_de"], "url": m.get("url")}
        for m in listing.get("media", [])[:20]
    ]
    return facts


async def matches_for_lead(ctx: ToolContext, args: LeadRef) -> Any:
    return await ctx.get("listings", f"/leads/{args.lead_id}/listings", locale=ctx.locale)


async def leads_for_listing(ctx: ToolContext, args: ListingRef) -> Any:
    return await ctx.get("listings", f"/listings/{args.listing_id}/leads", locale=ctx.locale)


class SemanticSearch(Args):
    query: str = Field(min_length=1, max_length=300, description="What to look for, in words")


async def semantic_search(ctx: ToolContext, args: SemanticSearch) -> Any:
    listings = await search_listings(ctx, SearchListings(query=args.query))
    # Leads by their words (names, notes, messages) and by the meaning of their wishes
    # (embeddings); each says which matched, the meaning's closeness as 0..1.
    by_words = await ctx.get("leads", "/search", q=args.query, limit=10)
    by_meaning = await ctx.get("leads", "/leads/search", q=args.query, limit=10)
    leads: dict[str, dict[str, Any]] = {
        hit["lead"]["id"]: {**_lead_brief(hit["lead"]), "matched": "words"} for hit in by_words
    }
    for hit in by_meaning:
        brief = leads.setdefault(hit["lead"]["id"], {**_lead_brief(hit["lead"]), "matched": ""})
        brief["matched"] = "words+meaning" if brief["matched"] == "words" else "meaning"
        brief["similarity"] = hit["similarity"]
    return {"listings": listings, "leads": list(leads.values())}


async def list_exposes(ctx: ToolContext, args: ListingRef) -> Any:
    found = await ctx.get("listings", f"/listings/{args.listing_id}/exposes")
    keys = ("id", "version", "locale", "status", "pages", "download_url", "created_at")
    return [{k: e.get(k) for k in keys} for e in found]


class ExposeOrder(Args):
    listing_id: uuid.UUID
    locale: Literal["de", "en"] = "de"


async def propose_expose(ctx: ToolContext, args: ExposeOrder) -> Proposal:
    listing = await ctx.get("listings", f"/listings/{args.listing_id}")
    language = {"de": "Deutsch", "en": "Englisch"} if ctx.locale == "de" else {}
    if ctx.locale == "de":
        summary = f"Exposé ({language[args.locale]}) für „{listing['title']}“ erstellen"
    else:
        summary = f"Create the {args.locale.upper()} exposé of “{listing['title']}”"
    return Proposal(summary, args.model_dump(mode="json"))


async def execute_expose(apis: PlatformApis, caller: Caller, arguments: dict[str, Any]) -> Any:
    order = ExposeOrder.model_validate(arguments)
    expose = await apis.call(
        caller,
        "listings",
        "POST",
        f"/listings/{order.listing_id}/exposes",
        json={"locale": order.locale},
    )
    return {"expose_id": expose["id"], "listing_id": expose["listing_id"], "status": "queued"}


# --- orders, galleries, captions ---------------------------------------------------------------


class NoArgs(Args):
    pass


async def list_orders(ctx: ToolContext, args: NoArgs) -> Any:
    found = await ctx.get("orders", "/orders")
    keys = ("id", "reference", "status", "property_address", "gallery_id", "created_at")
    return [{k: o.get(k) for k in keys} for o in found[:50]]


async def list_galleries(ctx: ToolContext, args: NoArgs) -> Any:
    found = await ctx.get("media", "/galleries")
    return [{k: g.get(k) for k in ("id", "reference", "title", "created_at")} for g in found[:50]]


class GalleryRef(Args):
    gallery_id: uuid.UUID


async def gallery_captions(ctx: ToolContext, args: GalleryRef) -> Any:
    found = await ctx.get("captioning", f"/galleries/{args.gallery_id}/captions")
    return [
        {"asset_id": c["asset_id"], "photo": c["pseudonym"], "caption": c["caption"]}
        for c in found[:40]
    ]


class CaptionEdit(Args):
    asset_id: uuid.UUID
    title_de: str | None = Field(default=None, min_length=1, max_length=30)
    title_en: str | None = Field(default=None, min_length=1, max_length=30)
    description_de: str | None = Field(default=None, min_length=1, max_length=1000)
    description_en: str | None = Field(default=None, min_length=1, max_length=1000)


async def propose_caption(ctx: ToolContext, args: CaptionEdit) -> Proposal:
    current = await ctx.get("captioning", f"/assets/{args.asset_id}/caption")
    changed = [k for k, v in args.model_dump(exclude={"asset_id"}).items() if v is not None]
    if not changed:
        raise ServiceError("assistant", 422, "invalid", "nothing to change")
    fields = ", ".join(changed)
    if ctx.locale == "de":
        summary = f"Bildtext von {current['pseudonym']} ändern ({fields})"
    else:
        summary = f"Edit the caption of {current['pseudonym']} ({fields})"
    return Proposal(summary, args.model_dump(mode="json"))


async def execute_caption(apis: PlatformApis, caller: Caller, arguments: dict[str, Any]) -> Any:
    edit = CaptionEdit.model_validate(arguments)
    changes = edit.model_dump(exclude={"asset_id"}, exclude_none=True)
    path = f"/assets/{edit.asset_id}/caption"
    before = await apis.call(caller, "captioning", "GET", path)
    previous = {k: before["caption"].get(k) for k in changes if before["caption"].get(k)}
    view = await apis.call(caller, "captioning", "PATCH", path, json=changes)
    return {
        "asset_id": view["asset_id"],
        "caption_version": view["caption_version"],
        "previous": previous,
    }


async def undo_caption(
    apis: PlatformApis, caller: Caller, arguments: dict[str, Any], result: Any
) -> Any:
    """The edited fields back as they were, as a new caption version (nothing is lost)."""
    path = f"/assets/{arguments['asset_id']}/caption"
    view = await apis.call(caller, "captioning", "PATCH", path, json=result["previous"])
    return {"asset_id": view["asset_id"], "caption_version": view["caption_version"]}


class Staging(Args):
    listing_id: uuid.UUID
    media_id: uuid.UUID = Field(description="The photo of the empty room (a listing's media id)")
    style: Style = "modern"


async def virtual_staging(ctx: ToolContext, args: Staging) -> Any:
    if ctx.stager is None:
        raise ServiceError("assistant", 503, "not_configured", "virtual staging is off")
    staged = await ctx.stager.stage(ctx.caller, args.listing_id, args.media_id, args.style)
    return {
        "image_url": staged.url,
        "label": staged.label,
        "staged_media_id": str(staged.id),
        "note": "A new, separate photo of the listing, marked as virtually staged (also in "
        "its exposé); the real photo is unchanged. Give the user the image_url on a line of "
        "its own.",
    }


# --- memory ------------------------------------------------------------------------------------


class Fact(Args):
    fact: str = Field(min_length=1, max_length=500)


async def remember(ctx: ToolContext, args: Fact) -> Any:
    memory_id = await ctx.memory.remember(ctx.caller, args.fact)
    return {"remembered": args.fact, "id": str(memory_id)}


async def list_memories(ctx: ToolContext, args: NoArgs) -> Any:
    return [{"id": str(i), "fact": fact} for i, fact in await ctx.memory.facts(ctx.caller)]


class MemoryRef(Args):
    memory_id: uuid.UUID


async def forget(ctx: ToolContext, args: MemoryRef) -> Any:
    return {"forgotten": await ctx.memory.forget(ctx.caller, args.memory_id)}


# --- the registry ------------------------------------------------------------------------------

_CRM: frozenset[Intent] = frozenset({"crm", "multi"})
_MAIL: frozenset[Intent] = frozenset({"crm", "email", "calendar", "multi"})
_EXPOSE: frozenset[Intent] = frozenset({"expose", "multi"})
_BOTH: frozenset[Intent] = frozenset({"crm", "expose", "multi"})
_MEMORY: frozenset[Intent] = frozenset({"memory", "multi"})

TOOLS: tuple[Tool, ...] = (
    Read(
        "search_leads",
        "Find the organisation's leads by words, status, listing or financing; "
        "returns each lead with status, financing, time frame and budget.",
        SearchLeads,
        _MAIL,
        "Leads suchen",
        "Searching leads",
        run=search_leads,
    ),
    Read(
        "get_lead",
        "Read one lead: contact, message, wishes and the latest timeline.",
        LeadRef,
        _MAIL,
        "Lead lesen",
        "Reading lead",
        run=get_lead,
    ),
    Read(
        "draft_reply",
        "Gather what is needed to draft a reply to a lead (the agent sends it).",
        DraftReply,
        _MAIL,
        "Antwort entwerfen",
        "Drafting reply",
        run=draft_reply,
    ),
    Write(
        "change_lead_status",
        "Propose moving a lead to another status (NEW → CONTACTED → CONVERSATION → BOOKED, "
        "or LOST with a reason). The user confirms it in the chat.",
        StatusChange,
        _CRM,
        "Status ändern",
        "Changing status",
        propose=propose_status,
        execute=execute_status,
    ),
    Read(
        "search_listings",
        "Find listings by address, title or wishes (full text and meaning).",
        SearchListings,
        _BOTH,
        "Objekte suchen",
        "Searching listings",
        run=search_listings,
    ),
    Read(
        "list_listings",
        "List the organisation's listings, optionally by status.",
        ListListings,
        _BOTH,
        "Objekte auflisten",
        "Listing listings",
        run=list_listings,
    ),
    Read(
        "get_listing",
        "Read one listing's facts, texts and photos.",
        ListingRef,
        _BOTH,
        "Objekt lesen",
        "Reading listing",
        run=get_listing,
    ),
    Read(
        "matches_for_lead",
        "The listings that fit a lead best, each with its reasons.",
        LeadRef,
        _CRM,
        "Passende Objekte",
        "Matching listings",
        run=matches_for_lead,
    ),
    Read(
        "leads_for_listing",
        "The leads a listing fits best, each with its reasons.",
        ListingRef,
        _CRM,
        "Passende Leads",
        "Matching leads",
        run=leads_for_listing,
    ),
    Read(
        "semantic_search",
        "Search leads and listings together by meaning and words.",
        SemanticSearch,
        _BOTH,
        "Semantische Suche",
        "Semantic search",
        run=semantic_search,
    ),
    Read(
        "list_exposes",
        "A listing's exposé PDFs with their download links.",
        ListingRef,
        _EXPOSE,
        "Exposés ansehen",
        "Reading exposés",
        run=list_exposes,
    ),
    Write(
        "create_expose",
        "Propose rendering a new exposé PDF of a listing (German or English). "
        "The user confirms it in the chat.",
        ExposeOrder,
        _EXPOSE,
        "Exposé erstellen",
        "Creating exposé",
        propose=propose_expose,
        execute=execute_expose,
    ),
    Read(
        "list_orders",
        "The organisation's photo-shoot orders.",
        NoArgs,
        _EXPOSE,
        "Aufträge",
        "Orders",
        run=list_orders,
    ),
    Read(
        "list_galleries",
        "The organisation's photo galleries.",
        NoArgs,
        _EXPOSE,
        "Galerien",
        "Galleries",
        run=list_galleries,
    ),
    Read(
        "gallery_captions",
        "The captions of a gallery's photos.",
        GalleryRef,
        _EXPOSE,
        "Bildtexte lesen",
        "Reading captions",
        run=gallery_captions,
    ),
    Write(
        "edit_caption",
        "Propose changing a photo's caption (title, description). The user confirms it.",
        CaptionEdit,
        _EXPOSE,
        "Bildtext ändern",
        "Editing caption",
        propose=propose_caption,
        execute=execute_caption,
        undo=undo_caption,
    ),
    Read(
        "virtual_staging",
        "Furnish an empty room photo of a listing virtually (a new picture, labelled as "
        "virtually staged; the real photo stays).",
        Staging,
        _EXPOSE,
        "Virtuell einrichten",
        "Virtual staging",
        run=virtual_staging,
    ),
    Read(
        "remember",
        "Remember a fact about the user or their work for later conversations.",
        Fact,
        _MEMORY,
        "Merken",
        "Remembering",
        run=remember,
    ),
    Read(
        "list_memories",
        "What the assistant remembers for this user.",
        NoArgs,
        _MEMORY,
        "Gedächtnis",
        "Memory",
        run=list_memories,
    ),
    Read(
        "forget",
        "Forget one remembered fact.",
        MemoryRef,
        _MEMORY,
        "Vergessen",
        "Forgetting",
        run=forget,
    ),
)
BY_NAME = {tool.name: tool for tool in TOOLS}
WRITES = {tool.name: tool for tool in TOOLS if isinstance(tool, Write)}


def tools_for(intent: Intent, *, staging: bool = False) -> list[Tool]:
    return [
        tool
        for tool in TOOLS
        if intent in tool.intents and (staging or tool.name != "virtual_staging")
    ]
