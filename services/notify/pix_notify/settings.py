"""Notify's configuration. Provider secrets come from the environment only and are never logged.

`PIX_MAIL_PROVIDER` (or `PIX_NOTIFY_PROVIDER`) chooses how mail leaves: `outbox` (development,
`.eml` files), `mailgun` (HTTP API, `MAILGUN_*`) or `smtp` (aiosmtplib, `PIX_SMTP_*`).
"""

from pathlib import Path
from typing import Literal

from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# EU region by default: GDPR-minded, mail content stays in the EU. US: https://api.mailgun.net
MAILGUN_EU_API = "https://api.eu.mailgun.net"


class MailgunSettings(BaseSettings):
    """`MAILGUN_API_KEY`, `MAILGUN_DOMAIN`, `MAILGUN_API_BASE`, `MAILGUN_WEBHOOK_SIGNING_KEY`."""

    model_config = SettingsConfigDict(env_prefix="MAILGUN_", extra="ignore")

    api_key: SecretStr | None = None
    domain: str | None = None
    api_base: str = MAILGUN_EU_API
    # The "HTTP webhook signing key" of the Mailgun account (not the API key).
    webhook_signing_key: SecretStr | None = None
    timeout_seconds: float = 15.0


class SmtpSettings(BaseSettings):
    """`PIX_SMTP_HOST`, `PIX_SMTP_PORT`, `PIX_SMTP_USER`, `PIX_SMTP_PASSWORD`, `PIX_SMTP_START_TLS`.

    Production keeps `start_tls` on (port 587) or uses implicit TLS (`use_tls`, port 465); turning
    both off sends credentials and mail in clear text and is only meant for a local test server.
    """

    model_config = SettingsConfigDict(env_prefix="PIX_SMTP_", extra="ignore")

    host: str | None = None
    port: int = 587
    user: str | None = None
    password: SecretStr | None = None
    start_tls: bool = True
    use_tls: bool = False
    timeout_seconds: float = 30.0


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIX_NOTIFY_", extra="ignore", populate_by_name=True
    )

    service_name: str = "notify"
    port: int = 8006
    # The platform-wide name (DESIGN.md) first; the service-prefixed one also works.
    provider: Literal["outbox", "mailgun", "smtp"] = Field(
        default="outbox",
        validation_alias=AliasChoices("PIX_MAIL_PROVIDER", "PIX_NOTIFY_PROVIDER"),
    )
    outbox_dir: Path = Path(".pix/mail")
    sender: str = "pix.immo <noreply@pix.immo>"
    # Extra addresses for operator mail (new orders, caption failures), e.g. a team inbox.
    admin_emails: list[str] = Field(default_factory=list)

    mailgun: MailgunSettings = Field(default_factory=MailgunSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    # Retries: the `notify.send-mail` job's RetryPolicy (pix_runtime.jobs: backoff from
    # `retry_base_seconds` doubling up to `retry_max_seconds`, with jitter, at least a
    # provider's Retry-After), at most `max_attempts` times in all, then the mail is `failed`
    # with the last error.
    max_attempts: int = 6
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    # The send job's lease: a send still running this long was left by a crash mid-send, and
    # the job layer sends it again.
    stuck_after_seconds: float = 300.0
    # Mailgun webhooks: how far a signature's timestamp may be from now (replay window).
    webhook_tolerance_seconds: float = 300.0
    # A delivered gallery that changes later (a photo added, a caption edited): its client
    # gets at most one "gallery updated" mail this often, with the latest version.
    gallery_update_interval_seconds: float = 3 * 3600
    # Retention: the mail log (addresses, content) is kept this long, checked this often.
    mail_log_retention_days: int = 90
    retention_interval_seconds: float = 6 * 3600
