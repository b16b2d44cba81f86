"""The billing service as the gateway's pages call it."""

from collections.abc import Mapping

from pix_gateway.clients.base import ServiceClient, segment
from pix_gateway.clients.billing_models import (
    AdminSummary,
    InvoiceView,
    Licence,
    Link,
    OrderPayment,
)


class BillingClient(ServiceClient):
    service = "billing"

    async def account(self) -> Licence:
        """The organisation's CRM licence and billing profile."""
        return await self.one(Licence, "GET", "/account")

    async def save_profile(self, profile: Mapping[str, str | None]) -> Licence:
        return await self.one(Licence, "PUT", "/account/profile", json=dict(profile))

    async def invoices(self) -> list[InvoiceView]:
        return await self.many(InvoiceView, "/invoices")

    async def to_stripe(self, path: str, body: object) -> Link:
        """Stripe's checkout or portal link (`/account/checkout`, `/account/portal`)."""
        return await self.one(Link, "POST", path, json=body)

    async def admin_summary(self) -> AdminSummary:
        return await self.one(AdminSummary, "GET", "/admin/summary")

    async def settle(self, order_id: str, via: str) -> OrderPayment:
        return await self.one(
            OrderPayment, "POST", f"/admin/orders/{segment(order_id)}/settle", json={"via": via}
        )
