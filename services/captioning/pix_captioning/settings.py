from typing import Literal

from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict


class CaptioningSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_CAPTIONING_", extra="ignore")

    service_name: str = "captioning"
    port: int = 8004
    # DESIGN.md names it PIX_CAPTION_PROVIDER; both spellings work.
    provider: Literal["offline"] = Field(
        default="offline",
        validation_alias=AliasChoices("PIX_CAPTION_PROVIDER", "PIX_CAPTIONING_PROVIDER"),
    )
