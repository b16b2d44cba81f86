"""The web UI: server-rendered pages (Jinja2), HTMX for the parts that refresh themselves.

Every page talks to the services through `Backend` with the visitor's signed identity, so the
services' own authorisation applies to the UI exactly as to the API.
"""

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, quote

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pix_runtime.identity import Identity
from pix_runtime.logging import current_correlation_id, get_logger

from pix_gateway import formats
from pix_gateway.clients.auth_models import SessionView
from pix_gateway.clients.base import ServiceError, Unavailable
from pix_gateway.clients.base import error_of as service_error_of
from pix_gateway.i18n import LOCALES, Locale, translate
from pix_gateway.service import AuthUnavailable, Backend, SessionChecker, csrf_allowed
from pix_gateway.settings import GatewaySettings

FORM_LIMIT = 64 * 1024
SESSION_COOKIE_SECONDS = 30 * 24 * 3600
# The browser's trusted-device token, sent to auth on sign-in (see pix_auth.devices).
DEVICE_COOKIE = "__Host-device"
DEVICE_HEADER = "x-pix-device"
DEVICE_COOKIE_SECONDS = 365 * 24 * 3600

log = get_logger(__name__)


def set_device_cookie(response: Response, device_token: str) -> None:
    """The browser's trusted-device token (OWASP device cookies): its next sign-in to the same
    account is not held back by strangers' failed guesses."""
    response.set_cookie(
        DEVICE_COOKIE,
        device_token,
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
        max_age=DEVICE_COOKIE_SECONDS,
    )


class PageError(Exception):
    """Ends a page request with a friendly HTML error page."""

    def __init__(self, status: int, message_key: str) -> None:
        super().__init__(message_key)
        self.status = status
        self.message_key = message_key


Answer = TypeVar("Answer")


async def served(answer: Awaitable[Answer]) -> Answer:
    """A typed client's answer; a refusal (4xx) is the page's to show, a failure (5xx) ends
    the page with 503."""
    try:
        return await answer
    except Unavailable as exc:
        raise PageError(503, "error.503") from exc


class LoginRequired(Exception):
    """Sends the visitor to the login page, and back here afterwards."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


# A service's refusal: a typed client's ServiceError, or the answer of a raw `backend.call`.
Refusal = httpx.Response | ServiceError


def status_of(refusal: Refusal) -> int:
    return refusal.status if isinstance(refusal, ServiceError) else refusal.status_code


def error_of(response: Refusal) -> tuple[str, str | None]:
    refusal = response if isinstance(response, ServiceError) else service_error_of(response)
    return refusal.code or "invalid", refusal.field


class UI:
    def __init__(
        self,
        settings: GatewaySettings,
        backend: Backend,
        sessions: SessionChecker,
        templates: Jinja2Templates,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.sessions = sessions
        self.templates = templates

    def locale(self, request: Request, me: Identity | None) -> Locale:
        chosen = request.cookies.get("lang")
        if chosen in LOCALES:
            return chosen
        if me is not None:
            return me.locale
        accept = request.headers.get("accept-language", "")
        return "en" if accept.lower().startswith("en") else "de"

    async def me(self, request: Request) -> Identity | None:
        token = request.cookies.get(self.settings.cookie_name)
        if not token:
            return None
        try:
            return await self.sessions.identity(token)
        except AuthUnavailable as exc:
            raise PageError(503, "error.503") from exc

    def render(
        self, request: Request, name: str, me: Identity | None, *, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        locale = self.locale(request, me)

        def t(key: str, **values: object) -> str:
            return translate(key, locale, **values)

        context = {
            "me": me,
            "locale": locale,
            "t": t,
            # Numbers, money, dates and times in the page's language (pix_gateway.formats).
            "money": lambda cents: formats.money_cents(cents, locale),
            "eur": lambda euros: formats.money(euros, locale),
            "num": lambda value: formats.number(value, locale),
            "area": lambda m2: formats.area(m2, locale),
            "day": lambda value: formats.day(value, locale),
            "when": lambda value: formats.when(value, locale),
            "request_path": quote(request.url.path),
            "errors": {},
            "message": None,
            "message_kind": "info",
            **ctx,
        }
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        if me is not None:
            # The signed-in user's own data: no shared or browser cache may keep it.
            response.headers["cache-control"] = "no-store"
        return response

    async def form_of(self, request: Request) -> dict[str, str]:
        """The posted form, after the CSRF check."""
        if not csrf_allowed(request.method, request.headers, self.settings.platform.public_url):
            raise PageError(403, "error.csrf")
        return await read_form(request)

    async def signed_in(self, request: Request) -> Identity:
        me = await self.me(request)
        if me is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(path)
        return me

    def refusal(
        self, request: Request, me: Identity | None, response: Refusal, field: str
    ) -> dict[str, Any]:
        """Page context that shows a service's refusal on the form that caused it."""
        errors, message = self.field_errors(request, me, response, field)
        return {
            "status": status_of(response),
            "errors": errors,
            "message": message,
            "message_kind": "error",
        }

    def field_errors(
        self, request: Request, me: Identity | None, response: Refusal, default_field: str
    ) -> tuple[dict[str, str], str | None]:
        """A service's error as a message under the right field (or on top of the form)."""
        code, field = error_of(response)
        text = translate(f"error.{code}", self.locale(request, me))
        if text == f"error.{code}":
            text = translate("error.invalid", self.locale(request, me))
        if status_of(response) == 429:
            return {}, translate("error.rate_limited", self.locale(request, me))
        if field or code in ("weak_password", "common_password", "password_too_long"):
            return {field or default_field: text}, None
        return {}, text


