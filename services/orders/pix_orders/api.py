"""HTTP routes of the orders service: parse, call the domain, shape the answer."""

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pix_contracts.events import OrderStatus
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from pix_orders.export import orders_csv
from pix_orders.places import PlacesClient
from pix_orders.records import HistoryEntry, Note, Order, OrderDetail
from pix_orders.reports import WeekDeliveryTime, WeekOrders
from pix_orders.search import DEFAULT_LIMIT, MAX_LIMIT, OrderFilter
from pix_orders.service import OrderBook
from pix_orders.validation import OrderForm, SlotForm


def _number_as_text(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(float(value))
    return value


# Generous caps against abuse only; the real limits are the domain's (`too_long`), reported
# per field together with every other mistake.
Text = Annotated[str | None, Field(default=None, max_length=10_000)]
# Numbers may come as typed ("94,5", "abc"): the domain reads them and reports text that is
# no number as a field error beside every other one, instead of a schema error for it alone.
Number = Annotated[
    Annotated[str, Field(max_length=100)] | None,
    BeforeValidator(_number_as_text),
    Field(default=None),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 100}, {"type": "null"}]}
    ),
]


class SlotRequest(BaseModel):
    date: Text = None
    window: Text = None


class OrderRequest(BaseModel):
    """Every field optional here, so the domain reports all missing ones at once."""

    contact_name: Text = None
    contact_email: Text = None
    contact_phone: Text = None
    street: Text = None
    house_number: Text = None
    postcode: Text = None
    city: Text = None
    country: Text = None
    property_type: Text = None
    marketing: Text = None
    living_area_m2: Number = None
    rooms: Number = None
    services: list[Annotated[str, Field(max_length=100)]] = Field(default=[], max_length=50)
    preferred_slots: list[SlotRequest] = Field(default=[], max_length=50)
    access_notes: Text = None
    locale: Text = None

    def form(self) -> OrderForm:
        data = self.model_dump(exclude={"preferred_slots"})
        slots = [SlotForm(date=s.date, window=s.window) for s in self.preferred_slots]
        return OrderForm(**data, preferred_slots=slots)


class OrderView(Order):
    """An order as the API shows it: its running number and who placed it stay inside."""

    number: int = Field(exclude=True)
    placed_by: uuid.UUID = Field(exclude=True)

    @classmethod
    def of(cls, order: Order) -> Self:
        return cls.model_validate(order, from_attributes=True)


class OrderDetailView(OrderView):
    history: list[HistoryEntry]
    allowed_transitions: list[str]
    internal_notes: list[Note] | None = Field(
        default=None, description="Administrators only; absent for clients"
    )

    @classmethod
    def of_detail(cls, detail: OrderDetail) -> JSONResponse:
        view = cls(
            **dict(detail.order),
            history=detail.history,
            allowed_transitions=detail.allowed_transitions,
            internal_notes=detail.internal_notes,
        )
        # Clients get no `internal_notes` key at all, not even null.
        exclude = {"internal_notes"} if detail.internal_notes is None else set()
        return JSONResponse(view.model_dump(mode="json", exclude=exclude))


class StatusRequest(BaseModel):
    status: OrderStatus
    note: Annotated[str | None, Field(default=None, max_length=10_000)] = None


class NoteRequest(BaseModel):
    text: Annotated[str, Field(max_length=10_000)]


class PriceView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label_de: str
    label_en: str
    price_cents: int


class SuggestionView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    place_id: str
    text: str


class AddressView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    street: str
    house_number: str
    postcode: str
    city: str
    country: str


