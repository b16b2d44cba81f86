from pix_runtime.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class ExportSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_EXPORT_", extra="ignore")

    service_name: str = "export"
    port: int = 8005
    download_url_seconds: int = 7 * 24 * 3600

    # Debounce: a gallery with changed captions gets a new version once it has been quiet this
    # long, or at the latest this long after its first unexported change. A gallery whose
    # photos are all captioned (or failed) gets its version at once: the "final" one.
    debounce_quiet_seconds: float = 5.0
    debounce_max_seconds: float = 60.0
    # Each change plants the job that builds the next version when it is due; this periodic
    # sweep only catches what planted none (a build that failed past its retries).
    flush_every_seconds: float = 60.0

    # Webhooks.
    secrets_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 random bytes (AES-256-GCM key for stored webhook secrets "
        "and CRM credentials); to rotate, list the new key first, comma-separated, and keep the "
        "old one until every secret was saved again; without it a key is derived from "
        "PIX_INTERNAL_KEY with HKDF (development only)",
    )
    allow_insecure_webhooks: bool = Field(
        default=False, description="Allow http://127.0.0.1 / localhost endpoints (tests, dev)"
    )
    webhook_timeout_seconds: float = 10.0
    # Retries: the `export.deliver-webhook` job's RetryPolicy (backoff from the base doubling,
    # with jitter, at most `webhook_retry_max_seconds` apart) until `webhook_give_up_hours` after
    # the event (14 to 18 attempts), `webhook_max_attempts` at most, then `failed`.
    webhook_retry_base_seconds: float = 30.0
    webhook_retry_max_seconds: float = 6 * 3600.0
    webhook_give_up_hours: float = 24.0
    webhook_max_attempts: int = 20

    # CRM push (onOffice apiv2, Propstack API v1); the URLs are settings so tests and staging
    # can point them at their own servers.
    onoffice_url: str = "https://api.onoffice.de/api/stable/api.php"
    propstack_url: str = "https://api.propstack.de/v1"
    crm_timeout_seconds: float = 30.0
    # Retries: the `export.push-crm` job's RetryPolicy, like the webhooks' (a CRM's Retry-After
    # honoured), for `crm_give_up_hours` from the push (or its manual retry) on.
    crm_retry_base_seconds: float = 30.0
    crm_retry_max_seconds: float = 6 * 3600.0
    crm_give_up_hours: float = 24.0
    crm_max_attempts: int = 20
    # A push (all of a version's photos) still running this long was left by a crash; it is
    # taken over and resumes after the last accepted photo.
    crm_lease_seconds: float = 30 * 60.0

    # OpenImmo `anbieter`: who sends the file.
    openimmo_anid: str = "PIXIMMO"
    openimmo_firma: str = "pix.immo"
