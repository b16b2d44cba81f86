"""A person named in assistant conversations, for their rights (GDPR Art. 15, 17): messages of
the organisation's conversations that contain the address or the number. Erasure redacts the
message (the conversation and its usage figures stay)."""

from __future__ import annotations

import uuid

from pix_runtime.db import Database
from pix_runtime.personal_data import SubjectQuery, SubjectRecord
from sqlalchemy import ColumnElement, func, or_, select, update

from pix_assistant.models import messages

REDACTED = "[erased: personal data]"


class ConversationSubjects:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _theirs(query: SubjectQuery, org_id: uuid.UUID) -> ColumnElement[bool]:
        content = messages.c.content
        found: list[ColumnElement[bool]] = []
        if query.email:
            found.append(func.strpos(func.lower(content), query.email) > 0)
        if query.phone:
            # Numbers are written with spaces, dashes or a leading +49: compared by digits.
            digits = func.regexp_replace(content, "[^0-9]", "", "g")
            national = query.phone[2:] if query.phone.startswith("49") else query.phone
            found.append(func.strpos(digits, national.lstrip("0")) > 0)
        return (messages.c.org_id == org_id) & or_(*found) & (content != REDACTED)

    async def find(self, query: SubjectQuery, org_id: uuid.UUID) -> list[SubjectRecord]:
        m = messages.c
        async with self._db.sessions() as session:
            rows = (
                await session.execute(
                    select(m.id, m.role, m.content, m.created_at)
                    .where(self._theirs(query, org_id))
                    .order_by(m.id)
                )
            ).all()
        return [
            SubjectRecord(kind=f"conversation:{role}", id=str(message_id), at=at, text=content)
            for message_id, role, content, at in rows
        ]

    async def erase(self, query: SubjectQuery, org_id: uuid.UUID) -> int:
        async with self._db.transaction() as session:
            gone = await session.execute(
                update(messages)
                .where(self._theirs(query, org_id))
                .values(content=REDACTED)
                .returning(messages.c.id)
            )
            return len(gone.all())
