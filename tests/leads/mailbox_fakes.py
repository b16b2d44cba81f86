"""Local servers that speak what leads uses of the agents' mailboxes, for the real client
libraries (Authlib, httpx, imaplib, aiosmtplib):

- `FakeGoogle`: OAuth 2.0 (authorization code with PKCE S256, refresh, RFC 7009 revoke) and the
  Gmail API v1 (profile, messages.send into SENT, history.list, messages.get raw).
- `FakeMicrosoft`: the same OAuth endpoints and Graph (/me, /me/sendMail with MIME,
  /me/mailFolders/inbox/messages/delta, /me/messages/{id}/$value).
- Calendars through the same grants: Google Calendar API v3 (events insert/patch/delete on
  `primary`, freeBusy query) and Graph (/me/events POST/GET $filter on our extended property,
  PATCH/DELETE /me/events/{id}, POST /me/calendar/getSchedule). Busy times the tests set go
  into `busy` (Google) / `schedule` (Graph) as UTC ISO pairs.
- IMAP is pymap's in-memory server (a real IMAP server, `PymapServer`), SMTP aiosmtpd.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stored:
    id: str
    raw: bytes
    labels: list[str]


@dataclass
class OAuthServer:
    """Codes, tokens, PKCE and revocation, shared by both fakes."""

    client_id: str = "pix-test-client"
    client_secret: str = "pix-test-secret-" + "x" * 8
    url: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)  # access token -> refresh token
    refresh: set[str] = field(default_factory=set)
    revoked: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "scope": q.get("scope", ""),
        }
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(target, status_code=302)

    def _issue(self, refresh_token: str) -> dict[str, Any]:
        access = "ya29." + secrets.token_urlsafe(24)
        self.access[access] = refresh_token
        self.issued.extend((access, refresh_token))
        return {
            "access_token": access,
            "refresh_token": refresh_token,
            "expires_in": 3600,
            "token_type": "Bearer",
        }

    async def token(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        self.token_requests.append({k: str(v) for k, v in form.items()})
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "authorization_code":
            wanted = self.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
            if (
                wanted is None
                or wanted["challenge"] != challenge
                or wanted["redirect_uri"] != form.get("redirect_uri")
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            refresh = "1//" + secrets.token_urlsafe(24)
            self.refresh.add(refresh)
            return JSONResponse(self._issue(refresh))
        if form.get("grant_type") == "refresh_token":
            refresh = str(form.get("refresh_token"))
            if refresh not in self.refresh:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "Token has been revoked."},
                    status_code=400,
                )
            return JSONResponse(self._issue(refresh))
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    async def revoke_endpoint(self, request: Request) -> Response:
        form = dict(await request.form())
        self.revoke_everything(str(form.get("token", "")))
        return Response(status_code=200)

    def revoke_everything(self, token: str | None = None) -> None:
        """The grant is gone (the user revoked it at the provider, or we did)."""
        refresh = self.access.get(token or "", token)
        for r in list(self.refresh):
            if token is None or r == refresh:
                self.refresh.discard(r)
                self.revoked.append(r)
        for a, r in list(self.access.items()):
            if token is None or r == refresh:
                del self.access[a]

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.access

    def expire_access_tokens(self) -> None:
        self.access.clear()


class FakeGoogle(OAuthServer):
    address = "makler.mueller@gmail.example"

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, Stored] = {}
        self.history: list[tuple[int, str]] = []
        self._ids = itertools.count(1)
        self.history_id = 1000
        self.events: dict[str, dict[str, Any]] = {}
        self.event_requests: list[tuple[str, str, dict[str, str]]] = []
        self.busy: list[tuple[str, str]] = []

    def _add(self, raw: bytes, labels: list[str]) -> Stored:
        stored = Stored(id=f"m{next(self._ids):04d}", raw=raw, labels=labels)
        self.messages[stored.id] = stored
        self.history_id += 1
        self.history.append((self.history_id, stored.id))
        return stored

    def deliver(self, raw: bytes) -> Stored:
        """Mail arriving in the inbox."""
        return self._add(raw, ["INBOX", "UNREAD"])

    def sent(self) -> list[Any]:
        return [
            message_from_bytes(m.raw, policy=policy.default)
            for m in self.messages.values()
            if "SENT" in m.labels
        ]

    async def profile(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        return JSONResponse({"emailAddress": self.address, "historyId": str(self.history_id)})

    async def send(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        raw = (await request.json())["raw"]
        stored = self._add(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), ["SENT"])
        return JSONResponse({"id": stored.id, "threadId": stored.id, "labelIds": stored.labels})

    async def list_history(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        start = int(request.query_params["startHistoryId"])
        label = request.query_params.get("labelId")
        records = [
            {
                "id": str(hid),
                "messagesAdded": [{"message": {"id": mid, "labelIds": self.messages[mid].labels}}],
            }
            for hid, mid in self.history
            if hid > start and (label is None or label in self.messages[mid].labels)
        ]
        return JSONResponse({"history": records, "historyId": str(self.history_id)})

    async def get_message(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        stored = self.messages.get(request.path_params["mid"])
        if stored is None:
            return JSONResponse({"error": {"code": 404}}, status_code=404)
        raw = base64.urlsafe_b64encode(stored.raw).decode()
        return JSONResponse({"id": stored.id, "labelIds": stored.labels, "raw": raw})

    # Calendar API v3: https://developers.google.com/calendar/api/v3/reference/events
    async def insert_event(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        body = await request.json()
        self.event_requests.append(("insert", body.get("id", ""), dict(request.query_params)))
        event_id = body.get("id") or secrets.token_hex(10)
        if event_id in self.events:
            return JSONResponse({"error": {"code": 409, "message": "duplicate"}}, status_code=409)
        event = {**body, "id": event_id, "status": "confirmed", "kind": "calendar#event"}
        self.events[event_id] = event
        return JSONResponse(event)

    async def patch_event(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        event_id = request.path_params["eid"]
        self.event_requests.append(("patch", event_id, dict(request.query_params)))
        if event_id not in self.events:
            return JSONResponse({"error": {"code": 404, "message": "Not Found"}}, status_code=404)
        self.events[event_id].update(await request.json())
        return JSONResponse(self.events[event_id])

    async def delete_event(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        event_id = request.path_params["eid"]
        self.event_requests.append(("delete", event_id, dict(request.query_params)))
        if self.events.pop(event_id, None) is None:
            return JSONResponse({"error": {"code": 410, "message": "Deleted"}}, status_code=410)
        return Response(status_code=204)

    async def free_busy(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        body = await request.json()
        busy = [{"start": a, "end": b} for a, b in self.busy]
        return JSONResponse(
            {
                "kind": "calendar#freeBusy",
                "timeMin": body["timeMin"],
                "timeMax": body["timeMax"],
                "calendars": {item["id"]: {"busy": busy} for item in body["items"]},
            }
        )

    def app(self) -> Starlette:
        api = "/gmail/v1/users/me"
        cal = "/calendar/v3"
        return Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/revoke", self.revoke_endpoint, methods=["POST"]),
                Route(f"{api}/profile", self.profile),
                Route(f"{api}/messages/send", self.send, methods=["POST"]),
                Route(f"{api}/history", self.list_history),
                Route(api + "/messages/{mid}", self.get_message),
                Route(f"{cal}/calendars/primary/events", self.insert_event, methods=["POST"]),
                Route(cal + "/calendars/primary/events/{eid}", self.patch_event, methods=["PATCH"]),
                Route(
                    cal + "/calendars/primary/events/{eid}", self.delete_event, methods=["DELETE"]
                ),
                Route(f"{cal}/freeBusy", self.free_busy, methods=["POST"]),
            ]
        )

    def settings(self) -> dict[str, str]:
        return {
            "gmail_client_id": self.client_id,
            "gmail_client_secret": self.client_secret,
            "gmail_auth_url": f"{self.url}/o/oauth2/v2/auth",
            "gmail_token_url": f"{self.url}/token",
            "gmail_revoke_url": f"{self.url}/revoke",
            "gmail_api_url": f"{self.url}/gmail/v1",
            "google_calendar_api_url": f"{self.url}/calendar/v3",
        }


class FakeMicrosoft(OAuthServer):
    address = "makler.mueller@outlook.example"

    def __init__(self) -> None:
        super().__init__()
        self.inbox: dict[str, bytes] = {}
        self.sent_items: list[bytes] = []
        self._ids = itertools.count(1)
        self._rounds: dict[str, int] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.schedule: list[tuple[str, str]] = []

    def deliver(self, raw: bytes) -> str:
        mid = f"AAMk{next(self._ids):04d}"
        self.inbox[mid] = raw
        return mid

    def sent(self) -> list[Any]:
        return [message_from_bytes(raw, policy=policy.default) for raw in self.sent_items]

    async def me(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        return JSONResponse({"mail": self.address, "userPrincipalName": self.address})

    async def send_mail(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        if request.headers.get("content-type") != "text/plain":
            return JSONResponse({"error": {"code": "ErrorMimeContentInvalid"}}, status_code=400)
        self.sent_items.append(base64.b64decode(await request.body()))
        return Response(status_code=202)

    async def delta(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        # The delta token is how many inbox messages the caller had seen.
        seen = int(request.query_params.get("$deltatoken", "-1"))
        ids = list(self.inbox)
        fresh = ids if seen < 0 else ids[seen:]
        link = f"{self.url}/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken={len(ids)}"
        return JSONResponse({"value": [{"id": mid} for mid in fresh], "@odata.deltaLink": link})

    async def value(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        raw = self.inbox.get(request.path_params["mid"])
        if raw is None:
            return JSONResponse({"error": {"code": "ErrorItemNotFound"}}, status_code=404)
        return Response(raw, media_type="text/plain")

    # Graph: https://learn.microsoft.com/graph/api/user-post-events,
    # .../event-update, .../event-delete, .../calendar-getschedule
    async def create_event(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        event = {**(await request.json()), "id": f"AAMkEv{next(self._ids):04d}"}
        self.events[event["id"]] = event
        return JSONResponse(event, status_code=201)

    async def list_events(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        wanted = re.search(r"ep/value eq '((?:[^']|'')*)'", request.query_params.get("$filter", ""))
        value = wanted.group(1).replace("''", "'") if wanted else None
        found = [
            {"id": e["id"]}
            for e in self.events.values()
            if value is None
            or any(p["value"] == value for p in e.get("singleValueExtendedProperties", []))
        ]
        return JSONResponse({"value": found})

    async def change_event(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        event = self.events.get(request.path_params["eid"])
        if event is None:
            return JSONResponse({"error": {"code": "ErrorItemNotFound"}}, status_code=404)
        if request.method == "DELETE":
            del self.events[event["id"]]
            return Response(status_code=204)
        event.update(await request.json())
        return JSONResponse(event)

    async def get_schedule(self, request: Request) -> Response:
        if not self.authorised(request):
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        body = await request.json()
        items = [
            {
                "status": "busy",
                "start": {"dateTime": a, "timeZone": "UTC"},
                "end": {"dateTime": b, "timeZone": "UTC"},
            }
            for a, b in self.schedule
        ]
        return JSONResponse(
            {"value": [{"scheduleId": s, "scheduleItems": items} for s in body["schedules"]]}
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1.0/me/events", self.create_event, methods=["POST"]),
                Route("/v1.0/me/events", self.list_events, methods=["GET"]),
                Route("/v1.0/me/events/{eid}", self.change_event, methods=["PATCH", "DELETE"]),
                Route("/v1.0/me/calendar/getSchedule", self.get_schedule, methods=["POST"]),
                Route("/common/oauth2/v2.0/authorize", self.authorize),
                Route("/common/oauth2/v2.0/token", self.token, methods=["POST"]),
                Route("/v1.0/me", self.me),
                Route("/v1.0/me/sendMail", self.send_mail, methods=["POST"]),
                Route("/v1.0/me/mailFolders/inbox/messages/delta", self.delta),
                Route("/v1.0/me/messages/{mid}/$value", self.value),
            ]
        )

    def settings(self) -> dict[str, str]:
        return {
            "outlook_client_id": self.client_id,
            "outlook_client_secret": self.client_secret,
            "outlook_auth_url": f"{self.url}/common/oauth2/v2.0/authorize",
            "outlook_token_url": f"{self.url}/common/oauth2/v2.0/token",
            "outlook_api_url": f"{self.url}/v1.0",
        }


class ServerThread:
    """uvicorn on a free loopback port in a daemon thread."""

    def __init__(self, fake: OAuthServer) -> None:
        self.port = free_port()
        fake.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            fake.app(),  # type: ignore[attr-defined]
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake provider did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


class PymapServer:
    """pymap's in-memory IMAP server (demo data: user `demouser`, folders INBOX, Sent, Trash),
    without TLS on a free loopback port, as a subprocess."""

    user = "demouser"
    password = "demopass"

    def __init__(self, port: int | None = None, password: str | None = None) -> None:
        self.port = port or free_port()
        if password is not None:
            self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        pymap = Path(sys.executable).parent / "pymap"
        address = ["--host", "127.0.0.1", "--port", str(self.port), "--no-tls"]
        self.process = subprocess.Popen(
            [str(pymap), *address, "dict", "--demo-data", "--demo-password", self.password],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("pymap did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
