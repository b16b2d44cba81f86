"""HTTP routes of the agent's own mailbox (the gateway proxies /api/leads/mailboxes/*): the
caller's mailbox and what can be connected, OAuth start and completion (the gateway's callback
page hands over `state` and `code`), an IMAP/SMTP connection, disconnecting, reading now.

Each member connects their own; another organisation's mailbox ids answer 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pix_runtime.http import CurrentIdentity

from pix_leads.mailboxes import (
    AgentMailbox,
    AgentMailboxes,
    ImapConnection,
    MailboxOverview,
    OAuthCallback,
    OAuthStart,
)


def _mailboxes(request: Request) -> AgentMailboxes:
    mailboxes: AgentMailboxes = request.app.state.agent_mailboxes
    return mailboxes


Mailboxes = Annotated[AgentMailboxes, Depends(_mailboxes)]

router = APIRouter(prefix="/mailboxes", tags=["mailboxes"])


@router.get("/mine")
async def my_mailbox(identity: CurrentIdentity, mailboxes: Mailboxes) -> MailboxOverview:
    return await mailboxes.overview(identity)


@router.post("/oauth/{provider}/start")
async def start_oauth(provider: str, identity: CurrentIdentity, mailboxes: Mailboxes) -> OAuthStart:
    """The provider's consent page to send the agent to; state and PKCE verifier are bound
    to the caller's user and session."""
    return await mailboxes.start_oauth(provider, identity)


@router.post("/oauth/complete")
async def complete_oauth(
    callback: OAuthCallback, identity: CurrentIdentity, mailboxes: Mailboxes
) -> AgentMailbox:
    return await mailboxes.complete_oauth(callback, identity)


@router.post("/imap")
async def connect_imap(
    form: ImapConnection, identity: CurrentIdentity, mailboxes: Mailboxes
) -> AgentMailbox:
    return await mailboxes.connect_imap(form, identity)


@router.get("/{mailbox_id}")
async def mailbox(
    mailbox_id: uuid.UUID, identity: CurrentIdentity, mailboxes: Mailboxes
) -> AgentMailbox:
    return await mailboxes.get(mailbox_id, identity)


@router.post("/{mailbox_id}/sync", status_code=202)
async def sync_now(
    mailbox_id: uuid.UUID, identity: CurrentIdentity, mailboxes: Mailboxes
) -> Response:
    await mailboxes.sync_now(mailbox_id, identity)
    return Response(status_code=202)


@router.delete("/{mailbox_id}", status_code=204)
async def disconnect(
    mailbox_id: uuid.UUID, identity: CurrentIdentity, mailboxes: Mailboxes
) -> Response:
    await mailboxes.disconnect(mailbox_id, identity)
    return Response(status_code=204)
