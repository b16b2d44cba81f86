"""The orders service's appointments as the photographer's day page reads them."""

from datetime import date

from pix_gateway.clients.base import ServiceClient, query
from pix_gateway.clients.orders_models import ShootView


class AppointmentsClient(ServiceClient):
    service = "orders"

    async def day(self, day: date) -> list[ShootView]:
        return await self.many(ShootView, f"/appointments{query({'day': day.isoformat()})}")