async def read_form(request: Request) -> dict[str, str]:
    """URL-encoded form fields (our forms only), bounded in size."""
    body = await request.body()
    if len(body) > FORM_LIMIT:
        raise PageError(413, "error.invalid")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


async def current_ui(request: Request) -> UI:
    ui: UI = request.app.state.ui
    return ui


# The page toolkit (backend, templates, the signed-in user): `ui: PageUI` in a page route.
PageUI = Annotated[UI, Depends(current_ui)]


def client_ip(request: Request) -> str:
    """The browser's address as this process sees it (uvicorn resolves trusted proxies only,
    see PIX_FORWARDED_ALLOW_IPS); the only source auth's rate limits may count on."""
    return request.client.host if request.client else ""


router = APIRouter()


def set_session_cookie(ui: UI, response: Response, token: str) -> None:
    response.set_cookie(
        ui.settings.cookie_name,
        token,
        httponly=True,
        secure=True,
        samesite="lax",
        path="/",
        max_age=SESSION_COOKIE_SECONDS,
    )


# --- public pages -------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(ui: PageUI, request: Request) -> Response:
    return ui.render(request, "home.html", await ui.me(request), page="home")


@router.get("/privacy", response_class=HTMLResponse)
async def privacy(ui: PageUI, request: Request) -> Response:
    return ui.render(request, "privacy.html", await ui.me(request), page="privacy")


@router.get("/lang/{locale}")
async def switch_language(ui: PageUI, locale: str, request: Request, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next) if next != "/" else "/", status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            "lang", locale, max_age=365 * 24 * 3600, samesite="lax", secure=True, path="/"
        )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(ui: PageUI, request: Request, next: str = "/dashboard") -> Response:
    me = await ui.me(request)
    if me is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return ui.render(request, "login.html", None, page="login", next=safe_next(next), email="")


