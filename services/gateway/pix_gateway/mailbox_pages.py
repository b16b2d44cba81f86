"""The agent's own mailbox ("Mein Postfach"): connect Gmail or Outlook (OAuth 2.0; the provider
sends the agent back to `/account/mailbox/callback`, which hands `state` and `code` to leads
under the signed-in session, so a state started in another session or replayed is refused),
or an IMAP/SMTP mailbox; its status, last sync, disconnect. And the warning every signed-in
page loads while the mailbox is broken (`/account/mailbox/banner`, an HTMX fragment).

"Connect" is a link, not a form: the CSP's `form-action 'self'` would stop a form's redirect
to the provider (as with Stripe's pages)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pix_runtime.identity import Identity

from pix_gateway.clients.base import ServiceClient, ServiceError, segment
from pix_gateway.clients.leads_models import AgentMailbox, MailboxOverview, OAuthStart
from pix_gateway.i18n import translate
from pix_gateway.pages import UI, PageUI, served

router = APIRouter()
DONE = ("connected", "disconnected", "syncing")

PAGE = "/account/mailbox"
IMAP_FIELDS = (
    "username",
    "password",
    "imap_host",
    "imap_port",
    "imap_security",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "sent_folder",
)


class MailboxClient(ServiceClient):
    """The leads service's mailbox routes."""

    service = "leads"

    async def overview(self) -> MailboxOverview:
        return await self.one(MailboxOverview, "GET", "/mailboxes/mine")

    async def start(self, provider: str) -> OAuthStart:
        return await self.one(OAuthStart, "POST", f"/mailboxes/oauth/{segment(provider)}/start")

    async def complete(self, state: str, code: str) -> AgentMailbox:
        return await self.one(
            AgentMailbox, "POST", "/mailboxes/oauth/complete", json={"state": state, "code": code}
        )

    async def connect_imap(self, form: dict[str, object]) -> AgentMailbox:
        return await self.one(AgentMailbox, "POST", "/mailboxes/imap", json=form)

    async def disconnect(self, mailbox_id: str) -> None:
        await self.call("DELETE", f"/mailboxes/{segment(mailbox_id)}")

    async def sync(self, mailbox_id: str) -> None:
        await self.call("POST", f"/mailboxes/{segment(mailbox_id)}/sync")


async def page(ui: UI, request: Request, me: Identity, **ctx: Any) -> Response:
    overview = await served(MailboxClient(ui.backend, me).overview())
    return ui.render(
        request,
        "mailbox/mailbox.html",
        me,
        page="account",
        overview=overview,
        mailbox=overview.mailbox,
        **ctx,
    )


@router.get(PAGE, response_class=HTMLResponse)
async def mailbox_page(ui: PageUI, request: Request) -> Response:
    me = await ui.signed_in(request)
    notice = request.query_params.get("done")
    message = ui_text(ui, request, me, f"mailbox.done.{notice}") if notice in DONE else None
    return await page(ui, request, me, message=message, message_kind="ok")


def ui_text(ui: UI, request: Request, me: Identity, key: str) -> str:
    return translate(key, ui.locale(request, me))


@router.get(PAGE + "/connect/{provider}")
async def connect(ui: PageUI, provider: str, request: Request) -> Response:
    me = await ui.signed_in(request)
    started = await served(MailboxClient(ui.backend, me).start(provider))
    return RedirectResponse(started.authorization_url, status_code=303)


@router.get(PAGE + "/callback", response_class=HTMLResponse)
async def callback(ui: PageUI, request: Request) -> Response:
    """The provider's redirect back: the code is exchanged by leads, under this session."""
    me = await ui.signed_in(request)
    state = request.query_params.get("state", "")[:200]
    code = request.query_params.get("code", "")[:4000]
    if not state or not code:
        # The agent declined at the provider (error=access_denied) or the link is broken.
        message = ui_text(ui, request, me, "mailbox.declined")
        return await page(ui, request, me, message=message, message_kind="error", status=400)
    try:
        await MailboxClient(ui.backend, me).complete(state, code)
    except ServiceError as refusal:
        # No form field to put it under: the reason goes on top of the page.
        context = ui.refusal(request, me, refusal, "state")
        errors = context.pop("errors")
        context["message"] = context["message"] or next(iter(errors.values()), None)
        return await page(ui, request, me, **context)
    return RedirectResponse(PAGE + "?done=connected", status_code=303)


@router.post(PAGE + "/imap", response_class=HTMLResponse)
async def connect_imap(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    me = await ui.signed_in(request)
    wanted: dict[str, object] = {k: form[k].strip() for k in IMAP_FIELDS if form.get(k, "").strip()}
    if "password" in form:
        wanted["password"] = form["password"]  # as typed: spaces may belong to it
    try:
        await MailboxClient(ui.backend, me).connect_imap(wanted)
    except ServiceError as refusal:
        return await page(
            ui, request, me, imap=wanted, **ui.refusal(request, me, refusal, "imap_host")
        )
    return RedirectResponse(PAGE + "?done=connected", status_code=303)


@router.post(PAGE + "/{mailbox_id}/disconnect")
async def disconnect(ui: PageUI, mailbox_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await served(MailboxClient(ui.backend, me).disconnect(mailbox_id))
    return RedirectResponse(PAGE + "?done=disconnected", status_code=303)


@router.post(PAGE + "/{mailbox_id}/sync")
async def sync(ui: PageUI, mailbox_id: str, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await served(MailboxClient(ui.backend, me).sync(mailbox_id))
    return RedirectResponse(PAGE + "?done=syncing", status_code=303)


@router.get(PAGE + "/banner", response_class=HTMLResponse)
async def banner(ui: PageUI, request: Request) -> Response:
    """Empty unless the caller's own mailbox is broken (and leads answers)."""
    me = await ui.me(request)
    quiet = HTMLResponse("", headers={"cache-control": "no-store"})
    if me is None or me.role not in ("owner", "agent"):
        return quiet
    try:
        overview = await MailboxClient(ui.backend, me).overview()
    except (httpx.HTTPError, ServiceError):
        return quiet
    if overview.mailbox is None or overview.mailbox.status != "broken":
        return quiet
    return ui.render(request, "mailbox/banner.html", me, mailbox=overview.mailbox)
