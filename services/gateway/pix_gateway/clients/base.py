"""What every typed client shares: one call through `Backend` with the caller's signed identity,
the answer read into the generated model, and a refusal raised as a typed error that carries the
service's {"error": {"code", "message", "field"?, "fields"?}} body."""

from collections.abc import Awaitable, Mapping
from typing import ClassVar, TypeVar
from urllib.parse import quote, urlencode

import httpx
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pydantic import BaseModel, TypeAdapter, ValidationError

from pix_gateway.service import Backend

Model = TypeVar("Model", bound=BaseModel)
Answer = TypeVar("Answer")

log = get_logger(__name__)


class ErrorDetail(BaseModel):
    """The services' error answer, `{"error": {"code", "message", "field"?, "fields"?}}`."""

    code: str = ""
    message: str = ""
    field: str | None = None
    fields: dict[str, str] = {}


class ErrorAnswer(BaseModel):
    error: ErrorDetail = ErrorDetail()


class ServiceError(Exception):
    """A service refused (4xx) or failed (5xx); `status` is its HTTP status."""

    def __init__(self, status: int, error: ErrorDetail) -> None:
        self.status = status
        self.code = error.code
        self.message = error.message
        self.field = error.field or None
        self.fields = error.fields
        super().__init__(f"{status} {self.code}")


class NotFound(ServiceError):
    """404: missing, or another organisation's."""


class PaymentRequired(ServiceError):
    """402: the order's payment is still outstanding."""


class Conflict(ServiceError):
    """409: the state does not allow it (a transition, a duplicate)."""


class Invalid(ServiceError):
    """400/422: the input was refused, usually naming the field."""


class Unavailable(ServiceError):
    """5xx: the service could not answer."""


def error_of(response: httpx.Response) -> ServiceError:
    try:
        body = ErrorAnswer.model_validate_json(response.content).error
    except ValidationError:  # not our services' shape (a proxy's HTML page, an empty 502)
        body = ErrorDetail()
    status = response.status_code
    if status == 404:
        return NotFound(status, body)
    if status == 402:
        return PaymentRequired(status, body)
    if status == 409:
        return Conflict(status, body)
    if status in (400, 422):
        return Invalid(status, body)
    if status >= 500:
        return Unavailable(status, body)
    return ServiceError(status, body)


def segment(value: str) -> str:
    """A path segment from a visitor's input: never a second path."""
    return quote(value, safe="")


def query(params: Mapping[str, str | None]) -> str:
    """A query string of the given parameters (None left out), with its "?"."""
    wanted = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(wanted)}" if wanted else ""


async def or_default(answer: Awaitable[Answer], default: Answer) -> Answer:
    """The answer, or the default when the service refused or failed (as `ui.json` did)."""
    try:
        return await answer
    except ServiceError:
        return default


async def part(answer: Awaitable[Answer], default: Answer) -> Answer:
    """A part of a page from a service that may be down: the page shows without it."""
    try:
        return await answer
    except ServiceError:
        return default
    except httpx.TransportError as exc:
        log.warning("page.part_missing", error=exc.__class__.__name__)
        return default


class ServiceClient:
    service: ClassVar[str]

    def __init__(self, backend: Backend, identity: Identity | None) -> None:
        self.backend = backend
        self.identity = identity

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The raw answer, a success only; a refusal raises its ServiceError."""
        response = await self.backend.call(
            method, self.service, path, identity=self.identity, json=json, headers=headers
        )
        if not response.is_success:
            raise error_of(response)
        return response

    async def one(
        self,
        model: type[Model],
        method: str,
        path: str,
        *,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Model:
        response = await self.call(method, path, json=json, headers=headers)
        return model.model_validate_json(response.content)

    async def many(self, model: type[Model], path: str) -> list[Model]:
        response = await self.call("GET", path)
        return TypeAdapter(list[model]).validate_json(response.content)  # type: ignore[valid-type]
