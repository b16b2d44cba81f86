"""The services' analytics figures (`GET /reports/...?since=…[&org_id=…]`) as the analytics page
reads them, one client per service that owns the figures, each answer its generated model."""

from datetime import datetime

from pix_gateway.clients.assistant_models import DayProviderCost
from pix_gateway.clients.base import ServiceClient, query
from pix_gateway.clients.billing_models import MonthRevenue
from pix_gateway.clients.captioning_models import ProviderCaptions
from pix_gateway.clients.leads_models import LeadsReport
from pix_gateway.clients.media_models import DayPhotos
from pix_gateway.clients.orders_models import WeekDeliveryTime, WeekOrders


def window(since: datetime, org_id: str | None) -> str:
    return query({"since": since.isoformat(), "org_id": org_id})


class OrdersReports(ServiceClient):
    service = "orders"

    async def orders_per_week(self, since: datetime, org_id: str | None) -> list[WeekOrders]:
        return await self.many(WeekOrders, f"/reports/orders-per-week{window(since, org_id)}")

    async def delivery_time(self, since: datetime, org_id: str | None) -> list[WeekDeliveryTime]:
        return await self.many(WeekDeliveryTime, f"/reports/delivery-time{window(since, org_id)}")


class BillingReports(ServiceClient):
    service = "billing"

    async def revenue(self, since: datetime, org_id: str | None) -> list[MonthRevenue]:
        return await self.many(MonthRevenue, f"/reports/revenue{window(since, org_id)}")


class MediaReports(ServiceClient):
    service = "media"

    async def photos_per_day(self, since: datetime, org_id: str | None) -> list[DayPhotos]:
        return await self.many(DayPhotos, f"/reports/photos-per-day{window(since, org_id)}")


class CaptioningReports(ServiceClient):
    service = "captioning"

    async def captions(self, since: datetime, org_id: str | None) -> list[ProviderCaptions]:
        return await self.many(ProviderCaptions, f"/reports/captions{window(since, org_id)}")


class LeadsReports(ServiceClient):
    service = "leads"

    async def leads(self, since: datetime, org_id: str | None) -> LeadsReport:
        return await self.one(LeadsReport, "GET", f"/reports/leads{window(since, org_id)}")


class AssistantReports(ServiceClient):
    service = "assistant"

    async def provider_cost(self, since: datetime, org_id: str | None) -> list[DayProviderCost]:
        return await self.many(DayProviderCost, f"/reports/provider-cost{window(since, org_id)}")
