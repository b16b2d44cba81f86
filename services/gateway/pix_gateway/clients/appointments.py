"""The orders service's appointments: the photographer's day, the admin's calendar and
scheduling form."""

from datetime import date, time

from pix_gateway.clients.base import ServiceClient, query, segment
from pix_gateway.clients.orders_models import AppointmentView, ShootView


class AppointmentsClient(ServiceClient):
    service = "orders"

    async def day(self, day: date) -> list[ShootView]:
        return await self.many(ShootView, f"/appointments{query({'day': day.isoformat()})}")

    async def between(self, start: date, end: date) -> list[ShootView]:
        """Shoots from `start` to `end`, both included (at most 42 days)."""
        where = query({"start": start.isoformat(), "end": end.isoformat()})
        return await self.many(ShootView, f"/appointments/range{where}")

    async def schedule(
        self,
        order_id: str,
        *,
        day: date,
        starts_at: time,
        ends_at: time,
        photographer_id: str,
        photographer_email: str | None,
        photographer_name: str | None,
    ) -> AppointmentView:
        return await self.one(
            AppointmentView,
            "PUT",
            f"/orders/{segment(order_id)}/appointment",
            json={
                "date": day.isoformat(),
                "starts_at": starts_at.isoformat(timespec="minutes"),
                "ends_at": ends_at.isoformat(timespec="minutes"),
                "photographer_id": photographer_id,
                "photographer_email": photographer_email,
                "photographer_name": photographer_name,
            },
        )

    async def of_order(self, order_id: str) -> AppointmentView:
        return await self.one(AppointmentView, "GET", f"/orders/{segment(order_id)}/appointment")

    async def cancel(self, order_id: str) -> AppointmentView:
        return await self.one(AppointmentView, "DELETE", f"/orders/{segment(order_id)}/appointment")
