from pix_runtime.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pix_auth.hashing import DEFAULT_QUEUE, DEFAULT_WORKERS
from pix_auth.throttle import DEFAULT_RULES


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_AUTH_", extra="ignore")

    service_name: str = "auth"
    port: int = 8001
    session_idle_days: int = 7
    session_absolute_days: int = 30
    # e.g. PIX_AUTH_RATE_LIMITS='{"login-ip": "20/minute", ...}' (the `limits` notation)
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    # Password hashes computed at once (threads) and allowed to wait; beyond, sign-ins get 503.
    hash_workers: int = DEFAULT_WORKERS
    hash_queue: int = DEFAULT_QUEUE


class AdminBootstrap(BaseSettings):
    """The first administrator, created on first start (`PIX_ADMIN_EMAIL`, `PIX_ADMIN_PASSWORD`)."""

    model_config = SettingsConfigDict(env_prefix="PIX_ADMIN_", extra="ignore")

    email: str = "admin@pix.immo"
    password: SecretStr | None = None
