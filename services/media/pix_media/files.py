"""The refusal of a floor plan or video, with a stable code for the API and the gallery page."""

from __future__ import annotations


class FileRejected(Exception):
    """`code` is stable (unsupported_type, corrupt_file, unsafe_file, too_many_pages,
    too_many_pixels, too_long, too_large); `message` is an English sentence for the API."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
