"""Event subscribers: none yet. The assistant reads the platform through its HTTP APIs, as the
user, so it keeps no copy of other services' data that events would have to keep current."""

from __future__ import annotations

from faststream.kafka import KafkaBroker


def register_handlers(broker: KafkaBroker) -> None:
    """Nothing to subscribe to (see the module's docstring)."""
