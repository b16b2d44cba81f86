"""The leads service's viewings and calendars as the gateway's pages call them (the member
routes with the caller's identity; the lead's public offer without one)."""

from collections.abc import Mapping
from typing import Any

from pix_gateway.clients.base import ServiceClient, segment
from pix_gateway.clients.leads_models import (
    CalendarStatus,
    CalendarView,
    PublicOffer,
    PublicViewing,
    Viewing,
)


class ViewingsClient(ServiceClient):
    service = "leads"

    async def calendar(self) -> CalendarStatus:
        return await self.one(CalendarStatus, "GET", "/calendar")

    async def connect(self, body: Mapping[str, Any]) -> CalendarView:
        return await self.one(CalendarView, "PUT", "/calendar", json=dict(body))

    async def set_hours(self, body: Mapping[str, Any]) -> CalendarView:
        return await self.one(CalendarView, "PUT", "/calendar/hours", json=dict(body))

    async def disconnect(self) -> None:
        await self.call("DELETE", "/calendar")

    async def of_lead(self, lead_id: str) -> list[Viewing]:
        return await self.many(Viewing, f"/leads/{segment(lead_id)}/viewings")

    async def book(self, lead_id: str, body: Mapping[str, Any]) -> Viewing:
        return await self.one(
            Viewing, "POST", f"/leads/{segment(lead_id)}/viewings", json=dict(body)
        )

    async def move(self, viewing_id: str, body: Mapping[str, Any]) -> Viewing:
        return await self.one(Viewing, "PATCH", f"/viewings/{segment(viewing_id)}", json=dict(body))

    async def cancel(self, viewing_id: str) -> Viewing:
        return await self.one(Viewing, "POST", f"/viewings/{segment(viewing_id)}/cancel")

    async def offer(self, token: str) -> PublicOffer:
        return await self.one(PublicOffer, "GET", f"/public/viewings/{segment(token)}")

    async def pick(self, token: str, starts_at: str) -> PublicViewing:
        path = f"/public/viewings/{segment(token)}"
        return await self.one(PublicViewing, "POST", path, json={"starts_at": starts_at})
