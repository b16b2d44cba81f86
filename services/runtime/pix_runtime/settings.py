"""Configuration from the environment only. Secrets are `SecretStr` and never logged.

`PlatformSettings` (prefix `PIX_`) holds what every service shares; each service's own settings
(prefix `PIX_<SERVICE>_`) subclass `ServiceSettings` and may override the database URL.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Only for local development: `make run` and the tests set a real random key. A service refuses
# to start with this value when PIX_ENV=production.
DEV_INTERNAL_KEY = "dev-only-internal-key-change-me"


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "postgresql+asyncpg://postgres@localhost:5432/pix"
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Services create the declared topics at start unless the cluster forbids it (then apply
    # deploy/k8s/kafka-topics.yaml). Replication: 1 outside production, 3 with
    # min.insync.replicas 2 in production, unless set.
    kafka_create_topics: bool = True
    # Each service migrates its schema at start (under an advisory lock); where a deploy runs
    # the migrations as a Job first (deploy/k8s/migrations), replicas skip it.
    migrate_on_start: bool = True
    # Whether this process runs the service's job loop (its periodic jobs included). A replica
    # that should only receive, such as a leads SMTP intake under load, sets it off and leaves
    # the jobs it enqueues to the replicas that run them (Immich's server/worker split).
    run_jobs: bool = True
    kafka_replication_factor: int | None = Field(default=None, ge=1)
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1)
    storage_url: str = "file://.pix/storage"
    public_url: str = Field(
        default="http://localhost:8000", description="Where browsers reach the gateway"
    )
    internal_key: SecretStr = SecretStr(DEV_INTERNAL_KEY)
    log_json: bool | None = Field(default=None, description="JSON logs; default: when not a TTY")
    log_level: str = "INFO"
    # Proxies (e.g. the ingress) whose X-Forwarded-For uvicorn may believe; none by default,
    # so a client cannot choose the address that rate limits count.
    forwarded_allow_ips: str = ""
    # Where a service reaches the others' HTTP APIs (the gateway uses these).
    auth_url: str = "http://127.0.0.1:8001"
    orders_url: str = "http://127.0.0.1:8002"
    media_url: str = "http://127.0.0.1:8003"
    captioning_url: str = "http://127.0.0.1:8004"
    export_url: str = "http://127.0.0.1:8005"
    notify_url: str = "http://127.0.0.1:8006"
    leads_url: str = "http://127.0.0.1:8007"
    listings_url: str = "http://127.0.0.1:8008"
    billing_url: str = "http://127.0.0.1:8021"
    assistant_url: str = "http://127.0.0.1:8022"

    @property
    def replication_factor(self) -> int:
        if self.kafka_replication_factor is not None:
            return self.kafka_replication_factor
        return 3 if self.env == "production" else 1

    @property
    def min_insync_replicas(self) -> int:
        if self.kafka_min_insync_replicas is not None:
            return self.kafka_min_insync_replicas
        return min(2, self.replication_factor)

    def check_production(self) -> None:
        if self.env == "production" and self.internal_key.get_secret_value() == DEV_INTERNAL_KEY:
            raise RuntimeError("PIX_INTERNAL_KEY must be set to a random secret in production")


class ServiceSettings(BaseSettings):
    """Base of every service's settings; subclasses set `env_prefix` and their defaults."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = None
    db_pool_size: int = 5
    platform: PlatformSettings = Field(default_factory=PlatformSettings)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.platform.database_url

    @property
    def db_schema(self) -> str:
        return self.service_name
