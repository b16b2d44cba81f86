"""Prometheus metrics of the caption workers (served by the runtime's `/metrics`).

Lag is per partition of the partitions this process owns; summed over all workers it is the
consumer group's lag, which is what an autoscaler should watch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prometheus_client import Counter, Gauge, Histogram

IN_FLIGHT = Gauge("pix_caption_in_flight", "Captions being produced right now")
PROVIDER_LATENCY = Histogram(
    "pix_caption_provider_seconds",
    "Duration of one provider call",
    ["provider", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120),
)
HANDLE_SECONDS = Histogram(
    "pix_caption_handle_seconds",
    "Duration of handling one upload event, provider calls included",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120),
)
FAILURES = Counter(
    "pix_caption_failures_total", "Failed provider calls and failed captions", ["provider", "kind"]
)
CAPTIONS = Counter("pix_captions_total", "Caption versions written", ["provider", "status"])
BREAKER_OPEN = Gauge(
    "pix_caption_breaker_open", "1 while a provider's circuit is open", ["provider"]
)
CONSUMER_LAG = Gauge(
    "pix_caption_consumer_lag",
    "Messages behind the end of the partition, group captioning",
    ["topic", "partition"],
)
# Everything a caption costs except waiting for the provider's answer: Kafka parsing, middleware,
# database, storage, building the request and the files. Observed per event by the worker.
OVERHEAD_SECONDS = Histogram(
    "pix_caption_overhead_seconds",
    "Handling time of one upload event minus the time spent waiting on the provider",
    buckets=(
        0.001,
        0.002,
        0.003,
        0.004,
        0.005,
        0.006,
        0.008,
        0.010,
        0.012,
        0.014,
        0.016,
        0.018,
        0.020,
        0.025,
        0.030,
        0.040,
        0.050,
        0.075,
        0.1,
        0.15,
        0.25,
        0.5,
        1.0,
    ),
)

# Seconds spent waiting on remote provider calls by the current event; set up per event by
# the consumer (`track_remote`), added to by the providers (`remote_call`).
_remote_seconds: ContextVar[list[float] | None] = ContextVar("pix_caption_remote", default=None)


def track_remote() -> list[float]:
    """Start counting provider time for the event handled in the current task."""
    seconds = [0.0]
    _remote_seconds.set(seconds)
    return seconds


@contextmanager
def remote_call() -> Iterator[None]:
    """Around one provider request: its duration counts as provider time, not overhead."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = _remote_seconds.get()
        if seconds is not None:
            seconds[0] += time.perf_counter() - started
