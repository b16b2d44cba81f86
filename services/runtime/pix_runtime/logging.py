"""structlog setup: JSON when not a TTY (production), readable otherwise.

Every line carries `service` (the process's) and, within a piece of work, `request_id`: bound
with contextvars per request and per event (one format, 32 hex characters), so every line of
one piece of work carries it, across services (HTTP `X-Request-ID`, the outbox's headers).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import Any

import structlog

CORRELATION_HEADER = "x-request-id"
_ID = re.compile(r"[0-9a-f]{32}")


def configure_logging(service: str, *, json: bool | None = None, level: str = "INFO") -> None:
    use_json = (not sys.stderr.isatty()) if json is None else json

    def add_service(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        # A processor, not a contextvar: requests and events clear their context.
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Route the standard library's loggers (uvicorn, aiokafka, sqlalchemy) through structlog.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "uvicorn.access", "faststream.access.kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def normal_correlation_id(incoming: str | None) -> str:
    """`incoming` in the one format (a UUID in any spelling becomes 32 hex characters), or a
    new id when it is missing or something else (a client's free text is not logged as ours)."""
    if incoming:
        candidate = incoming.strip().lower()
        if _ID.fullmatch(candidate):
            return candidate
        try:
            return uuid.UUID(candidate).hex
        except ValueError:
            pass
    return new_correlation_id()


def bind_correlation_id(correlation_id: str) -> None:
    structlog.contextvars.bind_contextvars(request_id=correlation_id)


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
