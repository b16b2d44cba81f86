"""Signed webhooks: each export event POSTed to the organisation's endpoints, at least once.

Signature (documented in services/export/README.md): headers
  Pix-Webhook-Id          the delivery id, stable across retries (also `Idempotency-Key`)
  Pix-Webhook-Timestamp   unix seconds of this attempt
  Pix-Webhook-Signature   v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
A receiver recomputes the HMAC over the raw body, compares in constant time and rejects
timestamps older than 5 minutes, so a captured request cannot be replayed later.

Delivery: each row is written with its `export.deliver-webhook` job (key: the delivery id) in
the export's transaction. The job marks the row "sending" (committed) before the POST, then
"delivered", or "retrying" and raises, so the job layer tries again with the kind's
`RetryPolicy` (backoff from `webhook_retry_base_seconds`, at most `webhook_retry_max_seconds`
apart), or, from `webhook_give_up_hours` after the event on (or at the last attempt), "failed".
A crash mid-send is taken over after the job's lease; the receiver deduplicates on the delivery
id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import httpcore
import httpx
from pix_contracts import GalleryExported
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, JobQueue, PermanentJobError, RetryPolicy, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.metrics import count_delivery
from pix_runtime.sealing import SecretBox
from pydantic import BaseModel, Field
from sqlalchemy import RowMapping, Select, String, and_, cast, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_export.models import jobs, webhook_deliveries, webhooks
from pix_export.settings import ExportSettings

log = get_logger(__name__)
SIGNATURE_HEADER = "Pix-Webhook-Signature"
TIMESTAMP_HEADER = "Pix-Webhook-Timestamp"
ID_HEADER = "Pix-Webhook-Id"
TEST_EVENT_TYPE = "immo.pix.export.webhook.test"
MAX_WEBHOOKS_PER_ORG = 10
DELIVER_WEBHOOK = "export.deliver-webhook"


class WebhookDue(BaseModel):
    delivery_id: uuid.UUID


class Webhook(BaseModel):
    """An organisation's endpoint (its signing secret stays sealed in the database)."""

    id: uuid.UUID
    url: str
    description: str
    active: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Webhook:
        return cls.model_validate({name: row[name] for name in cls.model_fields})


class WebhookCreated(Webhook):
    secret: str = Field(description="Signing secret; shown only in this response")


class WebhookDelivery(BaseModel):
    """One event's delivery to one endpoint, with its attempts so far."""

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: Literal["pending", "sending", "retrying", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> WebhookDelivery:
        """From a row of `_with_next_attempt()`."""
        return cls.model_validate({name: row[name] for name in cls.model_fields})


@dataclass(frozen=True)
class Attempt:
    """A delivery marked "sending", with what its POST needs."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    url: str
    secret_sealed: bytes
    body: bytes
    event_type: str
    created_at: datetime


class WebhookFailed(Exception):
    """The receiver did not take the delivery (an HTTP status, a refused connection)."""


class PublicNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens connections to public addresses only (no SSRF into our own network).

    The name is resolved here, when the connection is opened, and the socket goes to the very
    address that was checked: a check before the request would leave a window in which the
    name could be re-pointed at an internal address (DNS rebinding). TLS still verifies the
    certificate against the host name (httpcore passes it to `start_tls` separately).
    """

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} cannot be resolved: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses or not all(address.is_global for address in addresses):
            raise httpcore.ConnectError(f"{host} resolves to a non-public address")
        return await self._inner.connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent to local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def public_only_transport() -> httpx.AsyncHTTPTransport:
    """httpx's own transport, connecting through `PublicNetworkBackend`."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx has no public parameter for the network backend (asked for upstream in
    # encode/httpx discussion #3180, pull request #3749); its pool is httpcore's, which has.
    # `test_webhooks_never_connect_into_our_own_network` fails by name if httpx stops using it.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=PublicNetworkBackend(),
    )
    return transport


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def cloudevent_body(event_id: uuid.UUID, event_type: str, time_: datetime, data: Any) -> bytes:
    """CloudEvents 1.0 structured JSON: the same attributes the Kafka headers carry."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(event_id),
            "type": event_type,
            "source": "/pix/export",
            "time": time_.isoformat(),
            "datacontenttype": "application/json",
            "data": data,
        },
        ensure_ascii=False,
    ).encode()


