"""Erasing everything a service holds for one organisation (GDPR Art. 17 for a whole
organisation), the same way in every service.

A service declares its data once (`OrganisationData`, beside its tables in models.py): every
table with an `org_id` column belongs to the organisation by that column; a table without one
belongs through a foreign key to a table that does (found by itself from the metadata), or
through a key the service names (`Through`, e.g. captioning's predictions by asset id). Objects
in storage go with their rows: columns that hold storage keys (`object_keys`) and folders named
after an owned row's id (`Prefix`, e.g. `captions/{gallery_id}/`).

`OrganisationEraser.erase` deletes the objects first, then every owned row in one transaction,
children before parents, with the inbox row of the event and the report to auth: a crash
between the two leaves the rows, so the redelivered event finds the same objects (already gone,
harmless) and deletes the rows. A table added later with an `org_id` column is erased without
any change here; the e2e erasure test lists every table to hold that promise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pix_contracts import OrganisationErased, OrganisationErasureDue
from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    Table,
    Text,
    Uuid,
    cast,
    delete,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from pix_runtime.broker import declare_publishers, subscribe
from pix_runtime.db import Database
from pix_runtime.inbox import first_delivery
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue

if TYPE_CHECKING:
    from pix_runtime.lifecycle import ServiceRuntime

log = get_logger(__name__)

ORG_COLUMN = "org_id"
# Keys per `IN (...)` list: well below asyncpg's 32767 bind parameters.
CHUNK = 5000
# Ids per regular expression when searching jobs and sent events for them.
MENTION_CHUNK = 200
JOBS_TABLE = "jobs"
DEAD_LETTERS = "dead_letters"


class ErasableStorage(Protocol):
    async def exists(self, key: str) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def delete_prefix(self, prefix: str) -> int: ...


@dataclass(frozen=True)
class Through:
    """Rows whose `column` holds the `key` of a row the organisation owns (a link without a
    foreign key, e.g. predictions.asset_id -> captions.asset_id)."""

    column: Column[Any]
    key: Column[Any]


@dataclass(frozen=True)
class Prefix:
    """A storage folder per owned row: `template` with `{}` for the row's `key`."""

    template: str
    key: Column[Any]


@dataclass(frozen=True)
class OrganisationData:
    """What a service holds for an organisation: its metadata plus the links and objects the
    metadata cannot tell. `keep` names tables that hold nothing of any organisation (global
    settings, the service's own sequence numbers) and are never touched."""

    metadata: MetaData
    inbox: Table
    outbox: Table
    through: Sequence[Through] = ()
    object_keys: Sequence[Column[Any]] = ()
    prefixes: Sequence[Prefix] = ()
    keep: frozenset[str] = field(default_factory=frozenset)

    @property
    def jobs(self) -> Table | None:
        """The service's job table (pix_runtime.jobs), if it has one."""
        return next((t for t in self.metadata.sorted_tables if t.name == JOBS_TABLE), None)

    @property
    def dead_letters(self) -> Table | None:
        """The service's dead letters (pix_runtime.dead_letters), if it keeps them."""
        return next((t for t in self.metadata.sorted_tables if t.name == DEAD_LETTERS), None)

    def owned_tables(self) -> list[Table]:
        """Tables that can hold the organisation's rows, parents before children."""
        owned: list[Table] = []
        for table in self.metadata.sorted_tables:
            if table.name in self.keep or table is self.inbox or table is self.outbox:
                continue
            if ORG_COLUMN in table.c or self._links(table, {t.name for t in owned}):
                owned.append(table)
        # A declared link may point at a table sorted later (no foreign key orders them).
        for link in self.through:
            if link.column.table not in owned:
                owned.append(link.column.table)
        return owned

    def _links(self, table: Table, owned: set[str]) -> list[tuple[Column[Any], Column[Any]]]:
        links: list[tuple[Column[Any], Column[Any]]] = [
            (fk.parent, fk.column) for fk in table.foreign_keys if fk.column.table.name in owned
        ]
        links += [(t.column, t.key) for t in self.through if t.column.table is table]
        return links


@dataclass(frozen=True)
class ErasureCounts:
    rows: int
    objects: int