@router.post("/login", response_class=HTMLResponse)
async def login(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    response = await ui.backend.call(
        "POST",
        "auth",
        "/login",
        json={"email": form.get("email", ""), "password": form.get("password", "")},
        client_ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        headers={DEVICE_HEADER: request.cookies.get(DEVICE_COOKIE, "")},
    )
    if not response.is_success:
        _, message = ui.field_errors(request, None, response, "password")
        return ui.render(
            request,
            "login.html",
            None,
            status=response.status_code,
            page="login",
            next=safe_next(form.get("next")),
            email=form.get("email", ""),
            message=message,
            message_kind="error",
        )
    session = SessionView.model_validate_json(response.content)
    redirect = RedirectResponse(safe_next(form.get("next")), status_code=303)
    set_session_cookie(ui, redirect, session.token)
    set_device_cookie(redirect, session.device_token)
    return redirect


@router.post("/logout")
async def logout(ui: PageUI, request: Request) -> Response:
    await ui.form_of(request)
    token = request.cookies.get(ui.settings.cookie_name)
    if token:
        ui.sessions.forget(token)
        await ui.backend.call("POST", "auth", "/sessions/revoke", json={"token": token})
    redirect = RedirectResponse("/", status_code=303)
    redirect.delete_cookie(ui.settings.cookie_name, path="/", secure=True, httponly=True)
    return redirect


@router.get("/register", response_class=HTMLResponse)
async def register_page(ui: PageUI, request: Request) -> Response:
    return ui.render(request, "register.html", await ui.me(request), page="register", form={})


@router.post("/register", response_class=HTMLResponse)
async def register(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    fields = {k: form.get(k, "") for k in ("name", "company", "email", "password")}
    locale = form.get("locale") if form.get("locale") in LOCALES else "de"
    response = await ui.backend.call(
        "POST",
        "auth",
        "/register",
        json={**fields, "locale": locale},
        client_ip=client_ip(request),
    )
    if not response.is_success:
        errors, message = ui.field_errors(request, None, response, "password")
        return ui.render(
            request,
            "register.html",
            None,
            status=response.status_code,
            page="register",
            form=fields,
            errors=errors,
            message=message,
            message_kind="error",
        )
    return ui.render(
        request,
        "register.html",
        None,
        page="register",
        form={},
        done=True,
        message=translate("register.done", ui.locale(request, None)),
        message_kind="ok",
    )


@router.get("/verify-email", response_class=HTMLResponse)
async def verify_email(ui: PageUI, request: Request, token: str = "") -> Response:
    me = await ui.me(request)
    response = await ui.backend.call("POST", "auth", "/verify-email", json={"token": token})
    ok = response.is_success
    key = "verify.done" if ok else "link.invalid"
    return ui.render(
        request,
        "verify.html",
        me,
        status=200 if ok else 400,
        message=translate(key, ui.locale(request, me)),
        message_kind="ok" if ok else "error",
    )


@router.post("/verify-email/resend")
async def resend_verification(ui: PageUI, request: Request) -> Response:
    await ui.form_of(request)
    me = await ui.signed_in(request)
    await ui.backend.call("POST", "auth", "/verify-email/resend", identity=me)
    return RedirectResponse("/dashboard?resent=1", status_code=303)


@router.get("/forgot-password", response_class=HTMLResponse)
async def forgot_page(ui: PageUI, request: Request) -> Response:
    return ui.render(request, "forgot.html", await ui.me(request), page="login")


@router.post("/forgot-password", response_class=HTMLResponse)
async def forgot(ui: PageUI, request: Request) -> Response:
    form = await ui.form_of(request)
    response = await ui.backend.call(
        "POST",
        "auth",
        "/password/forgot",
        json={"email": form.get("email", "")},
        client_ip=client_ip(request),
    )
    locale = ui.locale(request, None)
    if response.status_code == 429:
        return ui.render(
            request,
            "forgot.html",
            None,
            status=429,
            page="login",
            message=translate("error.rate_limited", locale),
            message_kind="error",
        )
    # The same answer whether or not the address has an account.
    return ui.render(
        request,
        "forgot.html",
        None,
        page="login",
        done=True,
        message=translate("forgot.done", locale),
        message_kind="ok",
    )


async def new_password_page(ui: UI, request: Request, action: str, title_key: str) -> Response:
    token = request.query_params.get("token", "")
    return ui.render(request, "reset.html", None, action=action, title_key=title_key, token=token)


async def set_new_password(ui: UI, request: Request, action: str, title_key: str) -> Response:
    form = await ui.form_of(request)
    response = await ui.backend.call(
        "POST",
        "auth",
        "/password/reset",
        json={"token": form.get("token", ""), "password": form.get("password", "")},
    )
    locale = ui.locale(request, None)
    if response.is_success:
        return ui.render(
            request,
            "reset.html",
            None,
            action=action,
            title_key=title_key,
            done=True,
            message=translate("reset.done", locale),
            message_kind="ok",
        )
    code, _ = error_of(response)
    if code == "link_invalid":
        return ui.render(
            request,
            "reset.html",
            None,
            status=400,
            action=action,
            title_key=title_key,
            done=True,
            message=translate("link.invalid", locale),
            message_kind="error",
        )
    errors, message = ui.field_errors(request, None, response, "password")
    return ui.render(
        request,
        "reset.html",
        None,
        status=response.status_code,
        action=action,
        title_key=title_key,
        token=form.get("token", ""),
        errors=errors,
        message=message,
        message_kind="error",
    )


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_page(ui: PageUI, request: Request) -> Response:
    return await new_password_page(ui, request, "/reset-password", "reset.title")


@router.post("/reset-password", response_class=HTMLResponse)
async def reset(ui: PageUI, request: Request) -> Response:
    return await set_new_password(ui, request, "/reset-password", "reset.title")


@router.get("/accept-invitation", response_class=HTMLResponse)
async def invitation_page(ui: PageUI, request: Request) -> Response:
    return await new_password_page(ui, request, "/accept-invitation", "invite.title")


@router.post("/accept-invitation", response_class=HTMLResponse)
async def accept_invitation(ui: PageUI, request: Request) -> Response:
    return await set_new_password(ui, request, "/accept-invitation", "invite.title")


def install_page_errors(app: Any, ui: UI) -> None:
    """HTML error pages for the UI, the JSON error shape for /api."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return error_page(request, exc.status, exc.message_key)

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith("/api/"):
            codes = {404: "not_found", 405: "not_allowed"}
            return JSONResponse(
                {
                    "error": {
                        "code": codes.get(exc.status_code, "http_error"),
                        "message": str(exc.detail),
                    }
                },
                status_code=exc.status_code,
            )
        return error_page(request, exc.status_code, "error.404")

    async def service_unreachable(request: Request, exc: Exception) -> Response:
        # A service behind a page is down or too slow: say so in the page's language, with
        # the cause in the log, instead of a bare 500.
        log.warning(
            "page.service_unreachable",
            path=request.url.path,
            error=f"{exc.__class__.__name__}: {exc}",
        )
        response = error_page(request, 503, "error.503")
        response.headers["retry-after"] = "5"
        return response

    def error_page(request: Request, status: int, key: str) -> Response:
        locale = ui.locale(request, None)
        return ui.render(
            request,
            "error.html",
            None,
            status=status,
            message=translate(key, locale),
            status_code=status,
            request_id=current_correlation_id() or "",
        )

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(httpx.TransportError, service_unreachable)
    app.add_exception_handler(StarletteHTTPException, not_found)
