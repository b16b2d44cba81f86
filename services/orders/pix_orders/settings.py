from pix_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_ORDERS_", extra="ignore")

    service_name: str = "orders"
    port: int = 8002