class OrganisationEraser:
    """Erases one service's data of an organisation and reports it to auth."""

    def __init__(
        self,
        data: OrganisationData,
        *,
        db: Database,
        storage: ErasableStorage | None,
        report: type[OrganisationErased],
        source: str,
    ) -> None:
        self._data = data
        self._db = db
        self._storage = storage
        self._report = report
        self._source = source
        self._consumer = f"{report.service}.organisation-erasure"

    async def erase(self, event: OrganisationErasureDue) -> ErasureCounts | None:
        """Erase and report; None for a redelivered event (already erased and reported)."""
        async with self._db.transaction() as session:
            if await _seen(session, self._data.inbox, self._consumer, event.event_id):
                return None
            owned = await self._owned_keys(session, event.org_id)
            keys, prefixes = await self._objects(session, event.org_id, owned)
        objects = await self._delete_objects(keys, prefixes)
        async with self._db.transaction() as session:
            if not await first_delivery(
                session, self._data.inbox, consumer=self._consumer, event_id=event.event_id
            ):
                return None
            owned = await self._owned_keys(session, event.org_id)
            subjects = await self._subjects(session, event.org_id, owned)
            rows = await self._delete_rows(session, event.org_id, owned)
            rows += await forget_mentions(
                session,
                outbox=self._data.outbox,
                jobs=self._data.jobs,
                dead_letters=self._data.dead_letters,
                ids=subjects,
            )
            counts = ErasureCounts(rows=rows, objects=objects)
            await enqueue(
                session,
                self._data.outbox,
                self._report(
                    org_id=event.org_id, erasure_id=event.erasure_id, rows=rows, objects=objects
                ),
                source=self._source,
            )
        log.info(
            "organisation.erased",
            org_id=str(event.org_id),
            erasure_id=str(event.erasure_id),
            rows=counts.rows,
            objects=counts.objects,
        )
        return counts

    def _condition(
        self, table: Table, org_id: uuid.UUID, owned: dict[Column[Any], list[Any]]
    ) -> ColumnElement[bool]:
        """Which rows of `table` are the organisation's, with the owned keys resolved up front
        (a parent deleted first cannot answer a subquery any more)."""
        conditions: list[ColumnElement[bool]] = []
        if ORG_COLUMN in table.c:
            conditions.append(table.c[ORG_COLUMN] == org_id)
        owned_names = {t.name for t in self._data.owned_tables()}
        for column, key in self._data._links(table, owned_names):
            values = owned.get(key, [])
            for start in range(0, len(values), CHUNK):
                conditions.append(column.in_(values[start : start + CHUNK]))
        return or_(*conditions) if conditions else false()

    async def _owned_keys(
        self, session: AsyncSession, org_id: uuid.UUID
    ) -> dict[Column[Any], list[Any]]:
        """The values of every column another table (or a storage folder) refers to, of the
        organisation's rows; parents first, so a child's keys can depend on its parent's."""
        wanted: set[Column[Any]] = {p.key for p in self._data.prefixes}
        for table in self._data.owned_tables():
            wanted |= {fk.column for fk in table.foreign_keys}
        wanted |= {t.key for t in self._data.through}
        owned: dict[Column[Any], list[Any]] = {}
        # Twice: a declared link may name a table sorted after the one it keys.
        for table in self._data.owned_tables() * 2:
            for column in [c for c in table.columns if c in wanted]:
                condition = self._condition(table, org_id, owned)
                result = await session.execute(select(column).where(condition).distinct())
                owned[column] = [v for v in result.scalars() if v is not None]
        return owned

    async def _objects(
        self, session: AsyncSession, org_id: uuid.UUID, owned: dict[Column[Any], list[Any]]
    ) -> tuple[set[str], set[str]]:
        keys: set[str] = set()
        for column in self._data.object_keys:
            condition = self._condition(column.table, org_id, owned)
            result = await session.execute(select(column).where(condition))
            keys |= {str(v) for v in result.scalars() if v}
        prefixes = {
            p.template.format(value) for p in self._data.prefixes for value in owned.get(p.key, [])
        }
        return keys, prefixes

    async def _delete_objects(self, keys: Iterable[str], prefixes: Iterable[str]) -> int:
        if self._storage is None:
            return 0
        count = 0
        for prefix in sorted(prefixes):
            count += await self._storage.delete_prefix(prefix)
        for key in sorted(keys):
            if await self._storage.exists(key):
                await self._storage.delete(key)
                count += 1
        return count

    async def _delete_rows(
        self, session: AsyncSession, org_id: uuid.UUID, owned: dict[Column[Any], list[Any]]
    ) -> int:
        rows = 0
        for table in reversed(self._data.owned_tables()):
            result = await session.execute(
                delete(table).where(self._condition(table, org_id, owned))
            )
            rows += int(getattr(result, "rowcount", 0) or 0)
        return rows

    async def _subjects(
        self, session: AsyncSession, org_id: uuid.UUID, owned: dict[Column[Any], list[Any]]
    ) -> set[str]:
        """The organisation's id and every id its rows had: what jobs and sent events name."""
        subjects = {str(org_id)}
        for table in self._data.owned_tables():
            key = list(table.primary_key.columns)
            if len(key) == 1 and isinstance(key[0].type, Uuid):
                result = await session.execute(
                    select(key[0]).where(self._condition(table, org_id, owned))
                )
                subjects |= {str(v) for v in result.scalars()}
        return subjects


