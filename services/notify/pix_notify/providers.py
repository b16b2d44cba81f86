"""How a rendered mail leaves the platform: the dev outbox, Mailgun's HTTP API, or SMTP.

Every provider gets the idempotency key of the mail and turns it into a stable `Message-ID`
(and, for Mailgun, a custom variable), so a send retried after a crash carries the same
identity as the first try: the provider's events and the recipient's mail client can tell
the two apart as one message.

A failed send raises `SendError`; `permanent` says whether trying again can help (a rejected
address) or not (an outage, a rate limit).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
import httpx

from pix_notify.settings import NotifySettings


@dataclass(frozen=True)
class Attachment:
    """A file sent with the mail, e.g. a calendar entry (`text/calendar; method=REQUEST`)."""

    filename: str
    content_type: str
    content: str

    def as_json(self) -> dict[str, str]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "content": self.content,
        }

    @property
    def parts(self) -> tuple[str, str, dict[str, str]]:
        """Main type, subtype and parameters of the content type."""
        kind, *params = (p.strip() for p in self.content_type.split(";"))
        maintype, _, subtype = kind.partition("/")
        extra = dict(p.partition("=")[::2] for p in params if "=" in p)
        return maintype, subtype, extra


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    text: str
    html: str
    # An organisation's own mail (to its leads) goes out from the platform's address under the
    # organisation's name, and answers go to the lead's reply address, not to us.
    sender_name: str | None = None
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()


def from_header(mail: Mail, sender: str) -> str:
    """The platform's address, under the mail's sender name when it has one."""
    if not mail.sender_name:
        return sender
    # Address quotes the name where needed and keeps it readable (Mailgun takes UTF-8; the
    # MIME message encodes it when it is serialised).
    return str(Address(display_name=mail.sender_name, addr_spec=parseaddr(sender)[1]))


class SendError(Exception):
    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        # Seconds the provider asked us to wait (HTTP 429 Retry-After), if it said.
        self.retry_after = retry_after


class MailConfigError(RuntimeError):
    """The chosen provider lacks settings; the service must not start half-configured."""


class MailProvider(Protocol):
    name: str

    async def send(self, mail: Mail, *, sender: str, idempotency_key: str) -> str | None:
        """Send once; return the provider's message id if it gives one."""
        ...


def message_id(idempotency_key: str, sender: str) -> str:
    """A Message-ID derived from the key: the same on every retry, without leaking the key
    (it may contain an operator's address) into the header."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "pix.immo"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(mail: Mail, *, sender: str, idempotency_key: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_header(mail, sender)
    message["To"] = mail.recipient
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    message["Message-ID"] = message_id(idempotency_key, sender)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, subtype, params = attachment.parts
        message.add_attachment(
            attachment.content.encode(),
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=params,
        )
    return message


class OutboxProvider:
    """Development delivery: `.eml` files in a folder instead of the internet."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def send(self, mail: Mail, *, sender: str, idempotency_key: str) -> str | None:
        message = build_message(mail, sender=sender, idempotency_key=idempotency_key)
        # Named by key, so a resend overwrites instead of adding a second file.
        path = self._folder / f"{idempotency_key.replace(':', '_')}.eml"
        await asyncio.to_thread(path.write_bytes, bytes(message))
        return str(message["Message-ID"])


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


