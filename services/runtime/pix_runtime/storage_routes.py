"""HTTP side of the local storage adapter: what S3 does for presigned URLs, done by us.

The signature in the URL is the only credential (like a presigned S3 URL); bodies stream in and
out in chunks, so neither this service nor the gateway holds a whole file in memory. A PUT with
`uploadId` and `partNumber` is an S3 UploadPart: it answers with the part's `ETag` header, which
a browser reads only if CORS exposes it (same origin here; S3/R2 need `ExposeHeaders: ETag`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from pix_runtime.errors import DomainError, NotFound, TooLarge
from pix_runtime.storage import (
    LocalStorage,
    MultipartError,
    ObjectNotFound,
    ObjectTooLarge,
    StorageError,
)


class SignatureInvalid(DomainError):
    status = 403

    def __init__(self) -> None:
        super().__init__("bad_signature", "the link is invalid or has expired")


class UploadClosed(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__(
            "upload_closed", "this upload is complete; the link no longer accepts data"
        )


def local_storage_router(
    storage: LocalStorage,
    *,
    max_bytes: int,
    accepts_upload: Callable[[str], Awaitable[bool]] | None = None,
) -> APIRouter:
    """`accepts_upload(key)` lets the owner close a signed PUT URL before it expires (media
    closes it once the upload is complete, so a validated original cannot be swapped)."""
    router = APIRouter()

    def check(key: str, method: str, expires: int, sig: str, part: str = "") -> None:
        try:
            ok = storage.verify(key, method, expires, sig, part=part)
        except StorageError:
            ok = False
        if not ok:
            raise SignatureInvalid()

    @router.put("/storage/{key:path}", include_in_schema=False)
    async def put_object(
        key: str,
        request: Request,
        expires: Annotated[int, Query()],
        sig: Annotated[str, Query()],
        method: Annotated[str, Query()] = "PUT",
        upload_id: Annotated[str | None, Query(alias="uploadId")] = None,
        part_number: Annotated[int | None, Query(alias="partNumber")] = None,
    ) -> JSONResponse:
        multipart = upload_id is not None or part_number is not None
        check(key, "PUT", expires, sig, f"{upload_id}:{part_number}" if multipart else "")
        if accepts_upload is not None and not await accepts_upload(key):
            raise UploadClosed()
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge("too_large", f"files may be at most {max_bytes} bytes")

        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                if chunk:
                    yield chunk

        if upload_id is not None and part_number is not None:
            try:
                part = await storage.write_part(
                    key, upload_id, part_number, body(), max_bytes=max_bytes
                )
            except ObjectTooLarge as exc:
                raise TooLarge("too_large", f"parts may be at most {max_bytes} bytes") from exc
            except MultipartError as exc:
                raise NotFound("upload") from exc
            return JSONResponse(
                {"part_number": part.number, "size": part.size, "etag": part.etag},
                headers={"ETag": f'"{part.etag}"'},
            )
        try:
            stored = await storage.write_stream(key, body(), max_bytes=max_bytes)
        except ObjectTooLarge as exc:
            raise TooLarge("too_large", f"files may be at most {max_bytes} bytes") from exc
        return JSONResponse({"key": stored.key, "size": stored.size, "sha256": stored.sha256})

    @router.get("/storage/{key:path}", include_in_schema=False)
    async def get_object(
        key: str,
        expires: Annotated[int, Query()],
        sig: Annotated[str, Query()],
        method: Annotated[str, Query()] = "GET",
    ) -> StreamingResponse:
        check(key, "GET", expires, sig)
        if not await storage.exists(key):
            raise NotFound("file")
        media_type = "image/jpeg" if key.endswith(".jpg") else "application/octet-stream"
        if key.endswith(".json"):
            media_type = "application/json"
        elif key.endswith(".txt"):
            media_type = "text/plain; charset=utf-8"
        try:
            stream = storage.read_stream(key)
        except ObjectNotFound as exc:
            raise NotFound("file") from exc
        return StreamingResponse(stream, media_type=media_type)

    return router
