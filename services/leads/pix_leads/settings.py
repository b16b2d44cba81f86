"""The leads service's configuration (env prefix `PIX_LEADS_`); secrets from the environment."""

from pix_runtime.embeddings import EmbeddingSettings
from pix_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict


class LeadsSettings(ServiceSettings, EmbeddingSettings):
    """Embeddings of leads' wishes: `PIX_LEADS_EMBEDDING_PROVIDER` etc. (pix_runtime.embeddings;
    the local model by default, as listings)."""

    model_config = SettingsConfigDict(env_prefix="PIX_LEADS_", extra="ignore")

    service_name: str = "leads"
    port: int = 8007

    # The SMTP intake: portal emails forwarded to `<slug>@<inbound_domain>`. Production puts it
    # behind the MX (or a forwarder); 0 turns it off (e.g. a replica that only serves the API).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    inbound_domain: str = "leads.pix.localhost"
    # Larger messages are refused at SMTP level (552); portal inquiries are a few kB, a
    # forwarded one with a PDF exposé a few MB.
    max_message_bytes: int = 15 * 1024 * 1024

    # Mailgun inbound Routes (`forward()` to /public/mailgun/inbound): the account's HTTP
    # webhook signing key. Without it the webhook refuses every request.
    mailgun_webhook_signing_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "MAILGUN_WEBHOOK_SIGNING_KEY", "PIX_LEADS_MAILGUN_WEBHOOK_SIGNING_KEY"
        ),
    )
    mailgun_tolerance_seconds: float = 300.0

    # The website form: per client address and organisation, at most this many submissions
    # per window.
    form_limit: int = 5
    form_window_seconds: int = 600

    # Full sentiment analysis through any OpenAI-compatible endpoint; without a model only the
    # keyword quick score runs.
    sentiment_base_url: str | None = None
    sentiment_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PIX_LEADS_SENTIMENT_API_KEY", "OPENAI_API_KEY"),
    )
    sentiment_model: str | None = None
    sentiment_timeout_seconds: float = 20.0

    # Viewings (pix_leads.viewings): the lead's link to pick a slot is valid this long; slots
    # are offered this many days ahead, from this many hours after now on; a calendar server
    # gets this long to answer.
    viewing_link_days: int = 14
    viewing_slot_days: int = 14
    viewing_notice_hours: int = 12
    calendar_timeout_seconds: float = 20.0

    # Follow-ups after the first contact when the lead stays silent; LOST after the last.
    follow_up_days: tuple[int, ...] = (3, 7, 14)
    # The day after the last follow-up: a lead silent for 14 days after our first message is
    # LOST (the day-14 follow-up gets a day to be answered).
    lost_after_days: int = 15

    # Retention (GDPR Art. 5(1)(e)): a LOST lead is anonymised this long after it was lost, an
    # original inbound message deleted this long after it arrived (what was parsed stays).
    lost_lead_retention_days: int = 365
    raw_message_retention_days: int = 30
    retention_interval_seconds: float = 6 * 3600

    # The agent's own mailbox (pix_leads.mailboxes). Credentials users give us (OAuth tokens,
    # IMAP passwords) are sealed with AES-256-GCM under these keys: base64 of 32 random bytes,
    # comma-separated, newest first (rotation: put the new key first, keep the old one until
    # every mailbox was saved again); without them a key is derived from PIX_INTERNAL_KEY
    # (development only).
    secrets_key: SecretStr | None = None
    # Gmail and Outlook through OAuth 2.0 (authorization code with PKCE). Without a client id a
    # provider is not offered; IMAP/SMTP always is. The endpoints are settings so tests (and a
    # sovereign cloud) can point them elsewhere.
    gmail_client_id: str | None = None
    gmail_client_secret: SecretStr | None = None
    gmail_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    gmail_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    gmail_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    gmail_api_url: str = "https://gmail.googleapis.com/gmail/v1"
    # Google Calendar API v3, reached through the Gmail mailbox's grant.
    google_calendar_api_url: str = "https://www.googleapis.com/calendar/v3"
    outlook_client_id: str | None = None
    outlook_client_secret: SecretStr | None = None
    outlook_auth_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    outlook_token_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/token"  # noqa: S105 (a URL)
    outlook_api_url: str = "https://graph.microsoft.com/v1.0"
    # Where the provider sends the agent back (the gateway's page); default: the public URL's
    # /account/mailbox/callback.
    mailbox_redirect_url: str | None = None
    # How often every connected mailbox is read for answers of leads.
    mailbox_sync_seconds: float = 120.0
    mailbox_timeout_seconds: float = 30.0
    # IMAP/SMTP without TLS (a local test server); never in production.
    mailbox_allow_plaintext: bool = False
