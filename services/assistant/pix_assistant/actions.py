"""Proposed changes (seed: JarvisPendingAction): stored when the assistant proposes them, run only
when their user says yes, through the platform's APIs as that user at that moment.

pending -> running -> done | failed; pending -> rejected | expired; done -> undoing -> undone
where the domain allows taking it back (a caption edit, an import). A second confirm finds
nothing pending (409), so an action never runs twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, NotFound
from pix_runtime.jobs import JobContext
from pix_runtime.logging import get_logger
from pydantic import BaseModel
from sqlalchemy import insert, select, update

from pix_assistant import models as m
from pix_assistant.accounts import Accounts
from pix_assistant.platform import Caller, PlatformApis, ServiceError
from pix_assistant.store import Conversations

log = get_logger(__name__)

ActionStatus = Literal[
    "pending", "running", "done", "failed", "rejected", "expired", "undoing", "undone"
]
Executor = Callable[[PlatformApis, Caller, dict[str, Any]], Awaitable[Any]]
Undoer = Callable[[PlatformApis, Caller, dict[str, Any], Any], Awaitable[Any]]
EXPIRE = "assistant.expire-actions"


class Action(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID | None
    kind: str
    summary: str
    arguments: dict[str, Any]
    status: ActionStatus
    result: Any = None
    error: str | None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class ActionDesk:
    def __init__(
        self,
        db: Database,
        apis: PlatformApis,
        conversations: Conversations,
        accounts: Accounts,
        executors: Mapping[str, Executor],
        *,
        clock: Clock,
        ttl: timedelta,
        undoers: Mapping[str, Undoer] | None = None,
    ) -> None:
        self._undoers = dict(undoers or {})
        self._db = db
        self._apis = apis
        self._conversations = conversations
        self._accounts = accounts
        self._executors = dict(executors)
        self._clock = clock
        self._ttl = ttl

    def _own(self, caller: Caller) -> Any:
        who = caller.identity
        return (m.actions.c.org_id == who.org_id) & (m.actions.c.user_id == who.user_id)

    async def propose(
        self,
        caller: Caller,
        conversation_id: uuid.UUID | None,
        kind: str,
        summary: str,
        arguments: dict[str, Any],
    ) -> Action:
        if kind not in self._executors:
            raise ValueError(f"no executor for {kind}")
        now = self._clock.now()
        row = {
            "id": uuid.uuid4(),
            "org_id": caller.identity.org_id,
            "user_id": caller.identity.user_id,
            "conversation_id": conversation_id,
            "kind": kind,
            "arguments": arguments,
            "summary": summary,
            "status": "pending",
            "created_at": now,
            "expires_at": now + self._ttl,
        }
        async with self._db.transaction() as session:
            await session.execute(insert(m.actions).values(**row))
        await self._accounts.audit(
            caller.identity, conversation_id, "action_proposed", kind, {"action_id": str(row["id"])}
        )
        return await self.get(caller, row["id"])  # type: ignore[arg-type]

    async def get(self, caller: Caller, action_id: uuid.UUID) -> Action:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(m.actions).where(self._own(caller), m.actions.c.id == action_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("action")
        return Action.model_validate(dict(row))

    async def pending(self, caller: Caller, conversation_id: uuid.UUID) -> list[Action]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.actions)
                .where(
                    self._own(caller),
                    m.actions.c.conversation_id == conversation_id,
                    m.actions.c.status == "pending",
                    m.actions.c.expires_at > self._clock.now(),
                )
                .order_by(m.actions.c.created_at)
            )
            return [Action.model_validate(dict(r)) for r in rows.mappings()]

    async def undo(self, caller: Caller, action_id: uuid.UUID) -> Action:
        """Take a confirmed action back where its domain allows it; only one request can."""
        current = await self.get(caller, action_id)
        if current.kind not in self._undoers:
            raise Conflict("not_undoable", "this change cannot be taken back")
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        update(m.actions)
                        .where(
                            self._own(caller),
                            m.actions.c.id == action_id,
                            m.actions.c.status == "done",
                        )
                        .values(status="undoing")
                        .returning(*m.actions.c)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise Conflict("not_done", f"this proposal is {current.status}, not done")
        action = Action.model_validate(dict(row))
        status: ActionStatus = "undone"
        error: str | None = None
        try:
            await self._undoers[action.kind](self._apis, caller, action.arguments, action.result)
        except ServiceError as exc:
            status, error = "done", f"undo failed: {exc.message}"
        async with self._db.transaction() as session:
            await session.execute(
                update(m.actions)
                .where(m.actions.c.id == action.id)
                .values(status=status, error=error)
            )
        await self._accounts.audit(
            caller.identity,
            action.conversation_id,
            "action_undone",
            action.kind,
            {"action_id": str(action.id), "status": status, "error": error},
        )
        return await self.get(caller, action.id)

    async def _take(self, caller: Caller, action_id: uuid.UUID, to: ActionStatus) -> Action:
        """Move a pending, unexpired action on; only one request can."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = (
                (
                    await session.execute(
                        update(m.actions)
                        .where(
                            self._own(caller),
                            m.actions.c.id == action_id,
                            m.actions.c.status == "pending",
                            m.actions.c.expires_at > now,
                        )
                        .values(status=to, decided_at=now)
                        .returning(*m.actions.c)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            current = await self.get(caller, action_id)
            if current.status == "pending":
                raise Conflict("expired", "this proposal has expired; ask again")
            raise Conflict("decided", f"this proposal is already {current.status}")
        return Action.model_validate(dict(row))

    async def confirm(self, caller: Caller, action_id: uuid.UUID) -> Action:
        action = await self._take(caller, action_id, "running")
        status: ActionStatus = "done"
        result: Any = None
        error: str | None = None
        try:
            result = await self._executors[action.kind](self._apis, caller, action.arguments)
        except ServiceError as exc:
            status, error = "failed", exc.message
        except Exception as exc:
            log.error("assistant.action_failed", kind=action.kind, exc_info=exc)
            status, error = "failed", "internal error"
        async with self._db.transaction() as session:
            await session.execute(
                update(m.actions)
                .where(m.actions.c.id == action.id)
                .values(status=status, result=result, error=error)
            )
        await self._accounts.audit(
            caller.identity,
            action.conversation_id,
            "action_confirmed",
            action.kind,
            {"action_id": str(action.id), "status": status, "error": error},
        )
        if action.conversation_id is not None:
            done = "✓" if status == "done" else "✗"
            note = action.summary + ("" if error is None else f" – {error}")
            await self._conversations.append(
                caller, action.conversation_id, "assistant", f"{done} {note}"
            )
        return await self.get(caller, action.id)

    async def reject(self, caller: Caller, action_id: uuid.UUID) -> Action:
        action = await self._take(caller, action_id, "rejected")
        await self._accounts.audit(
            caller.identity,
            action.conversation_id,
            "action_rejected",
            action.kind,
            {"action_id": str(action.id)},
        )
        return action

    async def expire(self, ctx: JobContext) -> None:
        """Periodic: proposals nobody answered in time are marked expired."""
        async with self._db.transaction() as session:
            await session.execute(
                update(m.actions)
                .where(m.actions.c.status == "pending", m.actions.c.expires_at <= ctx.now)
                .values(status="expired", decided_at=ctx.now)
            )