async def forget_mentions(
    session: AsyncSession,
    *,
    outbox: Table,
    jobs: Table | None,
    ids: set[str],
    dead_letters: Table | None = None,
) -> int:
    """Delete what names one of `ids` outside the organisation's own tables: events already
    published (kept for a replay window; an order's contact, a lead's address), jobs that
    are not running (a follow-up for an erased lead would only fail) and dead letters (an
    event about the organisation that a handler gave up on; replayed now, it would bring
    rows back). Unpublished events stay, so none is lost halfway; a running job finds its
    rows gone."""
    deleted = 0
    ordered = sorted(ids)
    for start in range(0, len(ordered), MENTION_CHUNK):
        pattern = "|".join(ordered[start : start + MENTION_CHUNK])
        result = await session.execute(
            delete(outbox).where(
                outbox.c.published_at.is_not(None),
                func.encode(outbox.c.payload, "escape").op("~")(pattern),
            )
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
        if jobs is not None:
            result = await session.execute(
                delete(jobs).where(
                    jobs.c.status != "running",
                    or_(
                        func.coalesce(jobs.c.key, "").op("~")(pattern),
                        cast(jobs.c.payload, Text).op("~")(pattern),
                    ),
                )
            )
            deleted += int(getattr(result, "rowcount", 0) or 0)
        if dead_letters is not None:
            result = await session.execute(
                delete(dead_letters).where(
                    or_(
                        func.encode(dead_letters.c.payload, "escape").op("~")(pattern),
                        func.coalesce(dead_letters.c.event_id, "").op("~")(pattern),
                    )
                )
            )
            deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


async def _seen(session: AsyncSession, inbox: Table, consumer: str, event_id: uuid.UUID) -> bool:
    result = await session.execute(
        select(inbox.c.event_id).where(inbox.c.consumer == consumer, inbox.c.event_id == event_id)
    )
    return result.first() is not None


def subscribe_organisation_erasure(
    runtime: ServiceRuntime, data: OrganisationData, report: type[OrganisationErased]
) -> OrganisationEraser:
    """The service erases its data of an organisation when auth says it is due, and reports.

    One consumer group per service (`<service>.organisation-erasure`), so every service hears
    every erasure; storage is opened only by services that keep objects."""
    keeps_objects = bool(data.object_keys or data.prefixes)
    eraser = OrganisationEraser(
        data,
        db=runtime.db,
        storage=runtime.storage if keeps_objects else None,
        report=report,
        source=f"/pix/{report.service}",
    )

    declare_publishers(runtime.broker, report)
    group = f"{report.service}.organisation-erasure"

    @subscribe(runtime.broker, OrganisationErasureDue, group=group)
    async def organisation_erasure_due(event: OrganisationErasureDue) -> None:
        await eraser.erase(event)

    return eraser