class MailgunProvider:
    """Mailgun's `POST /v3/{domain}/messages` (multipart form, basic auth `api:<key>`)."""

    name = "mailgun"

    def __init__(self, *, api_key: str, domain: str, api_base: str, timeout: float = 15.0) -> None:
        self._auth = ("api", api_key)
        self._domain = domain
        self._url = f"{api_base.rstrip('/')}/v3/{domain}/messages"
        self._timeout = timeout

    def __repr__(self) -> str:  # never show the key, even in a traceback's locals
        return f"MailgunProvider(url={self._url!r})"

    async def send(self, mail: Mail, *, sender: str, idempotency_key: str) -> str | None:
        fields = {
            "from": from_header(mail, sender),
            "to": mail.recipient,
            "subject": mail.subject,
            "text": mail.text,
            "html": mail.html,
            # Mailgun has no request idempotency; a stable Message-Id plus the key as a custom
            # variable (echoed in every event and webhook as user-variables) lets a retried
            # send be recognised, and lets a bounce be matched to its row in our log.
            "h:Message-Id": message_id(idempotency_key, sender),
            "v:idempotency_key": idempotency_key,
        }
        if mail.reply_to:
            fields["h:Reply-To"] = mail.reply_to
        # (None, value) makes httpx send plain form fields as multipart/form-data, the body
        # type Mailgun documents for this endpoint.
        parts: list[tuple[str, tuple[str | None, str | bytes] | tuple[str, bytes, str]]] = [
            (name, (None, value)) for name, value in fields.items()
        ]
        parts += [
            ("attachment", (a.filename, a.content.encode(), a.content_type))
            for a in mail.attachments
        ]
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, auth=self._auth, files=parts)
        except httpx.HTTPError as exc:
            raise SendError(f"mailgun unreachable: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code == 200:
            try:
                found = response.json().get("id")
            except ValueError:
                found = None
            return str(found) if found else None
        detail = response.text[:200]
        status = response.status_code
        # 4xx is Mailgun refusing this message (bad address, unknown domain, bad key): trying
        # again cannot help. 408/429 and 5xx are transient.
        permanent = 400 <= status < 500 and status not in (408, 429)
        raise SendError(
            f"mailgun answered {status}: {detail}",
            permanent=permanent,
            retry_after=_retry_after(response) if status == 429 else None,
        )


class SmtpProvider:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str | None,
        password: str | None,
        start_tls: bool,
        use_tls: bool,
        timeout: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        self._user = user
        self._password = password
        self._start_tls = start_tls
        self._use_tls = use_tls
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"SmtpProvider(host={self._host!r}, port={self._port})"

    async def send(self, mail: Mail, *, sender: str, idempotency_key: str) -> str | None:
        message = build_message(mail, sender=sender, idempotency_key=idempotency_key)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._user,
                password=self._password,
                start_tls=self._start_tls,
                use_tls=self._use_tls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            raise SendError(
                f"smtp refused the recipient: {codes}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(
                f"smtp answered {exc.code}: {exc.message[:200]}", permanent=exc.code >= 500
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendError(f"smtp failed: {exc.__class__.__name__}: {exc}") from exc
        return str(message["Message-ID"])


def build_provider(settings: NotifySettings) -> MailProvider:
    """The provider `settings.provider` names, or `MailConfigError` naming what is missing."""
    if settings.provider == "mailgun":
        mg = settings.mailgun
        missing = [
            name
            for name, value in (("MAILGUN_API_KEY", mg.api_key), ("MAILGUN_DOMAIN", mg.domain))
            if not value
        ]
        if missing or mg.api_key is None or mg.domain is None:
            raise MailConfigError(
                f"PIX_MAIL_PROVIDER=mailgun needs {', '.join(missing)} in the environment"
            )
        return MailgunProvider(
            api_key=mg.api_key.get_secret_value(),
            domain=mg.domain,
            api_base=mg.api_base,
            timeout=mg.timeout_seconds,
        )
    if settings.provider == "smtp":
        smtp = settings.smtp
        if not smtp.host:
            raise MailConfigError("PIX_MAIL_PROVIDER=smtp needs PIX_SMTP_HOST in the environment")
        if smtp.user and smtp.password is None:
            raise MailConfigError("PIX_SMTP_USER is set but PIX_SMTP_PASSWORD is missing")
        return SmtpProvider(
            host=smtp.host,
            port=smtp.port,
            user=smtp.user,
            password=smtp.password.get_secret_value() if smtp.password else None,
            start_tls=smtp.start_tls,
            use_tls=smtp.use_tls,
            timeout=smtp.timeout_seconds,
        )
    return OutboxProvider(settings.outbox_dir)