def order_filter(
    status: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    org_id: uuid.UUID | None = None,
    placed_from: date | None = None,
    placed_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> OrderFilter:
    return OrderFilter(
        status=status or None,
        q=q,
        org_id=org_id,
        placed_from=placed_from,
        placed_to=placed_to,
        limit=limit,
    )


def book_of(request: Request) -> OrderBook:
    book: OrderBook = request.app.state.book
    return book


def places_of(request: Request) -> PlacesClient:
    places: PlacesClient = request.app.state.places
    return places


Book = Annotated[OrderBook, Depends(book_of)]
Places = Annotated[PlacesClient, Depends(places_of)]
router = APIRouter()
Filter = Annotated[OrderFilter, Depends(order_filter)]
SessionToken = Annotated[str | None, Query(max_length=100)]


@router.get("/price-list")
async def get_price_list(book: Book, caller: CurrentIdentity) -> list[PriceView]:
    return [PriceView.model_validate(p, from_attributes=True) for p in book.price_list()]


@router.post("/orders", status_code=201)
async def place_order(
    book: Book,
    body: OrderRequest,
    caller: CurrentIdentity,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> OrderView:
    order, created = await book.place(body.form(), caller, idempotency_key=idempotency_key or None)
    if not created:
        response.status_code = 200
    return OrderView.of(order)


@router.get("/orders")
async def list_orders(book: Book, caller: CurrentIdentity, wanted: Filter) -> list[OrderView]:
    return [OrderView.of(order) for order in await book.list_for(caller, wanted)]


@router.get("/orders.csv", response_class=Response)
async def export_orders(book: Book, caller: CurrentIdentity, wanted: Filter) -> Response:
    rows = await book.all_for_export(caller, wanted)
    stamp = datetime.now().strftime("%Y-%m-%d")
    return Response(
        orders_csv(rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pix-auftraege-{stamp}.csv"'},
    )


@router.get("/orders/{order_id}", response_model=OrderDetailView)
async def get_order(book: Book, order_id: uuid.UUID, caller: CurrentIdentity) -> JSONResponse:
    return OrderDetailView.of_detail(await book.detail(order_id, caller))


@router.post("/orders/{order_id}/status", response_model=OrderDetailView)
async def change_status(
    book: Book, order_id: uuid.UUID, body: StatusRequest, caller: CurrentIdentity
) -> JSONResponse:
    detail = await book.change_status(order_id, body.status, caller, note=body.note)
    return OrderDetailView.of_detail(detail)


@router.post("/orders/{order_id}/notes", status_code=201)
async def add_note(
    book: Book, order_id: uuid.UUID, body: NoteRequest, caller: CurrentIdentity
) -> Note:
    return await book.add_note(order_id, body.text, caller)


@router.get("/places/autocomplete")
async def autocomplete(
    places: Places,
    caller: CurrentIdentity,
    input: Annotated[str, Query(max_length=200)],
    session_token: SessionToken = None,
) -> list[SuggestionView]:
    found = await places.autocomplete(input, language=caller.locale, session_token=session_token)
    return [SuggestionView.model_validate(s, from_attributes=True) for s in found]


@router.get("/places/{place_id}")
async def place_details(
    places: Places,
    place_id: Annotated[str, Path(max_length=512)],
    caller: CurrentIdentity,
    session_token: SessionToken = None,
) -> AddressView:
    address = await places.address(place_id, language=caller.locale, session_token=session_token)
    return AddressView.model_validate(address, from_attributes=True)


@router.get("/reports/orders-per-week")
async def orders_per_week_report(
    book: Book,
    caller: CurrentIdentity,
    since: datetime,
    org_id: uuid.UUID | None = None,
) -> list[WeekOrders]:
    """Orders placed per ISO week by status and ordered service (admins: all or `org_id`;
    owners: their own organisation)."""
    return await book.weekly_report(caller, org_id, since)


@router.get("/reports/delivery-time")
async def delivery_time_report(
    book: Book,
    caller: CurrentIdentity,
    since: datetime,
    org_id: uuid.UUID | None = None,
) -> list[WeekDeliveryTime]:
    """Orders delivered per ISO week with the median and p90 hours from placed to delivered
    (admins: all or `org_id`; owners: their own organisation)."""
    return await book.delivery_report(caller, org_id, since)
