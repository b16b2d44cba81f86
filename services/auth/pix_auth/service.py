"""Accounts, organisations and sessions.

Sessions follow Lucia: a token `<id>.<secret>` (32 random bytes of secret), of which the database
keeps only SHA-256(secret), compared in constant time; sliding expiry with an absolute cap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pix_contracts import UserRegistered
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, DomainError, Invalid
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from sqlalchemy import RowMapping, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from pix_auth.models import organisations, outbox, sessions, users

SOURCE = "/pix/auth"
MIN_PASSWORD = 8
MAX_PASSWORD = 128
# Refresh last_seen at most this often, so validating a session is usually read-only.
TOUCH_INTERVAL = timedelta(minutes=1)
log = get_logger(__name__)
hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Paid for unknown emails too, so response time does not reveal whether an account exists.
DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


class LoginFailed(DomainError):
    status = 401

    def __init__(self) -> None:
        super().__init__("invalid_credentials", "email or password is wrong")


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: datetime


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid("weak_password", f"use at least {MIN_PASSWORD} characters", "password")
    if len(password) > MAX_PASSWORD:
        raise Invalid("password_too_long", f"use at most {MAX_PASSWORD} characters", "password")


def _secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def identity_of(user: RowMapping) -> Identity:
    return Identity(
        user_id=user["id"],
        org_id=user["org_id"],
        role=user["role"],
        email=user["email"],
        name=user["name"],
        locale=user["locale"],
    )


class Accounts:
    def __init__(self, db: Database, *, idle: timedelta, absolute: timedelta) -> None:
        self._db = db
        self._idle = idle
        self._absolute = absolute

    async def ensure_admin(self, email: str, password: str | None) -> str | None:
        """Create the first administrator if there is none; returns a generated password."""
        async with self._db.sessions() as session:
            if await session.scalar(select(users.c.id).where(users.c.role == "admin").limit(1)):
                return None
        generated = None if password else secrets.token_urlsafe(15)
        await self.register(
            name="Administrator",
            email=email,
            password=password or generated or "",
            company="pix.immo",
            locale="de",
            role="admin",
        )
        return generated

    async def register(
        self,
        *,
        name: str,
        email: str,
        password: str,
        company: str,
        locale: str,
        role: str = "client",
    ) -> Identity:
        check_password_policy(password)
        org_id, user_id = uuid.uuid4(), uuid.uuid4()
        try:
            async with self._db.transaction() as session:
                await session.execute(organisations.insert().values(id=org_id, name=company))
                user = (
                    (
                        await session.execute(
                            users.insert()
                            .values(
                                id=user_id,
                                org_id=org_id,
                                email=email.strip(),
                                name=name.strip(),
                                password_hash=hasher.hash(password),
                                role=role,
                                locale=locale,
                            )
                            .returning(*users.c)
                        )
                    )
                    .mappings()
                    .one()
                )
                await enqueue(
                    session,
                    outbox,
                    UserRegistered(
                        user_id=user_id,
                        org_id=org_id,
                        email=user["email"],
                        name=user["name"],
                        role=user["role"],
                        locale=user["locale"],
                    ),
                    source=SOURCE,
                )
        except IntegrityError as exc:
            raise Conflict("email_taken", "an account with this email exists", "email") from exc
        return identity_of(user)

    async def login(self, email: str, password: str) -> tuple[SessionToken, Identity]:
        """A fresh session on every login (no session fixation)."""
        async with self._db.sessions() as session:
            user = (
                (
                    await session.execute(
                        select(users).where(func.lower(users.c.email) == email.strip().lower())
                    )
                )
                .mappings()
                .first()
            )
        try:
            hasher.verify(user["password_hash"] if user else DUMMY_HASH, password)
        except (VerificationError, InvalidHashError) as exc:
            raise LoginFailed() from exc
        if user is None:
            raise LoginFailed()
        return await self._new_session(user["id"]), identity_of(user)

    async def _new_session(self, user_id: uuid.UUID) -> SessionToken:
        session_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + self._idle
        async with self._db.transaction() as session:
            await session.execute(
                sessions.insert().values(
                    id=session_id,
                    secret_hash=_secret_hash(secret),
                    user_id=user_id,
                    expires_at=expires,
                    absolute_expires_at=now + self._absolute,
                )
            )
        return SessionToken(f"{session_id}.{secret}", expires)

    async def validate(self, token: str) -> Identity | None:
        """The identity behind a session token, sliding its expiry; None if not valid."""
        session_id, _, secret = token.partition(".")
        if not session_id or not secret:
            return None
        now = datetime.now(UTC)
        async with self._db.sessions() as db:
            row = (
                (
                    await db.execute(
                        select(sessions, users)
                        .join(users, users.c.id == sessions.c.user_id)
                        .where(sessions.c.id == session_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None or not hmac.compare_digest(row["secret_hash"], _secret_hash(secret)):
            return None
        if now >= row["expires_at"] or now >= row["absolute_expires_at"]:
            await self.revoke(token)
            return None
        if now - row["last_seen_at"] > TOUCH_INTERVAL:
            async with self._db.transaction() as db:
                await db.execute(
                    update(sessions)
                    .where(sessions.c.id == session_id)
                    .values(
                        last_seen_at=now,
                        expires_at=min(now + self._idle, row["absolute_expires_at"]),
                    )
                )
        user = {k: row[k] for k in ("org_id", "role", "email", "name", "locale")}
        return identity_of({"id": row["user_id"], **user})  # type: ignore[arg-type]

    async def revoke(self, token: str) -> None:
        session_id = token.partition(".")[0]
        async with self._db.transaction() as db:
            await db.execute(delete(sessions).where(sessions.c.id == session_id))

    async def revoke_all(self, user_id: uuid.UUID) -> int:
        async with self._db.transaction() as db:
            result = await db.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return int(result.rowcount)  # type: ignore[attr-defined]
