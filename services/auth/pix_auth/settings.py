from pix_runtime.settings import ServiceSettings
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_AUTH_", extra="ignore")

    service_name: str = "auth"
    port: int = 8001
    session_idle_days: int = 7
    session_absolute_days: int = 30


class AdminBootstrap(BaseSettings):
    """The first administrator, created on first start (`PIX_ADMIN_EMAIL`, `PIX_ADMIN_PASSWORD`)."""

    model_config = SettingsConfigDict(env_prefix="PIX_ADMIN_", extra="ignore")

    email: str = "admin@pix.immo"
    password: SecretStr | None = None
