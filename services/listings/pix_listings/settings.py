"""Listings' configuration, from the environment only (prefix `PIX_LISTINGS_`).

Embeddings and description drafts run offline by default; an OpenAI-compatible endpoint is
chosen with `PIX_LISTINGS_EMBEDDING_PROVIDER=openai` / `PIX_LISTINGS_DRAFT_PROVIDER=openai` and
its base URL, key and model.
"""

from __future__ import annotations

from typing import Literal

from pix_runtime.embeddings import EmbeddingSettings
from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict


class ListingsSettings(ServiceSettings, EmbeddingSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_LISTINGS_", extra="ignore")

    service_name: str = "listings"
    port: int = 8008

    # Description drafts: `offline` composes them from captions and facts; `openai` asks any
    # OpenAI-compatible chat model. Either way the result is an editable draft.
    draft_provider: Literal["offline", "openai"] = "offline"
    draft_base_url: str | None = None
    draft_api_key: SecretStr | None = None
    draft_model: str = "gpt-4o-mini"
    draft_timeout_seconds: float = 60.0

    # Matching: a listing up to this share over the lead's budget still matches (with the
    # overshoot named in the reasons).
    budget_tolerance: float = 0.10
    # How much the semantic similarity adds to the rule score (0..1).
    semantic_weight: float = 0.35

    # "Nearby" in matching: a listing within this many km of the lead's wished place (unless
    # their words name a radius); in price estimates comparables within this many km count first.
    match_radius_km: float = Field(default=10.0, gt=0, le=200)
    price_radius_km: float = Field(default=5.0, gt=0, le=100)
    # Coordinates from Google's Geocoding API with the platform's Google key (the one orders'
    # address autocomplete uses); without it "nearby" means the same postcode area.
    google_maps_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PIX_GOOGLE_PLACES_KEY", "google_maps_key"),
    )
    google_geocoding_base_url: str = Field(
        default="https://maps.googleapis.com",
        validation_alias=AliasChoices("PIX_GOOGLE_GEOCODING_BASE_URL", "google_geocoding_base_url"),
    )
    google_geocoding_timeout_seconds: float = 5.0

    # Exposés: public links stay valid this long.
    expose_link_days: int = 30
    # Photos are scaled to this long edge before they go into an exposé (A4 at ~150 dpi).
    expose_photo_px: int = 1400
