"""Accounts, organisations, sessions and the email-link flows (verify, reset, invite).

Sessions follow Lucia: a token `<id>.<secret>` (32 random bytes of secret) of which the database
keeps only SHA-256(secret), compared in constant time; sliding expiry with an absolute cap; a new
session on every login. Email-link tokens are 32 random bytes, stored hashed, single-use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Literal

from pix_contracts import (
    EmailVerificationRequested,
    PasswordChanged,
    PasswordResetRequested,
    UserDeletedV2,
    UserRegistered,
)
from pix_runtime.db import Database
from pix_runtime.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from pix_runtime.identity import Identity, Role
from pix_runtime.jobs import JobContext, enqueue_job
from pix_runtime.logging import get_logger
from pix_runtime.outbox import enqueue
from pix_runtime.personal_data import subject_digest
from pix_runtime.sealing import seal
from pydantic import BaseModel
from sqlalchemy import RowMapping, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pix_auth.devices import DeviceTokens
from pix_auth.hashing import PasswordHashing
from pix_auth.i18n import CATALOGUE
from pix_auth.models import jobs, organisations, outbox, sessions, tokens, users
from pix_auth.organisations import erasure_pending
from pix_auth.throttle import Throttle

SOURCE = "/pix/auth"
MIN_PASSWORD = 8
MAX_PASSWORD = 128
# Refresh last_seen at most this often, so validating a session is usually read-only.
TOUCH_INTERVAL = timedelta(minutes=1)
TOKEN_LIFETIMES = {
    "verify": timedelta(days=2),
    "reset": timedelta(hours=1),
    "invite": timedelta(days=7),
}
TokenPurpose = Literal["verify", "reset", "invite"]
RESET_JOB = "auth.password-reset"
log = get_logger(__name__)
COMMON_PASSWORDS = frozenset(
    line.strip().casefold()
    for line in resources.files("pix_auth")
    .joinpath("data/common-passwords.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip() and not line.startswith("#")
)


class LoginFailed(DomainError):
    status = 401

    def __init__(self) -> None:
        super().__init__("invalid_credentials", "email or password is wrong")


class LinkInvalid(DomainError):
    status = 400

    def __init__(self) -> None:
        super().__init__("link_invalid", "this link is invalid, used or expired")


# Roles only platform admins give.
STAFF_ROLES = ("admin", "photographer")


class PasswordResetJob(BaseModel):
    address: str


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    session: SessionToken
    identity: Identity
    # Given to the browser; its next sign-in to this account counts as a trusted device.
    device_token: str


@dataclass(frozen=True)
class LinkSettings:
    public_url: str
    sealing_key: bytes


Locale = Literal["de", "en"]


@dataclass(frozen=True)
class UserRecord:
    """A row of auth.users, password hash included: stays inside this module."""

    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    password_hash: str
    role: Role
    locale: Locale
    email_verified_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> UserRecord:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def identity(self, session_id: str | None = None) -> Identity:
        return Identity(
            user_id=self.id,
            org_id=self.org_id,
            role=self.role,
            email=self.email,
            name=self.name,
            locale=self.locale,
            session_id=session_id,
            email_verified=self.email_verified_at is not None,
        )


@dataclass(frozen=True)
class UsedToken:
    user_id: uuid.UUID
    purpose: TokenPurpose


class SessionInfo(BaseModel):
    """One of the user's signed-in devices."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    user_agent: str | None
    current: bool


