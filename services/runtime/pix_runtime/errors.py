"""Domain errors. Services raise these; the HTTP layer maps each kind to its status code."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # `fields` maps every offending field to its error code, so a form can mark all of them
        # at once; `field` stays the first of them for clients that read only one.
        self.fields = fields or None
        self.field = field if field is not None or not fields else next(iter(fields))


class NotFound(DomainError):
    """Unknown id, or an id of another organisation (never tell the two apart)."""

    status = 404

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} not found")


class Forbidden(DomainError):
    """The caller is known but may not do this (a role, not an organisation: another
    organisation's ids are `NotFound`)."""

    status = 403

    def __init__(self, message: str = "administrators only") -> None:
        super().__init__("forbidden", message)


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422


class TooLarge(DomainError):
    status = 413


class Unavailable(DomainError):
    status = 503
