"""The orders service as the gateway's pages call it."""

from collections.abc import Mapping

from pix_gateway.clients.base import ServiceClient, query, segment
from pix_gateway.clients.orders_models import (
    AddressView,
    Note,
    OrderDetailView,
    OrderRequest,
    OrderView,
    PriceView,
    SuggestionView,
)


class OrdersClient(ServiceClient):
    service = "orders"

    async def price_list(self) -> list[PriceView]:
        return await self.many(PriceView, "/price-list")

    async def place_order(self, order: OrderRequest, *, idempotency_key: str) -> OrderView:
        return await self.one(
            OrderView,
            "POST",
            "/orders",
            json=order.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
        )

    async def list_orders(self, filters: Mapping[str, str] | None = None) -> list[OrderView]:
        wanted = {k: v for k, v in (filters or {}).items() if v}
        return await self.many(OrderView, f"/orders{query(wanted)}")

    async def get_order(self, order_id: str) -> OrderDetailView:
        return await self.one(OrderDetailView, "GET", f"/orders/{segment(order_id)}")

    async def change_status(
        self, order_id: str, status: str, note: str | None = None
    ) -> OrderDetailView:
        return await self.one(
            OrderDetailView,
            "POST",
            f"/orders/{segment(order_id)}/status",
            json={"status": status, "note": note},
        )

    async def add_note(self, order_id: str, text: str) -> Note:
        return await self.one(
            Note, "POST", f"/orders/{segment(order_id)}/notes", json={"text": text}
        )

    async def suggest_addresses(self, street: str, session_token: str) -> list[SuggestionView]:
        found = query({"input": street, "session_token": session_token})
        return await self.many(SuggestionView, f"/places/autocomplete{found}")

    async def address(self, place_id: str, session_token: str) -> AddressView:
        return await self.one(
            AddressView,
            "GET",
            f"/places/{segment(place_id)}{query({'session_token': session_token})}",
        )
