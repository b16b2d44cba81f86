from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pix_contracts import OrderPlaced, OrderStatusChanged
from pix_contracts.appointments import APPOINTMENT_EVENTS
from pix_contracts.privacy import OrdersOrganisationErased
from pix_runtime.broker import declare_publishers
from pix_runtime.erasure import subscribe_organisation_erasure
from pix_runtime.lifecycle import ServiceRuntime, serve
from pix_runtime.personal_data import declare

from pix_orders.api import router
from pix_orders.appointments import AppointmentBook
from pix_orders.appointments_api import router as appointments_router
from pix_orders.handlers import register_handlers
from pix_orders.models import ORGANISATION_DATA, jobs, outbox
from pix_orders.places import PlacesClient
from pix_orders.privacy import PERSONAL_DATA
from pix_orders.service import OrderBook
from pix_orders.settings import OrdersSettings


def create_app(settings: OrdersSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or OrdersSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, jobs=jobs)
    book = OrderBook(runtime.db, settings.price_list_cents)
    places = PlacesClient(
        settings.google_places_key,
        base_url=settings.google_places_base_url,
        timeout_seconds=settings.google_places_timeout_seconds,
    )
    register_handlers(runtime.broker, book)
    subscribe_organisation_erasure(runtime, ORGANISATION_DATA, OrdersOrganisationErased)
    declare_publishers(runtime.broker, OrderPlaced, OrderStatusChanged, *APPOINTMENT_EVENTS)
    app = runtime.create_app(title="pix.immo orders")
    declare(app, "orders", PERSONAL_DATA)
    app.state.book = book
    app.state.places = places
    app.state.appointments = AppointmentBook(runtime.db)
    app.include_router(router)
    app.include_router(appointments_router)
    # Close the Places connection pool after the runtime has stopped.
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        try:
            async with runtime_lifespan(app) as state:
                yield state
        finally:
            await places.aclose()

    app.router.lifespan_context = lifespan
    return app, runtime


def main() -> None:
    settings = OrdersSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_orders")
