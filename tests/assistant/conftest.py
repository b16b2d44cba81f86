"""The assistant against the real leads and listings apps and a local Chat Completions server.

The assistant runs under uvicorn in the test's event loop (a real HTTP server, so its answers
stream as they would behind the gateway); leads and listings are in-process apps it reaches
through their ASGI transports, with the caller's signed identity; all on the session's
PostgreSQL and Tansu.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from assistant_helpers import ROUTER, AssistantStack, model_settings, serve_in_loop
from chat_fake import ChatFake, ServerThread
from pix_assistant.app import create_app
from pix_captioning.app import create_app as create_captioning
from pix_captioning.settings import CaptioningSettings
from pix_leads.app import create_app as create_leads
from pix_leads.settings import LeadsSettings
from pix_listings.app import create_app as create_listings
from pix_listings.settings import ListingsSettings
from pix_media.app import create_app as create_media
from pix_media.settings import MediaSettings
from pix_orders.app import create_app as create_orders
from pix_orders.settings import OrdersSettings
from pix_runtime.embeddings import LocalEmbedder
from pix_runtime.migrations import upgrade_to_head
from pix_stack.embedded import EmbeddedPostgres


@pytest.fixture(scope="session")
async def assistant_schemas(postgres: EmbeddedPostgres, migrated: set[str]) -> None:
    for package in ("pix_leads", "pix_listings", "pix_assistant"):
        await upgrade_to_head(postgres.url, package, package.removeprefix("pix_"))


@pytest.fixture(scope="session")
def chat() -> Iterator[ChatFake]:
    fake = ChatFake(router_model=ROUTER)
    server = ServerThread(fake)
    server.start()
    yield fake
    server.stop()


@pytest.fixture(scope="session")
async def stack(assistant_schemas: None, chat: ChatFake) -> AsyncIterator[AssistantStack]:
    leads_app, leads_runtime = create_leads(LeadsSettings(smtp_port=0))
    listings_app, listings_runtime = create_listings(ListingsSettings(), embedder=LocalEmbedder())
    await listings_app.state.vectors.ensure_indexes()
    orders_app, orders_runtime = create_orders(OrdersSettings())
    media_app, media_runtime = create_media(MediaSettings())
    captioning_app, captioning_runtime = create_captioning(CaptioningSettings())
    transports: dict[str, httpx.AsyncBaseTransport] = {
        "leads": httpx.ASGITransport(app=leads_app),
        "listings": httpx.ASGITransport(app=listings_app),
        "orders": httpx.ASGITransport(app=orders_app),
        "media": httpx.ASGITransport(app=media_app),
        "captioning": httpx.ASGITransport(app=captioning_app),
    }
    app, runtime = create_app(model_settings(chat), transports=transports)
    async with (
        serve_in_loop(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        httpx.AsyncClient(transport=transports["leads"], base_url="http://leads") as leads,
        httpx.AsyncClient(transport=transports["listings"], base_url="http://listings") as listings,
    ):
        yield AssistantStack(
            client, runtime, leads, leads_runtime, listings, listings_runtime, chat, transports
        )
    for other in (leads_runtime, listings_runtime, orders_runtime, media_runtime):
        await other.db.dispose()
    await captioning_runtime.db.dispose()
