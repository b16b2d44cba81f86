"""Optional push of each complete export version into the organisation's CRM (onOffice, Propstack).

An organisation stores its credentials (sealed with AES-256-GCM, bound to the row id; the API
shows only a masked hint) and, per gallery, the CRM record its photos belong to (onOffice
estate id, Propstack property id). When a complete version is built, the export's transaction
inserts one `crm_pushes` row per connected CRM with a target; the unique (gallery, version,
crm) key means a redelivered event, a second replica or a restart never pushes a version twice.

Each row is written with its `export.push-crm` job (key: the push id). The job marks the row
"sending" (committed before any request), uploads the version's photos with the fields of its
stored `onoffice`/`propstack` format file (first setting the record's own fields to the order's
facts stored with them: onOffice's `estate` action, Propstack's unit body), records each
accepted image in `progress` (a retry
resumes after it), and ends "pushed", "retrying" (429, 5xx, timeouts: the job layer tries again
with the kind's `RetryPolicy`, a CRM's Retry-After honoured, for `crm_give_up_hours`) or
"failed" (bad credentials, unknown record: a retry cannot help until someone fixes them; the API
can retry by hand, which queues a new job). A crash mid-push is taken over after the job's lease.
Credentials are never logged and never part of an error text.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from cryptography.exceptions import InvalidTag
from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, Invalid, NotFound
from pix_runtime.identity import Identity
from pix_runtime.jobs import JobContext, JobQueue, PermanentJobError, RetryPolicy, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.sealing import SecretBox
from pix_runtime.storage import LocalStorage, S3Storage
from pydantic import BaseModel, Field
from sqlalchemy import RowMapping, Select, String, and_, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pix_export.crm_clients import CrmClient, CrmError, OnOfficeClient, PropstackClient, Upload
from pix_export.models import crm_connections, crm_pushes, crm_targets, exports, galleries, jobs
from pix_export.settings import ExportSettings

log = get_logger(__name__)

Crm = Literal["onoffice", "propstack"]
CRMS: tuple[Crm, ...] = ("onoffice", "propstack")
# The format file of a version that carries each CRM's per-image fields.
FORMAT_FILE = {"onoffice": "onoffice-uploadfile.json", "propstack": "propstack-images.json"}
# Propstack's unit fields travel in a file of their own (its images file is a list).
RECORD_FILE = {"onoffice": "onoffice-uploadfile.json", "propstack": "propstack-unit.json"}
CREDENTIAL_FIELDS: dict[Crm, tuple[str, ...]] = {
    "onoffice": ("token", "secret"),
    "propstack": ("api_key",),
}
_CREDENTIAL = re.compile(r"^[A-Za-z0-9_\-.:+/=]{8,200}$")
# Both CRMs number their records with integers (onOffice relatedRecordId, Propstack unit id).
_RECORD_ID = re.compile(r"^[1-9][0-9]{0,17}$")
PUSH_CRM = "export.push-crm"

ClientFactory = Callable[[Crm, dict[str, str], httpx.AsyncClient], CrmClient]


class CrmPushDue(BaseModel):
    push_id: uuid.UUID


class CrmConnection(BaseModel):
    """An organisation's stored credentials for one CRM, as far as anyone may see them."""

    org_id: uuid.UUID
    crm: Crm
    hint: str = Field(description="The last characters of the token / API key, never more")
    created_at: datetime
    updated_at: datetime


class CrmTarget(BaseModel):
    """The CRM record a gallery's photos belong to."""

    crm: Crm
    record_id: str
    updated_at: datetime


class CrmPush(BaseModel):
    """One export version's push into one CRM, with its attempts so far."""

    id: uuid.UUID
    crm: Crm
    version: int
    record_id: str | None
    status: Literal["pending", "sending", "retrying", "pushed", "failed"]
    attempts: int
    images_pushed: int
    image_count: int | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    pushed_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> CrmPush:
        """From a row of `_with_next_attempt()`."""
        fields = {name: row[name] for name in cls.model_fields if name != "images_pushed"}
        return cls.model_validate({**fields, "images_pushed": len(row["progress"] or [])})


