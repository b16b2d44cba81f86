from pix_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class ExportSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_EXPORT_", extra="ignore")

    service_name: str = "export"
    port: int = 8005
    download_url_seconds: int = 7 * 24 * 3600
