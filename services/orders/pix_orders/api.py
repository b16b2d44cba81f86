import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, Header
from pix_runtime.http import not_found
from pix_runtime.identity import Identity
from pydantic import BaseModel, EmailStr, Field

from pix_orders.service import Order, OrderBook, OrderDraft


class OrderRequest(BaseModel):
    contact_name: str = Field(min_length=1, max_length=200)
    contact_email: EmailStr
    property_address: str = Field(min_length=3, max_length=500)
    locale: Literal["de", "en"] = "de"


class OrderView(BaseModel):
    id: uuid.UUID
    reference: str
    gallery_id: uuid.UUID
    status: str
    contact_name: str
    contact_email: str
    property_address: str
    created_at: datetime

    @classmethod
    def of(cls, order: Order) -> Self:
        return cls.model_validate(order, from_attributes=True)


def create_router(book: OrderBook, current_identity: object) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(current_identity)]

    @router.post("/orders", status_code=201)
    async def place_order(
        body: OrderRequest,
        caller: Caller,
        idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
    ) -> OrderView:
        draft = OrderDraft(
            contact_name=body.contact_name,
            contact_email=str(body.contact_email),
            property_address=body.property_address,
            locale=body.locale,
            idempotency_key=idempotency_key,
        )
        return OrderView.of(await book.place(draft, caller))

    @router.get("/orders")
    async def list_orders(caller: Caller) -> list[OrderView]:
        return [OrderView.of(order) for order in await book.list_for(caller)]

    @router.get("/orders/{order_id}")
    async def get_order(order_id: uuid.UUID, caller: Caller) -> OrderView:
        order = await book.get_for(order_id, caller)
        if order is None:
            raise not_found("order")
        return OrderView.of(order)

    return router
