"""The agent's mailbox as leads speaks to it: Gmail (Gmail API), Outlook (Microsoft Graph), and
any other mailbox over IMAP and SMTP, behind one small protocol.

Each client sends a finished MIME message so that it lands in the mailbox's Sent folder, reads
what arrived in the inbox since a cursor (Gmail: history id; Graph: delta link; IMAP:
`uidvalidity:uid`), and tells a refusal of our credentials (`MailboxRefused`: revoked, expired,
wrong password) from a passing failure (any other exception: the job retries).

OAuth 2.0 (authorization code with PKCE, refresh, revoke) goes through Authlib's
AsyncOAuth2Client; its endpoints come from the settings, so tests point them at local servers.
The secrets (`Grant`) never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import base64
import imaplib
import json
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal, Protocol

import aiosmtplib
import httpx

# Authlib ships no type information.
from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

Provider = Literal["gmail", "outlook", "imap"]
Security = Literal["ssl", "starttls", "plain"]

GMAIL_SCOPES = (
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
    # Viewings go into the primary calendar when the agent has no CalDAV calendar.
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
)
# User.Read only to learn the mailbox's address; offline_access for the refresh token.
OUTLOOK_SCOPES = (
    "offline_access",
    "https://graph.microsoft.com/Mail.Send",
    "https://graph.microsoft.com/Mail.Read",
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/Calendars.ReadWrite",
)


class MailboxRefused(Exception):
    """The provider refuses our credentials: the mailbox is broken until the agent reconnects.
    Carries a short reason code, never a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessExpired(Exception):
    """The API answered 401: refresh the access token once, then it is a refusal."""


@dataclass
class Grant:
    """What the provider gave us (tokens) or the agent typed (a password): sealed at rest."""

    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: float = 0.0
    password: str = field(default="", repr=False)

    def dumps(self) -> bytes:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
                "password": self.password,
            }
        ).encode()

    @classmethod
    def loads(cls, data: bytes) -> Grant:
        raw = json.loads(data)
        return cls(
            access_token=str(raw.get("access_token", "")),
            refresh_token=str(raw.get("refresh_token", "")),
            expires_at=float(raw.get("expires_at", 0.0)),
            password=str(raw.get("password", "")),
        )


@dataclass(frozen=True)
class Fetched:
    """The inbox's new messages (MIME) since the cursor, and the cursor after them."""

    messages: list[bytes]
    cursor: str


class MailboxClient(Protocol):
    async def address(self, grant: Grant) -> str: ...

    async def start_cursor(self, grant: Grant) -> str:
        """Where reading starts: now (what is already in the inbox is none of ours)."""
        ...

    async def send(self, grant: Grant, message: EmailMessage) -> None: ...

    async def fetch(self, grant: Grant, cursor: str) -> Fetched: ...

    async def revoke(self, grant: Grant) -> None: ...


# --- OAuth 2.0 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthEndpoints:
    client_id: str
    client_secret: str | None
    auth_url: str
    token_url: str
    revoke_url: str | None
    api_url: str
    scopes: tuple[str, ...]
    # Google gives a refresh token only when asked for offline access (and consent).
    extra_authorize: tuple[tuple[str, str], ...] = ()


def _grant_of(token: dict[str, Any], previous: Grant | None = None) -> Grant:
    expires_at = token.get("expires_at")
    if expires_at is None and token.get("expires_in") is not None:
        expires_at = time.time() + float(token["expires_in"])
    return Grant(
        access_token=str(token.get("access_token", "")),
        # A refresh answer may omit the refresh token: the old one stays valid then.
        refresh_token=str(
            token.get("refresh_token") or (previous.refresh_token if previous else "")
        ),
        expires_at=float(expires_at or 0.0),
    )


