"""Conversations (the user's own, in their organisation) and what the user asked the assistant
to remember. Another user's conversation is `NotFound`, as another organisation's would be."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pix_runtime.clock import Clock
from pix_runtime.db import Database
from pix_runtime.errors import NotFound
from pydantic import BaseModel
from sqlalchemy import delete, func, insert, select, update

from pix_assistant import models as m
from pix_assistant.platform import Caller


class Conversation(BaseModel):
    id: uuid.UUID
    title: str
    summary: str
    rating: int | None
    created_at: datetime
    updated_at: datetime


class ChatMessage(BaseModel):
    """A turn as the user sees it: their words and the assistant's answers, no tool traffic."""

    id: int
    role: Literal["user", "assistant"]
    content: str
    created_at: datetime


class StoredMessage(BaseModel):
    """A turn as the model sees it."""

    id: int
    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None
    tool_call_id: str | None

    def for_model(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
            message["content"] = self.content or None
        if self.tool_call_id:
            message["tool_call_id"] = self.tool_call_id
        return message


class Memory(BaseModel):
    id: uuid.UUID
    fact: str
    created_at: datetime


def _own(caller: Caller) -> Any:
    who = caller.identity
    return (m.conversations.c.org_id == who.org_id) & (m.conversations.c.user_id == who.user_id)


class Conversations:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def start(self, caller: Caller, title: str = "") -> Conversation:
        now = self._clock.now()
        row = {
            "id": uuid.uuid4(),
            "org_id": caller.identity.org_id,
            "user_id": caller.identity.user_id,
            "title": title[:200],
            "summary": "",
            "rating": None,
            "created_at": now,
            "updated_at": now,
        }
        async with self._db.transaction() as session:
            await session.execute(insert(m.conversations).values(**row))
        return Conversation.model_validate(row)

    async def mine(self, caller: Caller) -> list[Conversation]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.conversations)
                .where(_own(caller))
                .order_by(m.conversations.c.updated_at.desc())
                .limit(100)
            )
            return [Conversation.model_validate(dict(r)) for r in rows.mappings()]

    async def get(self, caller: Caller, conversation_id: uuid.UUID) -> Conversation:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(m.conversations).where(
                            _own(caller), m.conversations.c.id == conversation_id
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("conversation")
        return Conversation.model_validate(dict(row))

    async def delete(self, caller: Caller, conversation_id: uuid.UUID) -> None:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(m.conversations).where(_own(caller), m.conversations.c.id == conversation_id)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound("conversation")

    async def rate(self, caller: Caller, conversation_id: uuid.UUID, rating: int) -> Conversation:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(m.conversations)
                .where(_own(caller), m.conversations.c.id == conversation_id)
                .values(rating=rating)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound("conversation")
        return await self.get(caller, conversation_id)

    async def transcript(self, caller: Caller, conversation_id: uuid.UUID) -> list[ChatMessage]:
        await self.get(caller, conversation_id)
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.messages)
                .where(
                    m.messages.c.conversation_id == conversation_id,
                    m.messages.c.role.in_(("user", "assistant")),
                    m.messages.c.content != "",
                )
                .order_by(m.messages.c.id)
            )
            return [ChatMessage.model_validate(dict(r)) for r in rows.mappings()]

    async def history(self, conversation_id: uuid.UUID, after: int = 0) -> list[StoredMessage]:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.messages)
                .where(m.messages.c.conversation_id == conversation_id, m.messages.c.id > after)
                .order_by(m.messages.c.id)
            )
            return [StoredMessage.model_validate(dict(r)) for r in rows.mappings()]

    async def append(
        self,
        caller: Caller,
        conversation_id: uuid.UUID,
        role: str,
        content: str,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
    ) -> int:
        now = self._clock.now()
        async with self._db.transaction() as session:
            message_id = await session.scalar(
                insert(m.messages)
                .values(
                    conversation_id=conversation_id,
                    org_id=caller.identity.org_id,
                    role=role,
                    content=content,
                    tool_calls=tool_calls,
                    tool_call_id=tool_call_id,
                    created_at=now,
                )
                .returning(m.messages.c.id)
            )
            values: dict[str, Any] = {"updated_at": now}
            if role == "user":
                # The first question names the conversation.
                values["title"] = func.coalesce(
                    func.nullif(m.conversations.c.title, ""), content[:80]
                )
            await session.execute(
                update(m.conversations)
                .where(m.conversations.c.id == conversation_id)
                .values(**values)
            )
        assert message_id is not None
        return int(message_id)

    async def fold(self, conversation_id: uuid.UUID, summary: str, upto: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(m.conversations)
                .where(m.conversations.c.id == conversation_id)
                .values(summary=summary, summarised_upto=upto)
            )

    async def summarised_upto(self, conversation_id: uuid.UUID) -> int:
        async with self._db.sessions() as session:
            found = await session.scalar(
                select(m.conversations.c.summarised_upto).where(
                    m.conversations.c.id == conversation_id
                )
            )
        return int(found or 0)

    async def rated_good(self, org_id: uuid.UUID | None) -> list[uuid.UUID]:
        query = select(m.conversations.c.id).where(m.conversations.c.rating == 1)
        if org_id is not None:
            query = query.where(m.conversations.c.org_id == org_id)
        async with self._db.sessions() as session:
            return list(
                (await session.execute(query.order_by(m.conversations.c.created_at))).scalars()
            )


class MemoryStore:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def remember(self, caller: Caller, fact: str) -> uuid.UUID:
        memory_id = uuid.uuid4()
        async with self._db.transaction() as session:
            await session.execute(
                insert(m.memories).values(
                    id=memory_id,
                    org_id=caller.identity.org_id,
                    user_id=caller.identity.user_id,
                    fact=fact.strip()[:500],
                    created_at=self._clock.now(),
                )
            )
        return memory_id

    async def mine(self, caller: Caller) -> list[Memory]:
        who = caller.identity
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(m.memories)
                .where(m.memories.c.org_id == who.org_id, m.memories.c.user_id == who.user_id)
                .order_by(m.memories.c.created_at)
            )
            return [Memory.model_validate(dict(r)) for r in rows.mappings()]

    async def facts(self, caller: Caller) -> list[tuple[uuid.UUID, str]]:
        return [(memory.id, memory.fact) for memory in await self.mine(caller)]

    async def forget(self, caller: Caller, memory_id: uuid.UUID) -> bool:
        who = caller.identity
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(m.memories).where(
                    m.memories.c.id == memory_id,
                    m.memories.c.org_id == who.org_id,
                    m.memories.c.user_id == who.user_id,
                )
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]
