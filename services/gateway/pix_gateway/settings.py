from pix_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    # Revocation takes effect within this many seconds (the issue allows 5).
    session_cache_seconds: float = 2.0
    cookie_name: str = "__Host-session"
    tidycal_origin: str = "https://tidycal.com"