class OAuthMailbox:
    """The OAuth 2.0 half shared by Gmail and Outlook: authorise, exchange, refresh, revoke,
    and API calls with the bearer token."""

    def __init__(self, endpoints: OAuthEndpoints, *, timeout: float) -> None:
        self.endpoints = endpoints
        self._timeout = timeout

    def _client(
        self, *, redirect_uri: str | None = None, grant: Grant | None = None
    ) -> AsyncOAuth2Client:
        e = self.endpoints
        token = {"access_token": grant.access_token, "token_type": "Bearer"} if grant else None
        return AsyncOAuth2Client(
            client_id=e.client_id,
            client_secret=e.client_secret,
            scope=" ".join(e.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post" if e.client_secret else "none",
            token=token,
            timeout=self._timeout,
        )

    def authorization_url(self, *, state: str, verifier: str, redirect_uri: str) -> str:
        client = self._client(redirect_uri=redirect_uri)
        url, _ = client.create_authorization_url(
            self.endpoints.auth_url,
            state=state,
            code_verifier=verifier,
            **dict(self.endpoints.extra_authorize),
        )
        return str(url)

    async def exchange(self, *, code: str, verifier: str, redirect_uri: str) -> Grant:
        async with self._client(redirect_uri=redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    self.endpoints.token_url, code=code, code_verifier=verifier
                )
            except OAuthError as exc:
                raise MailboxRefused(str(exc.error or "refused")[:60]) from None
        return _grant_of(dict(token))

    async def refresh(self, grant: Grant) -> Grant:
        if not grant.refresh_token:
            raise MailboxRefused("no_refresh_token")
        async with self._client() as client:
            try:
                token = await client.refresh_token(
                    self.endpoints.token_url, refresh_token=grant.refresh_token
                )
            except OAuthError as exc:
                # invalid_grant: revoked, expired, or the password changed.
                raise MailboxRefused(str(exc.error or "refused")[:60]) from None
        return _grant_of(dict(token), grant)

    async def revoke(self, grant: Grant) -> None:
        if not self.endpoints.revoke_url:
            return
        token = grant.refresh_token or grant.access_token
        hint = "refresh_token" if grant.refresh_token else "access_token"
        async with self._client() as client:
            await client.revoke_token(self.endpoints.revoke_url, token=token, token_type_hint=hint)

    async def call(self, grant: Grant, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not url.startswith(("http://", "https://")):
            url = self.endpoints.api_url.rstrip("/") + url
        async with self._client(grant=grant) as client:
            response: httpx.Response = await client.request(method, url, **kwargs)
        if response.status_code == 401:
            raise AccessExpired()
        return response


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        # Status and path only: the body may echo what we sent.
        raise httpx.HTTPStatusError(
            f"{response.status_code} from {response.request.url.path}",
            request=response.request,
            response=response,
        )
    return response


class GmailMailbox(OAuthMailbox):
    """Gmail API v1: users.messages.send (raw MIME; Gmail files it under SENT),
    users.history.list from a history id for what reached INBOX, users.messages.get raw."""

    async def _profile(self, grant: Grant) -> dict[str, Any]:
        found: dict[str, Any] = _checked(await self.call(grant, "GET", "/users/me/profile")).json()
        return found

    async def address(self, grant: Grant) -> str:
        return str((await self._profile(grant))["emailAddress"])

    async def start_cursor(self, grant: Grant) -> str:
        return str((await self._profile(grant))["historyId"])

    async def send(self, grant: Grant, message: EmailMessage) -> None:
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode()
        _checked(await self.call(grant, "POST", "/users/me/messages/send", json={"raw": raw}))

    async def fetch(self, grant: Grant, cursor: str) -> Fetched:
        ids: list[str] = []
        page: str | None = None
        latest = cursor
        while True:
            params = {
                "startHistoryId": cursor,
                "historyTypes": "messageAdded",
                "labelId": "INBOX",
            }
            if page:
                params["pageToken"] = page
            response = await self.call(grant, "GET", "/users/me/history", params=params)
            if response.status_code == 404:
                # The history id is too old (Gmail keeps about a week): start again from now.
                return Fetched([], await self.start_cursor(grant))
            body = _checked(response).json()
            for record in body.get("history", []):
                for added in record.get("messagesAdded", []):
                    message = added.get("message", {})
                    labels = message.get("labelIds", [])
                    if "INBOX" in labels and "SENT" not in labels and message["id"] not in ids:
                        ids.append(message["id"])
            latest = str(body.get("historyId", latest))
            page = body.get("nextPageToken")
            if not page:
                break
        messages = []
        for message_id in ids:
            got = _checked(
                await self.call(
                    grant, "GET", f"/users/me/messages/{message_id}", params={"format": "raw"}
                )
            ).json()
            raw = str(got["raw"])
            messages.append(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return Fetched(messages, latest)


class OutlookMailbox(OAuthMailbox):
    """Microsoft Graph v1.0: POST /me/sendMail with the MIME message (saved to Sent Items),
    the inbox's delta query for what arrived, /me/messages/{id}/$value for its MIME. Microsoft
    has no endpoint to revoke one grant: disconnecting deletes it here."""

    async def address(self, grant: Grant) -> str:
        me = _checked(await self.call(grant, "GET", "/me")).json()
        return str(me.get("mail") or me["userPrincipalName"])

    async def _delta(self, grant: Grant, url: str) -> tuple[list[str], str]:
        ids: list[str] = []
        while True:
            body = _checked(await self.call(grant, "GET", url)).json()
            for item in body.get("value", []):
                if "@removed" not in item and item["id"] not in ids:
                    ids.append(item["id"])
            if "@odata.nextLink" in body:
                url = body["@odata.nextLink"]
                continue
            return ids, str(body["@odata.deltaLink"])

    async def start_cursor(self, grant: Grant) -> str:
        # The first round lists what is already there; only its delta link is kept.
        _, link = await self._delta(grant, "/me/mailFolders/inbox/messages/delta?$select=id")
        return link

    async def send(self, grant: Grant, message: EmailMessage) -> None:
        _checked(
            await self.call(
                grant,
                "POST",
                "/me/sendMail",
                content=base64.b64encode(message.as_bytes()),
                headers={"Content-Type": "text/plain"},
            )
        )

    async def fetch(self, grant: Grant, cursor: str) -> Fetched:
        ids, link = await self._delta(grant, cursor)
        messages = [
            _checked(await self.call(grant, "GET", f"/me/messages/{message_id}/$value")).content
            for message_id in ids
        ]
        return Fetched(messages, link)


# --- IMAP and SMTP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSettings:
    """Where an IMAP/SMTP mailbox lives (no secrets: the password is in the Grant)."""

    username: str
    imap_host: str
    imap_port: int
    imap_security: Security
    smtp_host: str
    smtp_port: int
    smtp_security: Security
    sent_folder: str = "Sent"


class ImapSmtpMailbox:
    """Any mailbox: SMTP (aiosmtplib) to send, then IMAP APPEND to the Sent folder (SMTP alone
    files nothing); IMAP UID SEARCH since the last seen UID to read (a poll; IDLE is not
    needed at this interval). imaplib is blocking, so each session runs in a thread."""

    def __init__(self, server: ServerSettings, *, timeout: float) -> None:
        self.server = server
        self._timeout = timeout

    def _imap(self, grant: Grant) -> imaplib.IMAP4:
        s = self.server
        try:
            if s.imap_security == "ssl":
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    s.imap_host,
                    s.imap_port,
                    ssl_context=ssl.create_default_context(),
                    timeout=self._timeout,
                )
            else:
                imap = imaplib.IMAP4(s.imap_host, s.imap_port, timeout=self._timeout)
                if s.imap_security == "starttls":
                    imap.starttls(ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ConnectionError(f"IMAP server not reachable: {exc.__class__.__name__}") from None
        try:
            imap.login(s.username, grant.password)
        except imaplib.IMAP4.error:
            imap.shutdown()
            raise MailboxRefused("imap_login_failed") from None
        return imap

    async def address(self, grant: Grant) -> str:
        return self.server.username

    def _status(self, imap: imaplib.IMAP4) -> tuple[int, int]:
        typ, data = imap.status("INBOX", "(UIDNEXT UIDVALIDITY)")
        if typ != "OK" or not data or not isinstance(data[0], bytes):
            raise ConnectionError("IMAP STATUS failed")
        words = data[0].decode().split("(", 1)[1].rstrip(")").split()
        values = dict(zip(words[::2], words[1::2], strict=False))
        return int(values["UIDVALIDITY"]), int(values["UIDNEXT"])

    def _start_cursor(self, grant: Grant) -> str:
        imap = self._imap(grant)
        try:
            validity, uid_next = self._status(imap)
            return f"{validity}:{uid_next - 1}"
        finally:
            imap.logout()

    async def start_cursor(self, grant: Grant) -> str:
        return await asyncio.to_thread(self._start_cursor, grant)

    async def send(self, grant: Grant, message: EmailMessage) -> None:
        s = self.server
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.username,
                password=grant.password,
                use_tls=s.smtp_security == "ssl",
                start_tls=s.smtp_security == "starttls",
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPAuthenticationError:
            raise MailboxRefused("smtp_login_failed") from None
        await asyncio.to_thread(self._append_sent, grant, message.as_bytes())

    def _append_sent(self, grant: Grant, raw: bytes) -> None:
        imap = self._imap(grant)
        try:
            typ, _ = imap.append(
                self.server.sent_folder, "(\\Seen)", imaplib.Time2Internaldate(time.time()), raw
            )
            if typ != "OK":
                raise ConnectionError("IMAP APPEND to the Sent folder failed")
        finally:
            imap.logout()

    def _fetch(self, grant: Grant, cursor: str) -> Fetched:
        imap = self._imap(grant)
        try:
            validity, uid_next = self._status(imap)
            known, _, last = cursor.partition(":")
            if str(validity) != known:
                # The server renumbered the inbox: what is there now is the new start.
                return Fetched([], f"{validity}:{uid_next - 1}")
            last_uid = int(last or 0)
            imap.select("INBOX", readonly=True)
            typ, data = imap.uid("SEARCH", "UID", f"{last_uid + 1}:*")
            uids = sorted(
                int(u) for u in (data[0] or b"").split() if typ == "OK" and int(u) > last_uid
            )
            messages = []
            for uid in uids:
                typ, parts = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
                for part in parts:
                    if isinstance(part, tuple):
                        messages.append(part[1])
                        break
            return Fetched(messages, f"{validity}:{max([last_uid, *uids])}")
        finally:
            imap.logout()

    async def fetch(self, grant: Grant, cursor: str) -> Fetched:
        return await asyncio.to_thread(self._fetch, grant, cursor)

    async def revoke(self, grant: Grant) -> None:
        return None
