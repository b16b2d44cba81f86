from pix_runtime.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pix_auth.hashing import DEFAULT_MAX_WAIT_SECONDS, DEFAULT_QUEUE, DEFAULT_WORKERS
from pix_auth.throttle import DEFAULT_RULES


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_AUTH_", extra="ignore")

    service_name: str = "auth"
    port: int = 8001
    session_idle_days: int = 7
    session_absolute_days: int = 30
    # e.g. PIX_AUTH_RATE_LIMITS='{"login-ip": "20/minute", ...}' (the `limits` notation)
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    # Password hashes computed at once (threads), allowed to wait and for how long; beyond,
    # sign-ins are refused with 429 and Retry-After.
    hash_workers: int = DEFAULT_WORKERS
    hash_queue: int = DEFAULT_QUEUE
    hash_max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS
    # An organisation's deletion can be cancelled this long; it is locked meanwhile.
    erasure_grace_days: float = 14


class AdminBootstrap(BaseSettings):
    """The first administrator, created on first start (`PIX_ADMIN_EMAIL`, `PIX_ADMIN_PASSWORD`)."""

    model_config = SettingsConfigDict(env_prefix="PIX_ADMIN_", extra="ignore")

    email: str = "admin@pix.immo"
    password: SecretStr | None = None
