"""Domain errors. Services raise these; the HTTP layer maps each kind to its status code."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class NotFound(DomainError):
    """Unknown id, or an id of another organisation (never tell the two apart)."""

    status = 404

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} not found")


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422


class TooLarge(DomainError):
    status = 413


class Unavailable(DomainError):
    status = 503
