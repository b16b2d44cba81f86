from pathlib import Path
from typing import Literal

from pix_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_NOTIFY_", extra="ignore")

    service_name: str = "notify"
    port: int = 8006
    provider: Literal["outbox"] = "outbox"
    outbox_dir: Path = Path(".pix/mail")
    sender: str = "pix.immo <noreply@pix.immo>"
