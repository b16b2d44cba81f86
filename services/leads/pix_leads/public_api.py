"""Routes reachable without a session (under /public/): the website form with its embeddable
script, and Mailgun's inbound Routes webhook (signed; the raw MIME as `body-mime`)."""

from __future__ import annotations

import html
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pix_runtime.errors import Invalid, NotFound, TooLarge
from pix_runtime.http import client_address
from pydantic import ValidationError

from pix_leads.intake import Intake, WebForm
from pix_leads.organisation import OrgSettings
from pix_leads.settings import LeadsSettings

router = APIRouter(prefix="/public")
_TRUE = ("true", "on", "1", "yes", "ja")


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


IntakeDep = Annotated[Intake, Depends(_intake)]


async def _form_fields(request: Request) -> tuple[dict[str, Any], bool]:
    """The submitted fields and whether they came as JSON (from the script) or a form post."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            data = json.loads(await request.body())
        except ValueError as exc:
            raise Invalid("malformed_json", "the body is not JSON") from exc
        if not isinstance(data, dict):
            raise Invalid("invalid", "a JSON object is expected")
        return data, True
    form = await request.form()
    fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    fields["consent"] = str(fields.get("consent", "")).lower() in _TRUE
    return fields, False


@router.post("/forms/{form_key}")
async def submit_form(request: Request, intake: IntakeDep, form_key: str) -> Response:
    fields, as_json = await _form_fields(request)
    try:
        form = WebForm.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise Invalid("invalid", str(first.get("msg", "invalid")), field) from exc
    lead_id = await intake.submit_form(form_key, form, client_address(request))
    if as_json:
        # A bot caught by the honeypot gets the same answer as a person.
        return JSONResponse({"ok": True}, status_code=201 if lead_id else 200)
    thanks = (
        "Thank you! We will get back to you shortly."
        if form.locale.startswith("en")
        else "Vielen Dank! Wir melden uns in Kürze bei Ihnen."
    )
    return HTMLResponse(f"<!DOCTYPE html><meta charset=utf-8><p>{html.escape(thanks)}</p>")


@router.get("/forms/{form_key}/embed.js")
async def embed_script(request: Request, form_key: str) -> Response:
    """The form, written where the script tag stands, posted in the background."""
    org: OrgSettings = request.app.state.org
    view = await org.by_form_key(form_key)
    if view is None:
        raise NotFound("form")
    de = view.locale == "de"
    thanks = "Danke!" if de else "Thank you!"
    failed = "Bitte später erneut versuchen." if de else "Please try again later."
    script = f"""(function () {{
  var html = {json.dumps(view.snippet_html)};
  var here = document.currentScript;
  var box = document.createElement("div");
  box.innerHTML = html;
  here.parentNode.insertBefore(box, here);
  var form = box.querySelector("form");
  form.addEventListener("submit", function (event) {{
    event.preventDefault();
    // A plain form post (no preflight, no CORS): the page answers, the script shows thanks.
    fetch(form.action, {{method: "POST", mode: "no-cors",
      body: new URLSearchParams(new FormData(form))}}).then(function () {{
      form.innerHTML = "<p>{thanks}</p>";
    }}, function () {{
      form.innerHTML = "<p>{failed}</p>";
    }});
  }});
}})();
"""
    return Response(
        script,
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.post("/mailgun/inbound")
@router.post("/mailgun/mime")
async def mailgun_inbound(request: Request, intake: IntakeDep) -> JSONResponse:
    """Mailgun Routes `forward("https://…/public/mailgun/mime")`: Mailgun posts the full MIME
    as `body-mime` when the URL ends in `mime`. A 2xx tells Mailgun it was taken; anything else
    makes it retry, so 200 follows only after the message is stored and recorded."""
    settings: LeadsSettings = request.app.state.settings
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise Invalid("length_required", "send the message with a Content-Length")
    # The form's own fields (signature, sender, …) come on top of the message itself.
    if int(declared) > settings.max_message_bytes + 64 * 1024:
        raise TooLarge("too_large", f"messages over {settings.max_message_bytes} bytes")
    form = await request.form(max_part_size=settings.max_message_bytes)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    key = settings.mailgun_webhook_signing_key
    await intake.verify_mailgun(
        signing_key=key.get_secret_value() if key else None,
        timestamp=fields.get("timestamp", ""),
        token=fields.get("token", ""),
        signature=fields.get("signature", ""),
        tolerance=settings.mailgun_tolerance_seconds,
    )
    raw = fields.get("body-mime")
    if not raw:
        raise Invalid(
            "required", "body-mime is missing (route to a URL ending in /mime)", "body-mime"
        )
    recipients = [r.strip() for r in fields.get("recipient", "").split(",") if r.strip()]
    received = await intake.receive(
        raw.encode("utf-8", errors="surrogateescape"),
        channel="mailgun",
        mail_from=fields.get("sender"),
        rcpt_to=recipients,
    )
    return JSONResponse({"id": str(received.id), "status": received.status})
