"""The Impressum (§ 5 DDG, § 18 MStV): who runs the platform, public and linked in every page's
footer. Its content is configuration (PIX_IMPRESSUM_*), not code: the operator changes an
address without a release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pix_gateway.pages import UI

router = APIRouter()


class ImpressumSettings(BaseSettings):
    """The provider's details; `address` may span lines (a newline, or "\\n" in the setting)."""

    model_config = SettingsConfigDict(env_prefix="PIX_IMPRESSUM_", extra="ignore")

    company: str = ""
    represented_by: str = ""
    address: str = ""
    email: str = ""
    phone: str = ""
    # Not `register`: pydantic's BaseSettings has an attribute of that name.
    register_entry: str = Field(default="", validation_alias="PIX_IMPRESSUM_REGISTER")
    vat_id: str = ""
    responsible: str = ""

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.replace("\\n", "\n").splitlines() if line]

    @property
    def missing(self) -> list[str]:
        """The settings the law asks for (name, address, a quick way to reach us) not set."""
        required = {"company": self.company, "address": self.address, "email": self.email}
        return [f"PIX_IMPRESSUM_{name.upper()}" for name, value in required.items() if not value]


def page_ui(request: Request) -> UI:
    ui: UI = request.app.state.ui
    return ui


def impressum_settings() -> ImpressumSettings:
    # Read per request: cheap, and a changed environment needs no restart logic here.
    return ImpressumSettings()


@router.get("/impressum", response_class=HTMLResponse)
async def impressum(
    request: Request,
    ui: Annotated[UI, Depends(page_ui)],
    provider: Annotated[ImpressumSettings, Depends(impressum_settings)],
) -> Response:
    return ui.render(
        request, "impressum.html", await ui.me(request), page="impressum", provider=provider
    )