@dataclass(frozen=True)
class Pushing:
    """A push marked "sending", with what its attempt needs."""

    id: uuid.UUID
    gallery_id: uuid.UUID
    org_id: uuid.UUID
    crm: Crm
    version: int
    # The names of the images the CRM accepted in earlier attempts.
    progress: list[str]
    retry_until: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Pushing:
        return cls(
            id=row["id"],
            gallery_id=row["gallery_id"],
            org_id=row["org_id"],
            crm=row["crm"],
            version=row["version"],
            progress=list(row["progress"] or []),
            retry_until=row["retry_until"],
            created_at=row["created_at"],
        )


class CrmPushFailed(Exception):
    """A push attempt that may succeed later; `retry_after` is the CRM's Retry-After."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def mask(value: str) -> str:
    """What the API shows of a credential: its last four characters, if it is long enough."""
    return "…" + value[-4:] if len(value) >= 16 else "…"


class CrmDesk:
    def __init__(
        self,
        db: Database,
        storage: LocalStorage | S3Storage,
        box: SecretBox,
        settings: ExportSettings,
        client_factory: ClientFactory | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._box = box
        self._settings = settings
        self._client_factory = client_factory or self._default_client
        self._clock = clock or Clock()
        self._policy = RetryPolicy(
            max_attempts=settings.crm_max_attempts,
            base_seconds=settings.crm_retry_base_seconds,
            max_seconds=settings.crm_retry_max_seconds,
        )

    def register_jobs(self, queue: JobQueue) -> None:
        """Push from `queue`'s jobs; a push still running after its lease is taken over."""
        queue.register(
            PUSH_CRM,
            CrmPushDue,
            self.push,
            policy=self._policy,
            timeout=timedelta(seconds=self._settings.crm_lease_seconds),
        )

    def _default_client(
        self, crm: Crm, credentials: dict[str, str], http: httpx.AsyncClient
    ) -> CrmClient:
        if crm == "onoffice":
            return OnOfficeClient(
                http, self._settings.onoffice_url, credentials["token"], credentials["secret"]
            )
        return PropstackClient(http, self._settings.propstack_url, credentials["api_key"])

    # --- connections --------------------------------------------------------------------------

    @staticmethod
    def _org(viewer: Identity, org_id: uuid.UUID | None) -> uuid.UUID:
        """The organisation acted for: the caller's own; admins may name any."""
        if org_id is None or org_id == viewer.org_id:
            return viewer.org_id
        if not viewer.is_admin:
            raise NotFound("organisation")
        return org_id

    async def save_connection(
        self,
        viewer: Identity,
        crm: Crm,
        credentials: dict[str, str],
        org_id: uuid.UUID | None = None,
    ) -> CrmConnection:
        """Store (or replace) the organisation's credentials for one CRM."""
        org = self._org(viewer, org_id)
        clean: dict[str, str] = {}
        invalid: dict[str, str] = {}
        for name in CREDENTIAL_FIELDS[crm]:
            value = (credentials.get(name) or "").strip()
            if not _CREDENTIAL.match(value):
                invalid[name] = "invalid_credential"
            clean[name] = value
        if invalid:
            raise Invalid(
                "invalid_credential",
                "credentials must be 8 to 200 characters without spaces",
                fields=invalid,
            )
        hint = mask(clean["token" if crm == "onoffice" else "api_key"])
        async with self._db.transaction() as session:
            existing = await session.scalar(
                select(crm_connections.c.id).where(
                    crm_connections.c.org_id == org, crm_connections.c.crm == crm
                )
            )
            connection_id = existing or uuid.uuid4()
            sealed = self._box.seal(json.dumps(clean).encode(), context=connection_id.bytes)
            upsert = insert(crm_connections).values(
                id=connection_id, org_id=org, crm=crm, credentials_sealed=sealed, hint=hint
            )
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[crm_connections.c.id],
                    set_={"credentials_sealed": sealed, "hint": hint, "updated_at": func.now()},
                )
            )
            # Galleries already mapped get their latest complete version now.
            mapped = (
                await session.execute(
                    select(crm_targets.c.gallery_id).where(
                        crm_targets.c.org_id == org, crm_targets.c.crm == crm
                    )
                )
            ).scalars()
            for gallery_id in list(mapped):
                await self._enqueue_latest(session, gallery_id, org, crm)
        log.info("crm.connection_saved", org_id=str(org), crm=crm)
        return (await self._connection_rows(org, crm))[0]

    async def connections(
        self, viewer: Identity, org_id: uuid.UUID | None = None
    ) -> list[CrmConnection]:
        if viewer.is_admin and org_id is None:
            return await self._connection_rows(None, None)
        return await self._connection_rows(self._org(viewer, org_id), None)

    async def _connection_rows(self, org: uuid.UUID | None, crm: Crm | None) -> list[CrmConnection]:
        c = crm_connections
        query = select(c.c.org_id, c.c.crm, c.c.hint, c.c.created_at, c.c.updated_at).order_by(
            c.c.org_id, c.c.crm
        )
        if org is not None:
            query = query.where(c.c.org_id == org)
        if crm is not None:
            query = query.where(c.c.crm == crm)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings()
            return [CrmConnection.model_validate(r) for r in rows]

    async def delete_connection(
        self, viewer: Identity, crm: Crm, org_id: uuid.UUID | None = None
    ) -> None:
        org = self._org(viewer, org_id)
        async with self._db.transaction() as session:
            deleted = await session.execute(
                crm_connections.delete().where(
                    crm_connections.c.org_id == org, crm_connections.c.crm == crm
                )
            )
            if deleted.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound("crm connection")
        log.info("crm.connection_deleted", org_id=str(org), crm=crm)

    # --- targets (which CRM record a gallery belongs to) --------------------------------------

    async def _gallery_org(self, session: AsyncSession, gallery_id: uuid.UUID) -> uuid.UUID | None:
        org: uuid.UUID | None = await session.scalar(
            select(galleries.c.org_id).where(galleries.c.gallery_id == gallery_id)
        )
        if org is None:
            org = await session.scalar(
                select(exports.c.org_id).where(exports.c.gallery_id == gallery_id).limit(1)
            )
        return org

    async def _owned_gallery(
        self, session: AsyncSession, gallery_id: uuid.UUID, viewer: Identity
    ) -> uuid.UUID:
        org = await self._gallery_org(session, gallery_id)
        if org is None or not viewer.may_access(org):
            raise NotFound("gallery")
        return org

    async def set_target(
        self, viewer: Identity, gallery_id: uuid.UUID, crm: Crm, record_id: str
    ) -> CrmTarget:
        """Map a gallery to its CRM record; a complete version already built is pushed now."""
        record_id = record_id.strip()
        if not _RECORD_ID.match(record_id):
            raise Invalid(
                "invalid_record_id", "the CRM record id is a positive number", "record_id"
            )
        async with self._db.transaction() as session:
            org = await self._owned_gallery(session, gallery_id, viewer)
            values = {"record_id": record_id, "updated_at": func.now()}
            await session.execute(
                insert(crm_targets)
                .values(gallery_id=gallery_id, crm=crm, org_id=org, record_id=record_id)
                .on_conflict_do_update(
                    index_elements=[crm_targets.c.gallery_id, crm_targets.c.crm], set_=values
                )
            )
            await self._enqueue_latest(session, gallery_id, org, crm)
        return next(t for t in await self.targets(viewer, gallery_id) if t.crm == crm)

    async def targets(self, viewer: Identity, gallery_id: uuid.UUID) -> list[CrmTarget]:
        async with self._db.sessions() as session:
            await self._owned_gallery(session, gallery_id, viewer)
            rows = await session.execute(
                select(crm_targets.c.crm, crm_targets.c.record_id, crm_targets.c.updated_at)
                .where(crm_targets.c.gallery_id == gallery_id)
                .order_by(crm_targets.c.crm)
            )
            return [CrmTarget.model_validate(r) for r in rows.mappings()]

    async def delete_target(self, viewer: Identity, gallery_id: uuid.UUID, crm: Crm) -> None:
        async with self._db.transaction() as session:
            await self._owned_gallery(session, gallery_id, viewer)
            deleted = await session.execute(
                crm_targets.delete().where(
                    crm_targets.c.gallery_id == gallery_id, crm_targets.c.crm == crm
                )
            )
            if deleted.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound("crm target")

    # --- the push log -------------------------------------------------------------------------

    async def pushes(
        self, viewer: Identity, gallery_id: uuid.UUID, limit: int = 100
    ) -> list[CrmPush]:
        async with self._db.sessions() as session:
            await self._owned_gallery(session, gallery_id, viewer)
            rows = await session.execute(
                _with_next_attempt()
                .where(crm_pushes.c.gallery_id == gallery_id)
                .order_by(crm_pushes.c.created_at.desc(), crm_pushes.c.crm)
                .limit(limit)
            )
            return [CrmPush.from_row(r) for r in rows.mappings()]

    async def retry(self, viewer: Identity, gallery_id: uuid.UUID, push_id: uuid.UUID) -> CrmPush:
        """Queue a failed push again (after fixing credentials or the record id)."""
        async with self._db.transaction() as session:
            await self._owned_gallery(session, gallery_id, viewer)
            status = await session.scalar(
                select(crm_pushes.c.status)
                .where(crm_pushes.c.id == push_id, crm_pushes.c.gallery_id == gallery_id)
                .with_for_update()
            )
            if status is None:
                raise NotFound("crm push")
            if status != "failed":
                raise Conflict("not_failed", f"only a failed push can be retried (it is {status})")
            await session.execute(
                update(crm_pushes)
                .where(crm_pushes.c.id == push_id)
                .values(status="pending", retry_until=self._window(self._clock.now()))
            )
            await enqueue_job(
                session, jobs, PUSH_CRM, CrmPushDue(push_id=push_id), key=str(push_id)
            )
            row = (
                (await session.execute(_with_next_attempt().where(crm_pushes.c.id == push_id)))
                .mappings()
                .one()
            )
        return CrmPush.from_row(row)

    # --- queueing -----------------------------------------------------------------------------

    def _window(self, now: datetime) -> datetime:
        return now + timedelta(hours=self._settings.crm_give_up_hours)

    async def enqueue_for_export(
        self, session: AsyncSession, gallery_id: uuid.UUID, org_id: uuid.UUID, version: int
    ) -> None:
        """In the export's transaction: one push per CRM that is connected and mapped."""
        crms = (
            await session.execute(
                select(crm_targets.c.crm)
                .join(
                    crm_connections,
                    and_(
                        crm_connections.c.org_id == crm_targets.c.org_id,
                        crm_connections.c.crm == crm_targets.c.crm,
                    ),
                )
                .where(crm_targets.c.gallery_id == gallery_id, crm_targets.c.org_id == org_id)
            )
        ).scalars()
        for crm in list(crms):
            await self._insert_push(session, gallery_id, org_id, version, crm)

    async def _enqueue_latest(
        self, session: AsyncSession, gallery_id: uuid.UUID, org_id: uuid.UUID, crm: str
    ) -> None:
        connected = await session.scalar(
            select(crm_connections.c.id).where(
                crm_connections.c.org_id == org_id, crm_connections.c.crm == crm
            )
        )
        latest = await session.scalar(
            select(func.max(exports.c.version)).where(
                exports.c.gallery_id == gallery_id,
                exports.c.complete.is_(True),
                # A version held for its order's payment is pushed when it is released.
                exports.c.held.is_(False),
            )
        )
        if connected is not None and latest is not None:
            await self._insert_push(session, gallery_id, org_id, latest, crm)

    async def _insert_push(
        self,
        session: AsyncSession,
        gallery_id: uuid.UUID,
        org_id: uuid.UUID,
        version: int,
        crm: str,
    ) -> None:
        push_id = await session.scalar(
            insert(crm_pushes)
            .values(
                id=uuid.uuid4(),
                gallery_id=gallery_id,
                version=version,
                org_id=org_id,
                crm=crm,
                status="pending",
                retry_until=self._window(self._clock.now()),
            )
            .on_conflict_do_nothing(index_elements=["gallery_id", "version", "crm"])
            .returning(crm_pushes.c.id)
        )
        if push_id is not None:
            await enqueue_job(
                session, jobs, PUSH_CRM, CrmPushDue(push_id=push_id), key=str(push_id)
            )

    # --- pushing ------------------------------------------------------------------------------

    async def push(self, payload: CrmPushDue, ctx: JobContext) -> None:
        """The job: one attempt at pushing the version, its outcome on the row."""
        p = crm_pushes
        async with self._db.transaction() as session:
            found = (
                (
                    await session.execute(
                        select(p).where(
                            p.c.id == payload.push_id,
                            p.c.status.in_(["pending", "retrying", "sending"]),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if found is None:
                return  # pushed already
            pushing = Pushing.from_row(found)
            # "sending" commits before any request leaves: a crash after one is seen.
            await session.execute(
                update(p)
                .where(p.c.id == pushing.id)
                .values(status="sending", attempts=p.c.attempts + 1, last_attempt_at=ctx.now)
            )
        values: dict[str, Any] = {}  # the row's columns to update
        failure: tuple[str, bool, int | None, float | None] | None = None
        ours: Exception | None = None
        async with httpx.AsyncClient(
            timeout=self._settings.crm_timeout_seconds, follow_redirects=False
        ) as http:
            try:
                record_id, client = await self._prepare(pushing, http)
                values["record_id"] = record_id
                record_fields, uploads = await self._uploads(pushing)
                values["image_count"] = len(uploads)
                if record_fields:
                    await client.update_record(record_id, record_fields)
                done = list(pushing.progress)
                for upload in uploads:
                    if upload.name in done:
                        continue
                    await client.upload(record_id, upload)
                    done.append(upload.name)
                    async with self._db.transaction() as session:
                        # Each accepted image is remembered at once: a retry resumes after it.
                        await session.execute(
                            update(p)
                            .where(p.c.id == pushing.id)
                            .values(progress=done, last_attempt_at=self._clock.now())
                        )
            except CrmError as exc:
                failure = (exc.message, exc.retryable, exc.status_code, exc.retry_after)
            except InvalidTag:
                failure = (
                    "the stored credentials cannot be decrypted (was PIX_EXPORT_SECRETS_KEY "
                    "changed?); save them again",
                    False,
                    None,
                    None,
                )
            except Exception as exc:
                # Storage or database trouble on our side: worth another try.
                failure = (f"internal error ({exc.__class__.__name__})", True, None, None)
                ours = exc
        if failure is None:
            values |= {
                "status": "pushed",
                "pushed_at": self._clock.now(),
                "last_error": None,
                "last_status_code": None,
            }
            async with self._db.transaction() as session:
                await session.execute(update(p).where(p.c.id == pushing.id).values(**values))
                await ctx.finish(session)
            log.info(
                "crm.pushed",
                push=str(pushing.id),
                crm=pushing.crm,
                gallery_id=str(pushing.gallery_id),
                version=pushing.version,
            )
            return
        message, retryable, status_code, retry_after = failure
        until = pushing.retry_until or self._window(pushing.created_at)
        give_up = not retryable or ctx.attempt >= self._policy.max_attempts or ctx.now >= until
        values |= {
            "last_error": message[:1000],
            "last_status_code": status_code,
            "status": "failed" if give_up else "retrying",
        }
        async with self._db.transaction() as session:
            await session.execute(update(p).where(p.c.id == pushing.id).values(**values))
        log.warning(
            "crm.push_failed",
            push=str(pushing.id),
            crm=pushing.crm,
            error=message,
            status=values["status"],
            attempt=ctx.attempt,
        )
        if give_up:
            raise PermanentJobError(message)
        if ours is not None:
            # Raised as it is: an outage of our own database or storage is no attempt's fault.
            raise ours
        if retry_after is not None:
            retry_after = min(retry_after, self._policy.max_seconds)
        raise CrmPushFailed(message, retry_after)

    async def _prepare(self, pushing: Pushing, http: httpx.AsyncClient) -> tuple[str, CrmClient]:
        """The current record id and a client with the current credentials (both may change)."""
        async with self._db.sessions() as session:
            record_id = await session.scalar(
                select(crm_targets.c.record_id).where(
                    crm_targets.c.gallery_id == pushing.gallery_id,
                    crm_targets.c.crm == pushing.crm,
                )
            )
            connection = (
                (
                    await session.execute(
                        select(crm_connections.c.id, crm_connections.c.credentials_sealed).where(
                            crm_connections.c.org_id == pushing.org_id,
                            crm_connections.c.crm == pushing.crm,
                        )
                    )
                )
                .mappings()
                .first()
            )
        if connection is None:
            raise CrmError("no credentials stored for this CRM any more", retryable=False)
        if record_id is None:
            raise CrmError("the gallery is no longer mapped to a CRM record", retryable=False)
        opened = self._box.open(connection["credentials_sealed"], context=connection["id"].bytes)
        credentials: dict[str, str] = json.loads(opened)
        return record_id, self._client_factory(pushing.crm, credentials, http)

    async def _uploads(self, pushing: Pushing) -> tuple[dict[str, Any], list[Upload]]:
        """The record's fields and the version's photos with the CRM's fields for each, from
        the files stored for that version (versions built before the facts travelled have no
        record fields). The fields are the CRM's own JSON, passed through as they are."""
        async with self._db.sessions() as session:
            export = (
                (
                    await session.execute(
                        select(exports.c.files, exports.c.photos).where(
                            exports.c.gallery_id == pushing.gallery_id,
                            exports.c.version == pushing.version,
                        )
                    )
                )
                .mappings()
                .one()
            )
        wanted = FORMAT_FILE[pushing.crm]
        stored = next((f for f in export["files"] if f["name"] == wanted), None)
        if stored is None:
            raise CrmError(f"the export version has no {wanted}", retryable=False)
        document = json.loads(await self._storage.get_bytes(stored["storage_key"]))
        record_fields: dict[str, Any] = {}
        if pushing.crm == "onoffice":
            estate = (document.get("estate") or {}).get("parameters") or {}
            record_fields = estate.get("data") or {}
        else:
            unit = next((f for f in export["files"] if f["name"] == RECORD_FILE["propstack"]), None)
            if unit is not None:
                stored_unit = json.loads(await self._storage.get_bytes(unit["storage_key"]))
                record_fields = stored_unit.get("property") or {}
        keys = {
            p.get("file_name") or f"{p['pseudonym']}.jpg": p["web_key"]
            for p in export["photos"] or []
        }
        if pushing.crm == "onoffice":
            items = [
                (f["image"], _without(f["parameters"], "module", "relatedRecordId", "file"))
                for f in document["files"]
            ]
        else:
            items = [
                (
                    i["image"]["photo"],
                    _without(i["image"], "photo", "imageable_id", "imageable_type"),
                )
                for i in document
            ]
        uploads = []
        for name, fields in items:
            if name not in keys:
                raise CrmError(f"photo {name} of the version is missing", retryable=False)
            uploads.append(Upload(name, await self._storage.get_bytes(keys[name]), fields))
        return record_fields, uploads


# A CRM's per-image fields: its own JSON, passed through.
def _without(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in names}


def _with_next_attempt() -> Select[Any]:
    """Pushes with `next_attempt_at`: when a retrying one's job is due again."""
    p = crm_pushes
    waiting = and_(
        jobs.c.kind == PUSH_CRM,
        jobs.c.key == cast(p.c.id, String),
        jobs.c.status == "queued",
    )
    return select(
        *(c for c in p.c if c.name != "next_attempt_at"),
        jobs.c.run_at.label("next_attempt_at"),
    ).select_from(p.outerjoin(jobs, waiting))
