"""Reading the dev mail outbox (.eml files) the way a person reads their inbox."""

from __future__ import annotations

import asyncio
import email
import re
import time
from email.message import EmailMessage
from email.policy import default
from pathlib import Path


def messages_to(folder: Path, recipient: str) -> list[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        if message["To"] == recipient:
            found.append(message)
    return found


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


async def wait_for_link(
    folder: Path, recipient: str, path: str, *, after: int = 0, timeout: float = 30
) -> str:
    """The first link to `path` in mail number `after`+1 or later to `recipient`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in messages_to(folder, recipient)[after:]:
            match = re.search(rf"https?://\S+{re.escape(path)}\?token=[\w\-]+", plain_text(message))
            if match:
                return match.group(0)
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no mail with a {path} link reached {recipient}")
