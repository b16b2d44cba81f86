"""Tables of the billing service, all in the `billing` schema.

Every client table carries `org_id`, and every query of client data filters on it.
"""

from pix_runtime.dead_letters import dead_letters_table
from pix_runtime.erasure import OrganisationData
from pix_runtime.inbox import inbox_table
from pix_runtime.jobs import jobs_table
from pix_runtime.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="billing")

# One row per organisation billing knows (from its first registration, or its first visit):
# the licence as Stripe last told it, Stripe's ids, and the billing address printed on invoices.
# `announced` is the licence last announced (status, plan, seats, period end), so an unchanged
# state is not announced twice.
accounts = Table(
    "accounts",
    metadata,
    Column("org_id", Uuid, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("plan", String(40), nullable=False),
    Column("seats", Integer, nullable=False, server_default="1"),
    Column("trial_ends_at", DateTime(timezone=True), nullable=True),
    Column("current_period_end", DateTime(timezone=True), nullable=True),
    Column("stripe_customer_id", String(100), nullable=True, unique=True),
    Column("stripe_subscription_id", String(100), nullable=True, unique=True),
    Column("company", String(200), nullable=True),
    Column("email", String(320), nullable=True),
    Column("street", String(200), nullable=True),
    Column("postcode", String(20), nullable=True),
    Column("city", String(100), nullable=True),
    Column("country", String(2), nullable=False, server_default="DE"),
    Column("vat_id", String(20), nullable=True),
    # What VIES said of the EU VAT id (pix_billing.vat): verified | unverified | invalid |
    # foreign; reverse charge needs verified. Name, address and consultation number as VIES
    # gave them, the evidence of the check.
    Column("vat_status", String(20), nullable=True),
    Column("vat_checked_at", DateTime(timezone=True), nullable=True),
    Column("vat_name", String(300), nullable=True),
    Column("vat_address", Text, nullable=True),
    Column("vat_consultation", String(100), nullable=True),
    Column("announced", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("accounts_trials", accounts.c.status, accounts.c.trial_ends_at)

# Every Stripe event id received with a valid signature, once: a replay finds its row.
stripe_events = Table(
    "stripe_events",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("object_id", String(100), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Orders as orders announced them, with the gross price of the price list at ordering.
# payment: required -> invoiced -> paid | waived ; `free` while billing is off.
orders = Table(
    "orders",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("gallery_id", Uuid, nullable=False),
    Column("reference", String(40), nullable=False),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(320), nullable=False),
    Column("property_address", String(500), nullable=False),
    Column("services", JSONB, nullable=False),
    Column("gross_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment", String(20), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
)

# Invoices: our own (orders; number from `invoice_numbers`, gap-free per year) and Stripe's
# subscription invoices (Stripe's number), for the account page and the admin's figures.
# status: draft (numbered, not yet at Stripe) -> open -> paid | void | uncollectible ; waived.
invoices = Table(
    "invoices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False, index=True),
    Column("order_id", Uuid, nullable=True, unique=True),
    Column("kind", String(20), nullable=False),
    Column("number", String(40), nullable=True, unique=True),
    Column("status", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("net_cents", Integer, nullable=False),
    Column("vat_cents", Integer, nullable=False),
    Column("gross_cents", Integer, nullable=False),
    Column("vat_percent", Numeric(5, 2), nullable=False),
    Column("vat_treatment", String(20), nullable=False),
    Column("seller", JSONB, nullable=False),
    Column("buyer", JSONB, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("stripe_invoice_id", String(100), nullable=True, unique=True),
    Column("hosted_url", String(500), nullable=True),
    Column("pdf_url", String(500), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("paid_via", String(20), nullable=True),
    Column("payment_failed_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
)
Index("invoices_status", invoices.c.status, invoices.c.issued_at)

# The last number issued per year: taken with the invoice row in one transaction (row lock),
# so the sequence has no gaps and no number twice.
invoice_numbers = Table(
    "invoice_numbers",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("last", BigInteger, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
jobs = jobs_table(metadata)
dead_letters = dead_letters_table(metadata)


# What an organisation's erasure removes (pix_runtime.erasure): every table by its org_id except
# the invoices, which German law keeps for ten years (§ 147 AO, § 257 HGB; GDPR Art. 17(3)(b)).
ORGANISATION_DATA = OrganisationData(
    metadata, inbox=inbox, outbox=outbox, keep=frozenset({"invoices"})
)
