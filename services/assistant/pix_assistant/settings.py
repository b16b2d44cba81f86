"""The assistant's configuration (env prefix `PIX_ASSISTANT_`); secrets from the environment.

Without `PIX_ASSISTANT_MODEL` the assistant is off: its page says what to set, and nothing else
depends on it.
"""

from typing import Literal

from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict


class Price(BaseModel):
    """What a model costs, in euros per million tokens."""

    input_eur: float = Field(default=0, ge=0)
    output_eur: float = Field(default=0, ge=0)
    # Image models: euros per picture.
    image_eur: float = Field(default=0, ge=0)


# List prices of the seed's models (converted 1:1 from USD; set your own with
# PIX_ASSISTANT_PRICES='{"model": {"input_eur": …, "output_eur": …}}').
DEFAULT_PRICES = {
    "gpt-5.2": Price(input_eur=1.75, output_eur=14.0),
    "gpt-5-mini": Price(input_eur=0.25, output_eur=2.0),
    "gpt-image-1": Price(image_eur=0.04),
    "gemini-2.5-flash-image": Price(image_eur=0.04),
}


class AssistantSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_ASSISTANT_", extra="ignore")

    service_name: str = "assistant"
    port: int = 8022

    # Any OpenAI-compatible Chat Completions endpoint (OpenAI, Azure OpenAI in an EU region,
    # Mistral La Plateforme, IONOS AI Model Hub, Scaleway, a local vLLM/Ollama, ...).
    base_url: str | None = None
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PIX_ASSISTANT_API_KEY", "OPENAI_API_KEY"),
    )
    # The model that answers with tools; unset: the assistant is off.
    model: str | None = None
    # The cheap model that classifies each message and answers smalltalk; defaults to `model`.
    router_model: str | None = None
    max_completion_tokens: int = Field(default=1200, ge=16, le=32_000)
    # The seed's limit: at most this many tool rounds for one answer.
    max_rounds: int = Field(default=8, ge=1, le=20)
    timeout_seconds: float = 60.0
    # A streamed answer sends an SSE comment after this long without an event.
    heartbeat_seconds: float = Field(default=10.0, gt=0)

    prices: dict[str, Price] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    # An organisation's monthly spend (euros) after which the assistant stops calling a model;
    # admins set one per organisation (PUT /admin/budgets/{org_id}).
    monthly_budget_eur: float = Field(default=50.0, ge=0)

    # History beyond this many messages is folded into the conversation's summary.
    summarise_after: int = Field(default=24, ge=4)
    keep_recent: int = Field(default=10, ge=2)
    # A proposed change not confirmed within this time expires.
    action_ttl_minutes: int = Field(default=60, ge=1)
    # Imports: larger files and longer sheets are refused.
    import_max_bytes: int = 1_000_000
    import_max_rows: int = 500

    # Virtual staging: `off`, `openai` (Images edit) or `gemini` (generateContent).
    staging_provider: Literal["off", "openai", "gemini"] = "off"
    staging_base_url: str | None = None
    staging_api_key: SecretStr | None = None
    staging_model: str = "gpt-image-1"
    staging_timeout_seconds: float = 120.0

    @property
    def configured(self) -> bool:
        return bool(self.model)

    @property
    def effective_router_model(self) -> str:
        return self.router_model or self.model or ""
