"""The listings service in-process on the session's PostgreSQL, with its schema migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from listings_helpers import Api
from pix_listings.app import create_app
from pix_listings.settings import ListingsSettings
from pix_runtime.embeddings import LocalEmbedder
from pix_stack.embedded import EmbeddedPostgres


@pytest.fixture(scope="session")
async def listings_schema(postgres: EmbeddedPostgres, migrated: set[str]) -> str:
    from pix_runtime.migrations import upgrade_to_head

    await upgrade_to_head(postgres.url, "pix_listings", "listings")
    return "listings"


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """One model load for the session (~1.5 s)."""
    return LocalEmbedder()


@pytest.fixture
async def api(listings_schema: str, local_embedder: LocalEmbedder) -> AsyncIterator[Api]:
    app, runtime = create_app(ListingsSettings(), embedder=local_embedder)
    await app.state.vectors.ensure_indexes()
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(runtime.broker) as broker,
        httpx.AsyncClient(transport=transport, base_url="http://listings") as client,
    ):
        yield Api(client, runtime, broker, app)
    await runtime.db.dispose()
