from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    # Revocation takes effect within this many seconds (the issue allows 5).
    session_cache_seconds: float = 2.0
    cookie_name: str = "__Host-session"
    # Prometheus metrics on an internal port only (the public port answers 404 for /metrics);
    # unset: none.
    metrics_port: int | None = None
    tidycal_origin: str = "https://tidycal.com"
    # Where browsers upload to and load images from; by default derived from PIX_STORAGE_URL
    # (`pix_runtime.storage.browser_origins`). Set only for a CDN or custom domain in front.
    storage_origins: list[str] = Field(default_factory=list)
    # The booking page's iframe, e.g. https://tidycal.com/pix-immo/shooting (PIX_TIDYCAL_URL).
    tidycal_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PIX_TIDYCAL_URL", "PIX_GATEWAY_TIDYCAL_URL")
    )
