from typing import Literal

from pix_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class CaptioningSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_CAPTIONING_", extra="ignore")

    service_name: str = "captioning"
    port: int = 8004
    provider: Literal["offline"] = "offline"
