"""What can be ordered: the services of a shoot, their names and default prices."""

from __future__ import annotations

from dataclasses import dataclass

from pix_orders.i18n import CATALOGUE

# Gross prices in euro cents; PIX_ORDERS_PRICES overrides them per key.
DEFAULT_PRICES_CENTS: dict[str, int] = {
    "photos": 19900,
    "drone": 14900,
    "tour360": 17900,
    "floorplan": 8900,
    "video": 29900,
}

PROPERTY_TYPES = ("apartment", "house", "commercial", "land")
# Offered for sale (Kauf) or for rent (Miete).
MARKETING = ("sale", "rent")
COUNTRIES = ("DE", "AT", "CH")
WINDOWS = ("morning", "afternoon", "all_day")
LOCALES = ("de", "en")
CURRENCY = "EUR"


@dataclass(frozen=True)
class PriceListEntry:
    key: str
    label_de: str
    label_en: str
    price_cents: int


def price_list(prices_cents: dict[str, int]) -> list[PriceListEntry]:
    """The services in their display order, with the configured prices."""
    return [
        PriceListEntry(
            key,
            CATALOGUE.gettext("de", f"service.{key}"),
            CATALOGUE.gettext("en", f"service.{key}"),
            prices_cents[key],
        )
        for key in DEFAULT_PRICES_CENTS
    ]
