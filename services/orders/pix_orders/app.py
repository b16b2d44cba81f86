from fastapi import FastAPI
from pix_contracts import OrderPlaced, OrderStatusChanged
from pix_runtime.broker import declare_publishers
from pix_runtime.lifecycle import ServiceRuntime, serve

from pix_orders.api import create_router
from pix_orders.models import outbox
from pix_orders.service import OrderBook
from pix_orders.settings import OrdersSettings


def create_app(settings: OrdersSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or OrdersSettings()
    runtime = ServiceRuntime(settings, outbox=outbox)
    declare_publishers(runtime.broker, OrderPlaced, OrderStatusChanged)
    app = runtime.create_app(title="pix.immo orders")
    app.include_router(create_router(OrderBook(runtime.db), runtime.current_identity))
    return app, runtime


def main() -> None:
    settings = OrdersSettings()
    app, _ = create_app(settings)
    serve(app, settings, migrations_package="pix_orders")
