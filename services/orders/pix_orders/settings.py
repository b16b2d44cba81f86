from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from pix_orders.catalogue import DEFAULT_PRICES_CENTS


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_ORDERS_", extra="ignore")

    service_name: str = "orders"
    port: int = 8002
    # e.g. PIX_ORDERS_PRICES='{"photos": 22900, "drone": 14900}' (cents, gross); keys left out
    # keep their default price. An order stores the prices it was placed with.
    prices: dict[str, int] = Field(default_factory=dict)
    # Address autocomplete (Google Places API (New)); without a key the form works without it.
    # The key is a platform-wide name (no PIX_ORDERS_ prefix) because the product docs use it.
    google_places_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PIX_GOOGLE_PLACES_KEY", "google_places_key"),
    )
    google_places_base_url: str = Field(
        default="https://places.googleapis.com",
        validation_alias=AliasChoices("PIX_GOOGLE_PLACES_BASE_URL", "google_places_base_url"),
    )
    google_places_timeout_seconds: float = 5.0

    @field_validator("prices")
    @classmethod
    def _known_services(cls, prices: dict[str, int]) -> dict[str, int]:
        # A typo in the configuration must stop the service, not silently keep an old price.
        unknown = sorted(set(prices) - set(DEFAULT_PRICES_CENTS))
        if unknown:
            raise ValueError(f"unknown services in PIX_ORDERS_PRICES: {', '.join(unknown)}")
        if any(cents < 0 for cents in prices.values()):
            raise ValueError("prices must not be negative")
        return prices

    @property
    def price_list_cents(self) -> dict[str, int]:
        return {**DEFAULT_PRICES_CENTS, **self.prices}
