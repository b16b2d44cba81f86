from pix_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class MediaSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_MEDIA_", extra="ignore")

    service_name: str = "media"
    port: int = 8003
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    upload_url_seconds: int = 3600
    web_edge: int = 2000
    thumb_edge: int = 400
    # A processed photo without a caption after this long is announced again.
    caption_timeout_seconds: float = 300
    reconcile_every_seconds: float = 60