class WebhookDesk:
    def __init__(
        self, db: Database, box: SecretBox, settings: ExportSettings, clock: Clock | None = None
    ) -> None:
        self._db = db
        self._box = box
        self._settings = settings
        self._clock = clock or Clock()
        self._policy = RetryPolicy(
            max_attempts=settings.webhook_max_attempts,
            base_seconds=settings.webhook_retry_base_seconds,
            max_seconds=settings.webhook_retry_max_seconds,
        )

    def register_jobs(self, queue: JobQueue) -> None:
        """Deliver webhooks from `queue`'s jobs; a POST that hangs past its lease is retried."""
        lease = timedelta(seconds=max(60.0, 3 * self._settings.webhook_timeout_seconds))
        queue.register(
            DELIVER_WEBHOOK, WebhookDue, self.deliver, policy=self._policy, timeout=lease
        )

    # --- endpoints ----------------------------------------------------------------------------

    def _check_url(self, url: str) -> str:
        parts = urlsplit(url)
        insecure_ok = self._settings.allow_insecure_webhooks and parts.hostname in {
            "127.0.0.1",
            "localhost",
        }
        if parts.scheme != "https" and not (parts.scheme == "http" and insecure_ok):
            raise Invalid("invalid_url", "webhook URLs must use https", "url")
        if not parts.hostname or parts.username or parts.password or len(url) > 2000:
            raise Invalid("invalid_url", "not a valid webhook URL", "url")
        return url

    async def _refuse_internal(self, url: str) -> None:
        """Refuse at registration what delivery refuses anyway (`PublicNetworkBackend`): a
        destination in a private, loopback, link-local or otherwise non-public network. A name
        that does not resolve now is left to the check where the connection opens."""
        host = (urlsplit(url).hostname or "").strip("[]")
        if self._settings.allow_insecure_webhooks and host in {"127.0.0.1", "localhost"}:
            return
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, 443, type=socket.SOCK_STREAM
                )
            except OSError:
                return
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not all(address.is_global for address in addresses):
            raise Invalid(
                "internal_address",
                "webhook URLs must point to a public address, not into a private or local network",
                "url",
            )

    async def register(self, viewer: Identity, url: str, description: str) -> WebhookCreated:
        """A new endpoint; its signing secret is returned this once and stored encrypted."""
        self._check_url(url)
        await self._refuse_internal(url)
        webhook_id = uuid.uuid4()
        secret = "whsec_" + secrets.token_urlsafe(32)
        async with self._db.transaction() as session:
            count = await session.scalar(
                select(webhooks.c.id)
                .where(webhooks.c.org_id == viewer.org_id)
                .limit(1)
                .offset(MAX_WEBHOOKS_PER_ORG - 1)
            )
            if count is not None:
                raise Invalid("too_many_webhooks", f"at most {MAX_WEBHOOKS_PER_ORG} webhooks")
            await session.execute(
                webhooks.insert().values(
                    id=webhook_id,
                    org_id=viewer.org_id,
                    url=url,
                    description=description,
                    secret_sealed=self._box.seal(secret.encode(), context=webhook_id.bytes),
                )
            )
        created = await self.get(webhook_id, viewer)
        return WebhookCreated(**created.model_dump(), secret=secret)

    async def get(self, webhook_id: uuid.UUID, viewer: Identity) -> Webhook:
        async with self._db.sessions() as session:
            row = await self._owned(session, webhook_id, viewer)
        return Webhook.from_row(row)

    async def listed(self, viewer: Identity) -> list[Webhook]:
        query = select(webhooks).order_by(webhooks.c.created_at)
        if not viewer.is_admin:
            query = query.where(webhooks.c.org_id == viewer.org_id)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [Webhook.from_row(r) for r in rows]

    async def delete(self, webhook_id: uuid.UUID, viewer: Identity) -> None:
        async with self._db.transaction() as session:
            await self._owned(session, webhook_id, viewer)
            await session.execute(webhooks.delete().where(webhooks.c.id == webhook_id))

    async def _owned(
        self, session: AsyncSession, webhook_id: uuid.UUID, viewer: Identity
    ) -> RowMapping:
        row = (
            (await session.execute(select(webhooks).where(webhooks.c.id == webhook_id)))
            .mappings()
            .first()
        )
        if row is None or not viewer.may_access(row["org_id"]):
            raise NotFound("webhook")
        return row

    async def deliveries(
        self, webhook_id: uuid.UUID, viewer: Identity, limit: int = 100
    ) -> list[WebhookDelivery]:
        async with self._db.sessions() as session:
            await self._owned(session, webhook_id, viewer)
            rows = (
                (
                    await session.execute(
                        _with_next_attempt()
                        .where(webhook_deliveries.c.webhook_id == webhook_id)
                        .order_by(webhook_deliveries.c.created_at.desc())
                        .limit(limit)
                    )
                )
                .mappings()
                .all()
            )
        return [WebhookDelivery.from_row(r) for r in rows]

    # --- deliveries ---------------------------------------------------------------------------

    async def enqueue_deliveries(self, session: AsyncSession, event: GalleryExported) -> None:
        """In the export's transaction: one delivery per active endpoint of the organisation."""
        targets = (
            await session.execute(
                select(webhooks.c.id).where(
                    webhooks.c.org_id == event.org_id, webhooks.c.active.is_(True)
                )
            )
        ).scalars()
        body = cloudevent_body(
            event.event_id,
            event.cloudevent_type(),
            event.occurred_at,
            json.loads(event.model_dump_json()),
        )
        for webhook_id in list(targets):
            delivery_id = await session.scalar(
                insert(webhook_deliveries)
                .values(
                    id=uuid.uuid4(),
                    webhook_id=webhook_id,
                    org_id=event.org_id,
                    event_id=event.event_id,
                    event_type=event.cloudevent_type(),
                    body=body,
                    status="pending",
                )
                .on_conflict_do_nothing()
                .returning(webhook_deliveries.c.id)
            )
            if delivery_id is not None:
                await enqueue_job(
                    session,
                    jobs,
                    DELIVER_WEBHOOK,
                    WebhookDue(delivery_id=delivery_id),
                    key=str(delivery_id),
                )

    async def send_test(self, webhook_id: uuid.UUID, viewer: Identity) -> WebhookDelivery:
        """Deliver a test event to one endpoint now, once (someone waits for the answer)."""
        delivery_id, event_id = uuid.uuid4(), uuid.uuid4()
        async with self._db.transaction() as session:
            row = await self._owned(session, webhook_id, viewer)
            await session.execute(
                webhook_deliveries.insert().values(
                    id=delivery_id,
                    webhook_id=webhook_id,
                    org_id=row["org_id"],
                    event_id=event_id,
                    event_type=TEST_EVENT_TYPE,
                    body=cloudevent_body(
                        event_id,
                        TEST_EVENT_TYPE,
                        self._clock.now(),
                        {"message": "Test event from pix.immo", "webhook_id": str(webhook_id)},
                    ),
                    status="sending",
                    attempts=1,
                    last_attempt_at=self._clock.now(),
                )
            )
        target = await self._start_attempt(delivery_id, count=False)
        if target is not None:
            status_code, error = await self._post(target)
            async with self._db.transaction() as session:
                await self._record(session, delivery_id, status_code, error, give_up=True)
        async with self._db.sessions() as session:
            stored = (
                (
                    await session.execute(
                        _with_next_attempt().where(webhook_deliveries.c.id == delivery_id)
                    )
                )
                .mappings()
                .one()
            )
        return WebhookDelivery.from_row(stored)

    async def deliver(self, payload: WebhookDue, ctx: JobContext) -> None:
        """The job: one attempt at delivering, its outcome on the row."""
        target = await self._start_attempt(payload.delivery_id)
        if target is None:
            return  # delivered already, or its endpoint was deleted
        status_code, error = await self._post(target)
        window = target.created_at + timedelta(hours=self._settings.webhook_give_up_hours)
        give_up = ctx.attempt >= self._policy.max_attempts or ctx.now >= window
        async with self._db.transaction() as session:
            await self._record(session, payload.delivery_id, status_code, error, give_up=give_up)
            if error is None:
                await ctx.finish(session)
                return
        log.warning(
            "webhook.failed", delivery=str(payload.delivery_id), error=error, attempt=ctx.attempt
        )
        # Raised afresh (the HTTP error is not its cause): a receiver's refused connection is
        # its failure, not an outage of ours, and counts as an attempt.
        if give_up:
            raise PermanentJobError(error)
        raise WebhookFailed(error)

    async def _start_attempt(self, delivery_id: uuid.UUID, *, count: bool = True) -> Attempt | None:
        """Mark the delivery "sending" (committed before the POST, so a crash after it is
        seen) and return it with its endpoint; None if there is nothing to send."""
        d = webhook_deliveries
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        select(
                            d.c.id,
                            d.c.webhook_id,
                            webhooks.c.url,
                            webhooks.c.secret_sealed,
                            d.c.body,
                            d.c.event_type,
                            d.c.created_at,
                        )
                        .join(webhooks, webhooks.c.id == d.c.webhook_id)
                        .where(
                            d.c.id == delivery_id,
                            d.c.status.in_(["pending", "retrying", "sending"]),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is not None and count:
                await session.execute(
                    update(d)
                    .where(d.c.id == delivery_id)
                    .values(
                        status="sending",
                        attempts=d.c.attempts + 1,
                        last_attempt_at=self._clock.now(),
                    )
                )
        return None if row is None else Attempt(**row)

    async def _post(self, attempt: Attempt) -> tuple[int | None, str | None]:
        """POST the delivery, signed; the status code and the error, if it was one."""
        status_code: int | None = None
        error: str | None = None
        try:
            sealed, context = attempt.secret_sealed, attempt.webhook_id.bytes
            secret = self._box.open(sealed, context=context).decode()
            timestamp = int(time.time())
            async with httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_seconds,
                follow_redirects=False,
                # Local receivers only where insecure test endpoints are allowed.
                transport=None
                if self._settings.allow_insecure_webhooks
                else public_only_transport(),
            ) as client:
                response = await client.post(
                    attempt.url,
                    content=attempt.body,
                    headers={
                        "Content-Type": "application/cloudevents+json; charset=utf-8",
                        "User-Agent": "pix.immo-webhooks/1",
                        ID_HEADER: str(attempt.id),
                        "Idempotency-Key": str(attempt.id),
                        TIMESTAMP_HEADER: str(timestamp),
                        SIGNATURE_HEADER: sign(secret, timestamp, attempt.body),
                        "Pix-Event-Type": attempt.event_type,
                    },
                )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except Exception as exc:
            error = repr(exc)[:500]
        return status_code, error

    async def _record(
        self,
        session: AsyncSession,
        delivery_id: uuid.UUID,
        status_code: int | None,
        error: str | None,
        *,
        give_up: bool,
    ) -> None:
        d = webhook_deliveries
        values: dict[str, Any] = {"last_status_code": status_code, "last_error": error}
        if error is None:
            values |= {"status": "delivered", "delivered_at": self._clock.now()}
        else:
            values |= {"status": "failed" if give_up else "retrying"}
        count_delivery("webhook", values["status"])
        await session.execute(
            update(d).where(d.c.id == delivery_id, d.c.status == "sending").values(**values)
        )


def _with_next_attempt() -> Select[Any]:
    """Deliveries with `next_attempt_at`: when a retrying one's job is due again."""
    d = webhook_deliveries
    waiting = and_(
        jobs.c.kind == DELIVER_WEBHOOK,
        jobs.c.key == cast(d.c.id, String),
        jobs.c.status == "queued",
    )
    return select(
        *(c for c in d.c if c.name != "next_attempt_at"),
        jobs.c.run_at.label("next_attempt_at"),
    ).select_from(d.outerjoin(jobs, waiting))
