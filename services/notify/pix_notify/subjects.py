"""A lead's (or any person's) mails in notify's log, for their rights (GDPR Art. 15, 17): the
mails the organisation sent to the address. Mails carry the organisation they were about, so
another organisation's mails to the same address are not found."""

from __future__ import annotations

import uuid

from pix_runtime.db import Database
from pix_runtime.personal_data import SubjectQuery, SubjectRecord
from sqlalchemy import ColumnElement, delete, func, select

from pix_notify.models import emails


class MailSubjects:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _theirs(query: SubjectQuery, org_id: uuid.UUID) -> ColumnElement[bool] | None:
        if query.email is None:
            return None  # mails are found by address only
        return (emails.c.org_id == org_id) & (func.lower(emails.c.recipient) == query.email)

    async def find(self, query: SubjectQuery, org_id: uuid.UUID) -> list[SubjectRecord]:
        where = self._theirs(query, org_id)
        if where is None:
            return []
        async with self._db.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        emails.c.id,
                        emails.c.kind,
                        emails.c.created_at,
                        emails.c.subject,
                        emails.c.text_body,
                        emails.c.recipient,
                    )
                    .where(where)
                    .order_by(emails.c.created_at)
                )
            ).all()
        return [
            SubjectRecord(
                kind=f"mail:{kind}",
                id=str(mail_id),
                at=at,
                text=f"To: {recipient}\nSubject: {subject}\n\n{body}",
            )
            for mail_id, kind, at, subject, body, recipient in rows
        ]

    async def erase(self, query: SubjectQuery, org_id: uuid.UUID) -> int:
        where = self._theirs(query, org_id)
        if where is None:
            return 0
        async with self._db.transaction() as session:
            gone = await session.execute(delete(emails).where(where).returning(emails.c.id))
            return len(gone.all())