class Profile(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    role: Role
    locale: Locale
    organisation: str | None
    email_verified: bool
    created_at: datetime


class ExportedSession(BaseModel):
    created_at: datetime
    last_seen_at: datetime
    user_agent: str | None


class DataExport(BaseModel):
    """Everything auth holds about a user (GDPR Art. 15/20)."""

    exported_at: datetime
    profile: Profile
    sessions: list[ExportedSession]
    note: str


class UserSummary(BaseModel):
    """A user as the platform's administrators see them."""

    id: uuid.UUID
    name: str
    email: str
    role: Role
    locale: Locale
    email_verified_at: datetime | None
    created_at: datetime
    organisation: str
    org_id: uuid.UUID


class OrganisationSummary(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    members: int


def check_password_policy(password: str) -> None:
    """NIST 800-63B style: length, and not a known common password; no composition rules."""
    if len(password) < MIN_PASSWORD:
        raise Invalid("weak_password", f"use at least {MIN_PASSWORD} characters", "password")
    if len(password) > MAX_PASSWORD:
        raise Invalid("password_too_long", f"use at most {MAX_PASSWORD} characters", "password")
    if password.casefold() in COMMON_PASSWORDS:
        raise Invalid("common_password", "this password is too common, choose another", "password")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Accounts:
    def __init__(
        self,
        db: Database,
        *,
        idle: timedelta,
        absolute: timedelta,
        links: LinkSettings,
        throttle: Throttle,
        hashing: PasswordHashing,
        devices: DeviceTokens,
        subject_key: bytes,
    ) -> None:
        self._db = db
        self._subject_key = subject_key
        self._idle = idle
        self._absolute = absolute
        self._links = links
        self.throttle = throttle
        self._hashing = hashing
        self._devices = devices

    # --- registration -------------------------------------------------------------------------

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
            verified=True,
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
        role: Role = "owner",
        verified: bool = False,
        ip: str = "",
    ) -> Identity:
        """A new organisation (the agency) with its first user, and a verification email."""
        self.throttle.hit("register-ip", ip)
        check_password_policy(password)
        password_hash = await self._hashing.hash(password)
        org_id, user_id = uuid.uuid4(), uuid.uuid4()
        try:
            async with self._db.transaction() as session:
                await session.execute(organisations.insert().values(id=org_id, name=company))
                user = UserRecord.from_row(
                    (
                        await session.execute(
                            users.insert()
                            .values(
                                id=user_id,
                                org_id=org_id,
                                email=email.strip(),
                                name=name.strip(),
                                password_hash=password_hash,
                                role=role,
                                locale=locale,
                                email_verified_at=func.now() if verified else None,
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
                        email=user.email,
                        name=user.name,
                        role=user.role,
                        locale=user.locale,
                    ),
                    source=SOURCE,
                )
                if not verified:
                    await self._send_verification(session, user)
        except IntegrityError as exc:
            raise Conflict("email_taken", "an account with this email exists", "email") from exc
        return user.identity()

    async def _issue_token(
        self, session: AsyncSession, user_id: uuid.UUID, purpose: TokenPurpose
    ) -> tuple[str, datetime]:
        secret = secrets.token_urlsafe(32)  # 256 bits
        expires = datetime.now(UTC) + TOKEN_LIFETIMES[purpose]
        await session.execute(
            tokens.insert().values(
                token_hash=_digest(secret), user_id=user_id, purpose=purpose, expires_at=expires
            )
        )
        return secret, expires

    def _sealed_link(self, path: str, secret: str) -> str:
        url = f"{self._links.public_url.rstrip('/')}{path}?token={secret}"
        return seal(url, self._links.sealing_key, context="email-link")

    async def _send_verification(self, session: AsyncSession, user: UserRecord) -> None:
        secret, expires = await self._issue_token(session, user.id, "verify")
        await enqueue(
            session,
            outbox,
            EmailVerificationRequested(
                user_id=user.id,
                email=user.email,
                name=user.name,
                locale=user.locale,
                sealed_verify_url=self._sealed_link("/verify-email", secret),
                expires_at=expires,
            ),
            source=SOURCE,
        )

    async def resend_verification(self, who: Identity) -> None:
        self.throttle.hit("reset-account", str(who.user_id))
        async with self._db.transaction() as session:
            user = await self._user(session, who.user_id)
            if user.email_verified_at is None:
                await self._send_verification(session, user)

    async def _use_token(
        self, session: AsyncSession, secret: str, purposes: tuple[TokenPurpose, ...]
    ) -> UsedToken:
        """Consume a single-use token (row-locked, so two clicks cannot both succeed)."""
        row = (
            (
                await session.execute(
                    select(tokens)
                    .where(tokens.c.token_hash == _digest(secret), tokens.c.purpose.in_(purposes))
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None or row["used_at"] is not None or row["expires_at"] < datetime.now(UTC):
            raise LinkInvalid()
        await session.execute(
            update(tokens)
            .where(tokens.c.token_hash == row["token_hash"])
            .values(used_at=func.now())
        )
        return UsedToken(user_id=row["user_id"], purpose=row["purpose"])

    async def verify_email(self, secret: str) -> None:
        async with self._db.transaction() as session:
            token = await self._use_token(session, secret, ("verify",))
            await session.execute(
                update(users)
                .where(users.c.id == token.user_id, users.c.email_verified_at.is_(None))
                .values(email_verified_at=func.now())
            )

    # --- sessions -----------------------------------------------------------------------------

    async def login(
        self,
        email: str,
        password: str,
        *,
        ip: str = "",
        user_agent: str = "",
        device_token: str | None = None,
    ) -> SignedIn:
        """A fresh session on every login (no session fixation). Failures count per account
        and client (see `throttle`), so guessing from elsewhere never locks the owner out."""
        address = email.strip().lower()
        device = self._devices.identify(device_token, address, ip)
        self.throttle.hit("login-ip", ip)
        self.throttle.begin_login(address, device.client, trusted=device.trusted)
        async with self._db.sessions() as session:
            user = await self._user_by_email(session, address)
        matches = await self._hashing.verify(user.password_hash if user else None, password)
        if user is None or not matches:
            raise LoginFailed()
        if await erasure_pending(self._db, user.org_id):
            raise Conflict("organisation_locked", "the organisation's deletion is pending")
        self.throttle.login_succeeded(address, device.client)
        token = await self._new_session(user.id, user_agent)
        return SignedIn(
            session=token,
            identity=user.identity(token.token.partition(".")[0]),
            device_token=self._devices.issue(address),
        )

    async def _new_session(self, user_id: uuid.UUID, user_agent: str) -> SessionToken:
        session_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + self._idle
        async with self._db.transaction() as session:
            await session.execute(
                sessions.insert().values(
                    id=session_id,
                    secret_hash=_digest(secret),
                    user_id=user_id,
                    expires_at=expires,
                    absolute_expires_at=now + self._absolute,
                    user_agent=user_agent[:300] or None,
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
                        select(
                            sessions.c.secret_hash,
                            sessions.c.last_seen_at,
                            sessions.c.expires_at,
                            sessions.c.absolute_expires_at,
                            users,
                        )
                        .join(users, users.c.id == sessions.c.user_id)
                        .where(sessions.c.id == session_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None or not hmac.compare_digest(row["secret_hash"], _digest(secret)):
            return None
        if now >= row["expires_at"] or now >= row["absolute_expires_at"]:
            await self._delete_sessions(sessions.c.id == session_id)
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
        return UserRecord.from_row(row).identity(session_id)

    async def _delete_sessions(self, *where: Any) -> int:
        async with self._db.transaction() as db:
            result = await db.execute(delete(sessions).where(*where))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def revoke(self, token: str) -> None:
        """End the session the whole token names; knowing only its id is not enough."""
        session_id, _, secret = token.partition(".")
        await self._delete_sessions(
            sessions.c.id == session_id, sessions.c.secret_hash == _digest(secret)
        )

    async def revoke_all(self, user_id: uuid.UUID) -> int:
        return await self._delete_sessions(sessions.c.user_id == user_id)

    async def revoke_session(self, who: Identity, session_id: str) -> None:
        removed = await self._delete_sessions(
            sessions.c.user_id == who.user_id, sessions.c.id == session_id
        )
        if not removed:
            raise NotFound("session")

    async def list_sessions(self, who: Identity) -> list[SessionInfo]:
        async with self._db.sessions() as db:
            rows = await db.execute(
                select(
                    sessions.c.id,
                    sessions.c.created_at,
                    sessions.c.last_seen_at,
                    sessions.c.user_agent,
                )
                .where(sessions.c.user_id == who.user_id)
                .order_by(sessions.c.last_seen_at.desc())
            )
            return [SessionInfo(**r, current=r["id"] == who.session_id) for r in rows.mappings()]

    # --- passwords ----------------------------------------------------------------------------

    async def request_password_reset(self, email: str, *, ip: str = "") -> None:
        """Queue a reset link for the address; the same work whether or not it has an account.

        Whether the account exists is looked up only in the job (`send_password_reset`), after
        the answer, so neither the answer nor its timing tells.
        """
        address = email.strip().lower()
        self.throttle.hit("reset-ip", ip)
        self.throttle.hit("reset-account", address)
        async with self._db.transaction() as session:
            await enqueue_job(session, jobs, RESET_JOB, PasswordResetJob(address=address))

    async def send_password_reset(self, job: PasswordResetJob, ctx: JobContext) -> None:
        """The job behind a reset request: a link if the account exists, else nothing."""
        async with self._db.transaction() as session:
            user = await self._user_by_email(session, job.address)
            if user is not None:
                await self._send_reset(session, user, "reset")
            await ctx.finish(session)

    async def _send_reset(
        self, session: AsyncSession, user: UserRecord, purpose: Literal["reset", "invite"]
    ) -> None:
        secret, expires = await self._issue_token(session, user.id, purpose)
        path = "/reset-password" if purpose == "reset" else "/accept-invitation"
        await enqueue(
            session,
            outbox,
            PasswordResetRequested(
                user_id=user.id,
                email=user.email,
                name=user.name,
                locale=user.locale,
                sealed_reset_url=self._sealed_link(path, secret),
                expires_at=expires,
                purpose="reset" if purpose == "reset" else "invitation",
            ),
            source=SOURCE,
        )

    async def reset_password(self, secret: str, new_password: str) -> None:
        """Set a new password from an emailed link; every session of the user ends."""
        check_password_policy(new_password)
        password_hash = await self._hashing.hash(new_password)
        async with self._db.transaction() as session:
            token = await self._use_token(session, secret, ("reset", "invite"))
            user = await self._set_password(session, token.user_id, password_hash)
            if token.purpose == "invite":
                # The invitation reached the inbox, which proves the address.
                await session.execute(
                    update(users)
                    .where(users.c.id == user.id, users.c.email_verified_at.is_(None))
                    .values(email_verified_at=func.now())
                )
            await session.execute(delete(sessions).where(sessions.c.user_id == user.id))
            await self._announce_password_change(session, user, "reset")

    async def change_password(self, who: Identity, current: str, new_password: str) -> None:
        """Change with the current password; every other session of the user ends."""
        check_password_policy(new_password)
        async with self._db.sessions() as session:
            current_hash = (await self._user(session, who.user_id)).password_hash
        if not await self._hashing.verify(current_hash, current):
            raise Invalid("wrong_password", "the current password is wrong", "current_password")
        password_hash = await self._hashing.hash(new_password)
        async with self._db.transaction() as session:
            user = await self._user(session, who.user_id)
            await self._set_password(session, who.user_id, password_hash)
            await session.execute(
                delete(sessions).where(
                    sessions.c.user_id == who.user_id, sessions.c.id != (who.session_id or "")
                )
            )
            await self._announce_password_change(session, user, "account")

    async def _set_password(
        self, session: AsyncSession, user_id: uuid.UUID, password_hash: str
    ) -> UserRecord:
        return UserRecord.from_row(
            (
                await session.execute(
                    update(users)
                    .where(users.c.id == user_id)
                    .values(password_hash=password_hash, password_changed_at=func.now())
                    .returning(*users.c)
                )
            )
            .mappings()
            .one()
        )

    async def _announce_password_change(
        self, session: AsyncSession, user: UserRecord, via: Literal["reset", "account"]
    ) -> None:
        await enqueue(
            session,
            outbox,
            PasswordChanged(
                user_id=user.id,
                email=user.email,
                name=user.name,
                locale=user.locale,
                via=via,
            ),
            source=SOURCE,
        )

    # --- profile and GDPR ---------------------------------------------------------------------

    async def _user(self, session: AsyncSession, user_id: uuid.UUID) -> UserRecord:
        user = (
            (await session.execute(select(users).where(users.c.id == user_id))).mappings().first()
        )
        if user is None:
            raise NotFound("user")
        return UserRecord.from_row(user)

    async def _user_by_email(self, session: AsyncSession, address: str) -> UserRecord | None:
        """The account of a lower-cased address, whatever the case it was registered in."""
        user = (
            (await session.execute(select(users).where(func.lower(users.c.email) == address)))
            .mappings()
            .first()
        )
        return None if user is None else UserRecord.from_row(user)

    async def profile(self, who: Identity) -> Profile:
        async with self._db.sessions() as session:
            user = await self._user(session, who.user_id)
            org = await session.scalar(
                select(organisations.c.name).where(organisations.c.id == user.org_id)
            )
        return Profile(
            id=user.id,
            name=user.name,
            email=user.email,
            role=user.role,
            locale=user.locale,
            organisation=org,
            email_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )

    async def update_profile(self, who: Identity, *, name: str | None, locale: str | None) -> None:
        values = {k: v for k, v in {"name": name, "locale": locale}.items() if v}
        if values:
            async with self._db.transaction() as session:
                await session.execute(update(users).where(users.c.id == who.user_id).values(values))

    async def export_data(self, who: Identity) -> DataExport:
        """Everything auth holds about the user (GDPR Art. 15/20), its note in their language."""
        profile = await self.profile(who)
        return DataExport(
            exported_at=datetime.now(UTC),
            profile=profile,
            sessions=[
                ExportedSession(
                    created_at=s.created_at, last_seen_at=s.last_seen_at, user_agent=s.user_agent
                )
                for s in await self.list_sessions(who)
            ],
            note=CATALOGUE.gettext(profile.locale, "export.note"),
        )

    async def delete_account(self, who: Identity, password: str) -> None:
        """Erase the user (GDPR Art. 17); other services react to `auth.user.deleted.v1`."""
        async with self._db.sessions() as session:
            stored_hash = (await self._user(session, who.user_id)).password_hash
        if not await self._hashing.verify(stored_hash, password):
            raise Invalid("wrong_password", "the password is wrong", "password")
        async with self._db.transaction() as session:
            user = await self._user(session, who.user_id)
            if user.role == "admin":
                others = await session.scalar(
                    select(func.count()).where(users.c.role == "admin", users.c.id != user.id)
                )
                if not others:
                    raise Conflict("last_admin", "the last administrator cannot be deleted")
            await session.execute(delete(users).where(users.c.id == user.id))
            await enqueue(
                session,
                outbox,
                UserDeletedV2(
                    user_id=user.id,
                    org_id=user.org_id,
                    email_digest=subject_digest(user.email, self._subject_key),
                ),
                source=SOURCE,
            )

    # --- administration -----------------------------------------------------------------------

    async def list_users(self, who: Identity) -> list[UserSummary]:
        if not who.is_admin:
            raise Forbidden()
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(
                    users.c.id,
                    users.c.name,
                    users.c.email,
                    users.c.role,
                    users.c.locale,
                    users.c.email_verified_at,
                    users.c.created_at,
                    organisations.c.name.label("organisation"),
                    users.c.org_id,
                )
                .join(organisations, organisations.c.id == users.c.org_id)
                .order_by(users.c.created_at.desc())
                .limit(500)
            )
            return [UserSummary.model_validate(r) for r in rows.mappings()]

    async def list_organisations(self, who: Identity) -> list[OrganisationSummary]:
        if not who.is_admin:
            raise Forbidden()
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(
                    organisations.c.id,
                    organisations.c.name,
                    organisations.c.created_at,
                    func.count(users.c.id).label("members"),
                )
                .outerjoin(users, users.c.org_id == organisations.c.id)
                .group_by(organisations.c.id)
                .order_by(organisations.c.created_at.desc())
            )
            return [OrganisationSummary.model_validate(r) for r in rows.mappings()]

    async def invite(
        self, who: Identity, *, org_id: uuid.UUID, email: str, name: str, role: Role
    ) -> Identity:
        """Add a colleague to an organisation; they set their own password from the email.
        Admins invite anyone anywhere; an owner invites owners and agents into their own."""
        self._may_staff(who, org_id, role)
        # Unusable until the invitation is accepted.
        unusable = await self._hashing.hash(secrets.token_urlsafe(32))
        try:
            async with self._db.transaction() as session:
                if not await session.scalar(
                    select(organisations.c.id).where(organisations.c.id == org_id)
                ):
                    raise NotFound("organisation")
                user = UserRecord.from_row(
                    (
                        await session.execute(
                            users.insert()
                            .values(
                                id=uuid.uuid4(),
                                org_id=org_id,
                                email=email.strip(),
                                name=name.strip(),
                                password_hash=unusable,
                                role=role,
                                locale=who.locale,
                            )
                            .returning(*users.c)
                        )
                    )
                    .mappings()
                    .one()
                )
                await self._send_reset(session, user, "invite")
        except IntegrityError as exc:
            raise Conflict("email_taken", "an account with this email exists", "email") from exc
        return user.identity()

    async def set_role(self, who: Identity, user_id: uuid.UUID, role: Role) -> None:
        if user_id == who.user_id and role != who.role:
            # Someone else must do it, so an organisation or the platform is never left
            # without anyone who manages it.
            raise Conflict("own_role", "you cannot change your own role")
        async with self._db.transaction() as session:
            user = (
                (await session.execute(select(users).where(users.c.id == user_id)))
                .mappings()
                .first()
            )
            if user is None or not who.may_access(user["org_id"]):
                raise NotFound("user")
            self._may_staff(who, user["org_id"], role)
            if user["role"] in STAFF_ROLES and not who.is_admin:
                raise NotFound("user")
            await session.execute(update(users).where(users.c.id == user_id).values(role=role))

    @staticmethod
    def _may_staff(who: Identity, org_id: uuid.UUID, role: Role) -> None:
        if who.is_admin:
            return
        if not who.manages_organisation or who.org_id != org_id:
            raise Forbidden("only the organisation's owner may manage its users")
        if role in STAFF_ROLES:
            raise Forbidden("only administrators may give platform roles")

    async def members(self, who: Identity) -> list[Identity]:
        """The colleagues of `who`'s organisation (to assign leads, to manage the team)."""
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(users).where(users.c.org_id == who.org_id).order_by(users.c.name)
            )
            return [UserRecord.from_row(row).identity() for row in rows.mappings()]
