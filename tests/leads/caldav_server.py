"""A real CalDAV server for the viewing tests: Radicale (PyPI `radicale`) as a subprocess on a
free port, with plain htpasswd users and a temp storage folder. The tests talk to it only
through the `caldav` client, as the service does."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from caldav.davclient import DAVClient
from pix_stack.embedded import free_port


@dataclass
class Radicale:
    url: str
    folder: Path
    users: Path

    def add_user(self, password: str = "") -> tuple[str, str]:
        """A new account (Radicale re-reads the htpasswd file per login)."""
        name = f"agent{uuid.uuid4().hex[:8]}"
        password = password or uuid.uuid4().hex
        with self.users.open("a") as users:
            users.write(f"{name}:{password}\n")
        return name, password

    def client(self, user: str, password: str) -> Any:
        return DAVClient(self.url, username=user, password=password)

    def make_calendar(self, user: str, password: str, name: str = "Arbeit") -> str:
        """A calendar for the account; its URL."""
        with self.client(user, password) as client:
            calendar = client.principal().make_calendar(name=name, cal_id=uuid.uuid4().hex[:8])
            return str(calendar.url)

    def event(self, user: str, password: str, calendar_url: str, uid: str) -> Any | None:
        """The event with this UID as the server keeps it (icalendar component), or None."""
        from caldav.lib.error import NotFoundError

        with self.client(user, password) as client:
            try:
                found = client.calendar(url=calendar_url).get_event_by_uid(uid)
            except NotFoundError:
                return None
            return found.icalendar_component

    def add_event(self, user: str, password: str, calendar_url: str, ics: str) -> None:
        with self.client(user, password) as client:
            client.calendar(url=calendar_url).add_event(ics)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    folder = tmp_path_factory.mktemp("radicale")
    users = folder / "users"
    users.write_text("")
    port = free_port()
    log = (folder / "radicale.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(users),
            "--auth-htpasswd-encryption",
            "plain",
            "--storage-filesystem-folder",
            str(folder / "collections"),
            "--logging-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1.0)
            break
        except httpx.TransportError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                said = (folder / "radicale.log").read_text()
                raise RuntimeError(f"Radicale did not start: {said}") from exc
            time.sleep(0.05)
    yield Radicale(url=url, folder=folder, users=users)
    process.terminate()
    process.wait(timeout=10)
    log.close()
