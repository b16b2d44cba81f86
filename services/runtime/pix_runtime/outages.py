"""What counts as an outage of our own infrastructure: the database, the broker or object
storage unreachable, restarting or cut off. Such an error is not the request's or the event's
fault: an API answers 503 with `Retry-After`, an event handler waits and tries again, a job's
attempt does not count — nothing is dead-lettered or marked failed for it.

A third party's failure (an HTTP call to a caption provider or a CRM) is not an outage here:
those calls have their own retries, and waiting for them would hold a partition up without end.
"""

from __future__ import annotations

import socket
from types import TracebackType

import aiokafka.errors
import asyncpg.exceptions
import botocore.exceptions
import httpx
import sqlalchemy.exc

# Seconds a client is asked to wait (`Retry-After`) when an API answers 503 for an outage: a
# database restart takes a few seconds.
OUTAGE_RETRY_AFTER_SECONDS = 5

_OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, broken pipe: the database or storage went away
    socket.gaierror,
    # The connection broke (ConnectionDoesNotExistError: "closed in the middle of operation").
    asyncpg.exceptions.PostgresConnectionError,
    # "the database system is starting up" (CannotConnectNowError), "terminating connection
    # due to administrator command" (AdminShutdownError), crash shutdown, statement timeout.
    asyncpg.exceptions.OperatorInterventionError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    aiokafka.errors.KafkaConnectionError,
    botocore.exceptions.ConnectionError,
)

# Where a plain OSError (a missing unix socket: FileNotFoundError; a connect timeout:
# TimeoutError) means the database is unreachable. The same class raised by our own code (a
# missing file in storage, a provider's timeout) is not an outage.
_DATABASE_MODULES = ("asyncpg", "sqlalchemy")
# asyncpg's InterfaceError also reports programming errors ("another operation is in
# progress"); only these say the connection is gone.
_CLOSED_CONNECTION = ("connection is closed", "connection was closed")

# The classes an outage surfaces as in a request, for an exception handler to catch.
OUTAGE_ROOTS: tuple[type[Exception], ...] = (
    OSError,
    sqlalchemy.exc.SQLAlchemyError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
    aiokafka.errors.KafkaError,
    botocore.exceptions.BotoCoreError,
)


def _raised_in(traceback: TracebackType | None, prefixes: tuple[str, ...]) -> bool:
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(prefixes):
            return True
        traceback = traceback.tb_next
    return False


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, _OUTAGES):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sqlalchemy.exc.DisconnectionError):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return any(phrase in str(exc) for phrase in _CLOSED_CONNECTION)
    return isinstance(exc, OSError) and _raised_in(exc.__traceback__, _DATABASE_MODULES)


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is our infrastructure being unreachable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TransportError):
            return False
        if _is_outage_itself(current):
            return True
        current = current.__cause__ or current.__context__
    return False
