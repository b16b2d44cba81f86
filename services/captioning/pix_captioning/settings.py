from typing import Literal

from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class CaptioningSettings(ServiceSettings):
    """Caption workers. Provider secrets are `SecretStr`, read from the environment only."""

    # populate_by_name: tests and tools may pass field names next to the env aliases.
    model_config = SettingsConfigDict(
        env_prefix="PIX_CAPTIONING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "captioning"
    port: int = 8004
    # DESIGN.md names it PIX_CAPTION_PROVIDER; both spellings work.
    provider: Literal["offline", "replicate", "openai"] = Field(
        default="offline",
        validation_alias=_env("PIX_CAPTION_PROVIDER", "PIX_CAPTIONING_PROVIDER"),
    )
    # Events handled at once by one worker process (one Kafka consumer; events of one asset
    # in order, different assets side by side — see `consumer`). Not capped by partitions.
    concurrency: int = Field(default=1, ge=1, le=64)
    # How long one fetch waits for new upload events: Kafka's own default (fetch.max.wait.ms).
    # Kafka answers as soon as an event arrives; Tansu answers only when the wait runs out, so
    # there a new upload waits up to this long to be picked up — a quarter of a second on
    # average, beside captions that take seconds. An idle worker polls 1000/fetch_wait times a
    # second, each poll decoding every owned partition: at 100 ms that was 20 ms CPU a second
    # per worker and 43 ms in Tansu, at 500 ms 12 and 14 (`tests/perf`, idle worker).
    fetch_wait_ms: int = Field(default=500, ge=5, le=5000)

    # Replicate (CogVLM by default).
    replicate_api_token: SecretStr | None = Field(
        default=None, validation_alias=_env("REPLICATE_API_TOKEN", "PIX_CAPTIONING_REPLICATE_TOKEN")
    )
    replicate_model: str = Field(
        default="cjwbw/cogvlm",
        validation_alias=_env("PIX_CAPTION_REPLICATE_MODEL", "PIX_CAPTIONING_REPLICATE_MODEL"),
    )
    # A version id pins the model; without one the model's latest version runs.
    replicate_version: str | None = Field(
        default=None,
        validation_alias=_env("PIX_CAPTION_REPLICATE_VERSION", "PIX_CAPTIONING_REPLICATE_VERSION"),
    )
    replicate_base_url: str | None = Field(
        default=None,
        validation_alias=_env("REPLICATE_BASE_URL", "PIX_CAPTIONING_REPLICATE_BASE_URL"),
    )
    replicate_poll_seconds: float = 0.5
    # The public URL Replicate POSTs finished predictions to: the gateway's
    # /api/captioning/webhooks/replicate. Unset: the worker polls each prediction instead.
    replicate_webhook_url: str | None = Field(
        default=None,
        validation_alias=_env(
            "PIX_CAPTION_REPLICATE_WEBHOOK_URL", "PIX_CAPTIONING_REPLICATE_WEBHOOK_URL"
        ),
    )
    # The webhook signing secret (whsec_…); unset, it is fetched once from Replicate.
    replicate_webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_env(
            "REPLICATE_WEBHOOK_SECRET", "PIX_CAPTIONING_REPLICATE_WEBHOOK_SECRET"
        ),
    )
    # A prediction without its webhook this long after it was created is asked for instead
    # (the reconciler, a periodic job, runs every `reconcile_every_seconds`).
    replicate_webhook_grace_seconds: float = 60.0
    reconcile_every_seconds: float = 15.0

    # Any OpenAI-compatible vision chat endpoint (OpenAI, vLLM, Ollama, Modal).
    openai_base_url: str | None = Field(
        default=None, validation_alias=_env("PIX_CAPTION_BASE_URL", "PIX_CAPTIONING_BASE_URL")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("PIX_CAPTION_API_KEY", "PIX_CAPTIONING_API_KEY")
    )
    openai_model: str = Field(
        default="gpt-4o-mini", validation_alias=_env("PIX_CAPTION_MODEL", "PIX_CAPTIONING_MODEL")
    )
    # data_url works with servers that cannot reach our storage; signed_url sends less.
    openai_image: Literal["data_url", "signed_url"] = "data_url"

    # One provider call may take this long before it counts as a (retryable) timeout.
    provider_timeout_seconds: float = 120.0
    # Attempts per caption (first call included), exponential backoff with full jitter.
    attempts: int = Field(default=4, ge=1, le=10)
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    # Consecutive failures that open a provider's circuit, and how long it stays open.
    breaker_threshold: int = 5
    breaker_reset_seconds: float = 30.0
    signed_url_seconds: int = 600
    lag_every_seconds: float = 5.0
