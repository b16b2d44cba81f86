"""Analytics through the real gateway against real auth, orders, leads and media services
(uvicorn on loopback ports) and the session's database: a month of an organisation's activity
is seeded into the services' own tables, the admin sees its figures in the tables, the SVG
charts and the CSV downloads; its owner sees only their organisation; an agent is refused; the
services that are not running (billing, captioning) leave their charts out with a note."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pix_auth.app import create_app as auth_app
from pix_auth.models import users
from pix_gateway.app import create_app as gateway_app
from pix_gateway.settings import GatewaySettings
from pix_leads.app import create_app as leads_app
from pix_leads.settings import LeadsSettings
from pix_media.app import create_app as media_app
from pix_runtime.db import Database
from pix_runtime.settings import PlatformSettings
from pix_runtime.topics import create_topics
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from test_gateway_order_pages import Served

PUBLIC = "http://gateway.test"
PASSWORD = "lange-sichere-phrase-42"
BERLIN = ZoneInfo("Europe/Berlin")
CLOSED = "http://127.0.0.1:9"  # nothing listens: the service is down


@dataclass
class Services:
    auth: str
    orders: str
    leads: str
    media: str
    billing: str = CLOSED
    captioning: str = CLOSED
    assistant: str = CLOSED
    notify: str = CLOSED


@pytest.fixture
def services(migrated: set[str]) -> Iterator[Services]:
    from pix_orders.app import create_app as orders_app

    apps = [auth_app()[0], orders_app()[0], leads_app(LeadsSettings(smtp_port=0))[0]]
    apps.append(media_app()[0])
    served = [Served(app) for app in apps]
    yield Services(*(s.url for s in served))
    for s in served:
        s.stop()


async def browser_for(services: Services, role: str) -> tuple[httpx.AsyncClient, uuid.UUID]:
    """A browser signed in as a new confirmed user of a new agency, and the agency's id."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@makler-example.de"
    async with httpx.AsyncClient(base_url=services.auth) as auth:
        registered = await auth.post(
            "/register",
            json={"name": "Erika Muster", "email": email, "password": PASSWORD, "company": "M"},
        )
        assert registered.status_code == 201, registered.text
        db = Database(PlatformSettings().database_url, schema="auth", application_name="test")
        async with db.transaction() as session:
            await session.execute(
                update(users)
                .where(func.lower(users.c.email) == email)
                .values(email_verified_at=func.now(), role=role)
            )
            org_id = await session.scalar(
                select(users.c.org_id).where(func.lower(users.c.email) == email)
            )
        await db.dispose()
        login = await auth.post("/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
    platform = PlatformSettings(
        auth_url=services.auth,
        orders_url=services.orders,
        leads_url=services.leads,
        media_url=services.media,
        billing_url=services.billing,
        captioning_url=services.captioning,
        assistant_url=services.assistant,
        notify_url=services.notify,
        public_url=PUBLIC,
    )
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway_app(GatewaySettings(platform=platform))),
        base_url=PUBLIC,
    )
    browser.cookies.set("__Host-session", login.json()["token"], domain="gateway.test")
    assert org_id is not None
    return browser, org_id


def week_of(at: datetime) -> str:
    year, week, _ = at.astimezone(BERLIN).isocalendar()
    return f"{year}-W{week:02d}"


async def seed_month(
    org_id: uuid.UUID, now: datetime, database_url: str | None = None
) -> dict[str, list[list[str]]]:
    """Four weeks of orders, leads and photos for `org_id`; the CSV rows each report must give."""
    url = database_url or PlatformSettings().database_url
    db = Database(url, schema="public", application_name="test")
    orders = [  # days ago, status, services, hours from placed to delivered
        (24, "delivered", ["photos", "drone"], 30),
        (17, "delivered", ["photos"], 50),
        (16, "delivered", ["photos"], 20),
        (10, "scheduled", ["photos"], None),
        (10, "received", ["photos"], None),
        (3, "received", ["tour360"], None),
    ]
    leads = [  # days ago, source, status, minutes to the first response, earlier statuses
        (20, "immoscout24", "BOOKED", 10),
        # Lost after a conversation: its timeline says it was contacted and in conversation.
        (20, "immoscout24", "LOST", None),
        (12, "immoscout24", "CONTACTED", 30),
        (5, "website", "CONVERSATION", 50),
        (5, "website", "NEW", None),
    ]
    photos_day = now - timedelta(days=8)
    async with db.transaction() as session:
        for days, status, ordered, hours in orders:
            order_id = uuid.uuid4()
            await session.execute(
                text(
                    "INSERT INTO orders.orders (id, org_id, gallery_id, placed_by, status,"
                    " contact_name, contact_email, street, house_number, postcode, city, country,"
                    " property_address, property_type, services, total_cents, created_at)"
                    " VALUES (:id, :org, :gallery, :by, :status, 'Erika', 'e@makler-example.de',"
                    " 'Hauptstr.', '1', '10115', 'Berlin', 'DE', 'Hauptstr. 1, 10115 Berlin',"
                    " 'apartment', CAST(:services AS jsonb), 29900, :at)"
                ),
                {
                    "id": order_id,
                    "org": org_id,
                    "gallery": uuid.uuid4(),
                    "by": uuid.uuid4(),
                    "status": status,
                    "services": str([{"key": k, "price_cents": 100} for k in ordered]).replace(
                        "'", '"'
                    ),
                    "at": now - timedelta(days=days),
                },
            )
            if hours is not None:
                await session.execute(
                    text(
                        "INSERT INTO orders.status_history (order_id, from_status, to_status,"
                        " changed_by, changed_by_role, at) VALUES (:order, 'scheduled',"
                        " 'delivered', :by, 'admin', :at)"
                    ),
                    {
                        "order": order_id,
                        "by": uuid.uuid4(),
                        "at": now - timedelta(days=days) + timedelta(hours=hours),
                    },
                )
        for days, source, status, minutes in leads:
            at = now - timedelta(days=days)
            lead_id = uuid.uuid4()
            await session.execute(
                text(
                    "INSERT INTO leads.leads (id, org_id, source, status, reply_token,"
                    " created_at, updated_at, status_changed_at, first_contact_at)"
                    " VALUES (:id, :org, :source, :status, :token, :at, :at, :at, :first)"
                ),
                {
                    "id": lead_id,
                    "org": org_id,
                    "source": source,
                    "status": status,
                    "token": uuid.uuid4().hex,
                    "at": at,
                    "first": None if minutes is None else at + timedelta(minutes=minutes),
                },
            )
            if status == "LOST":
                for old, new in (("NEW", "CONTACTED"), ("CONTACTED", "CONVERSATION")):
                    await lead_status_changed(session, lead_id, org_id, old, new, at)
                await lead_status_changed(session, lead_id, org_id, "CONVERSATION", "LOST", at)
        gallery = uuid.uuid4()
        await session.execute(
            text(
                "INSERT INTO media.galleries (id, org_id, order_id, reference, title)"
                " VALUES (:id, :org, :order, 'A-1', 'Hauptstr. 1')"
            ),
            {"id": gallery, "org": org_id, "order": uuid.uuid4()},
        )
        # Captioned counts as processed; a bare "processed" row would look stuck to media's
        # own sweep in later tests of the shared schema (it re-announces processed photos).
        for n, status in enumerate(("captioned", "captioned", "captioned", "rejected")):
            await session.execute(
                text(
                    "INSERT INTO media.assets (id, gallery_id, org_id, uploaded_by, label,"
                    " status, declared_bytes, original_key, created_at)"
                    " VALUES (:id, :gallery, :org, :by, :label, :status, 1000, :key, :at)"
                ),
                {
                    "id": uuid.uuid4(),
                    "gallery": gallery,
                    "org": org_id,
                    "by": uuid.uuid4(),
                    "label": f"foto-{n}.jpg",
                    "status": status,
                    "key": f"originals/{uuid.uuid4()}",
                    "at": photos_day,
                },
            )
    await db.dispose()

    counted: dict[tuple[str, str, str], int] = {}
    for days, status, ordered, _ in orders:
        for key in ordered:
            slot = (week_of(now - timedelta(days=days)), status, key)
            counted[slot] = counted.get(slot, 0) + 1
    weekly_leads: dict[tuple[str, str], int] = {}
    for days, source, _, _ in leads:
        slot = (week_of(now - timedelta(days=days)), source)
        weekly_leads[slot] = weekly_leads.get(slot, 0) + 1
    return {
        "orders": [[*k, str(v)] for k, v in sorted(counted.items())],
        "leads": [[*k, str(v)] for k, v in sorted(weekly_leads.items())],
        "delivery": delivery_rows(
            [
                (now - timedelta(days=days) + timedelta(hours=hours), float(hours))
                for days, _, _, hours in orders
                if hours is not None
            ]
        ),
        "funnel": [
            ["immoscout24", "3", "3", "2", "1", "33.3", "20.0"],
            ["website", "2", "1", "1", "0", "0.0", "50.0"],
        ],
        "photos": [[photos_day.astimezone(BERLIN).date().isoformat(), "3", "1"]],
    }


async def lead_status_changed(
    session: AsyncSession, lead_id: uuid.UUID, org_id: uuid.UUID, old: str, new: str, at: datetime
) -> None:
    await session.execute(
        text(
            "INSERT INTO leads.activities (lead_id, org_id, kind, at, data)"
            " VALUES (:lead, :org, 'status', :at, CAST(:data AS jsonb))"
        ),
        {"lead": lead_id, "org": org_id, "at": at, "data": json.dumps({"old": old, "new": new})},
    )


def percentile(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def delivery_rows(delivered: list[tuple[datetime, float]]) -> list[list[str]]:
    """week, orders, median and p90 hours of deliveries (moment, hours taken), as the CSV has."""
    weeks: dict[str, list[float]] = {}
    for at, hours in delivered:
        weeks.setdefault(week_of(at), []).append(hours)
    return [
        [week, str(len(h)), str(round(percentile(h, 0.5), 1)), str(round(percentile(h, 0.9), 1))]
        for week, h in sorted(weeks.items())
    ]


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


async def test_admin_owner_and_agent_see_what_they_may(services: Services) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    owner, org_id = await browser_for(services, "owner")
    other_owner, other_org = await browser_for(services, "owner")
    admin, _ = await browser_for(services, "admin")
    agent, _ = await browser_for(services, "agent")
    expected = await seed_month(org_id, now)
    await seed_month(other_org, now)
    one_org = {"org_id": str(org_id), "days": "35"}

    async with admin, owner, other_owner, agent:
        page = await admin.get("/admin/analytics", params=one_org)
        assert page.status_code == 200, page.text
        html = page.text
        for key in ("orders", "delivery", "photos", "leads", "funnel"):
            section = html.split(f'data-chart="{key}"')[1].split("</section>")[0]
            assert "<svg" in section, key
            assert f"/admin/analytics/{key}.csv?" in section
        # Billing, captioning and the assistant are not running: their charts are left out.
        for key in ("revenue", "captions", "cost"):
            section = html.split(f'data-chart="{key}"')[1].split("</section>")[0]
            assert 'data-testid="chart-missing"' in section
            assert "<svg" not in section
        # Real numbers in the tables: the funnel's conversion and the overall median.
        funnel = html.split('data-chart="funnel"')[1].split("</section>")[0]
        assert re.search(r"<td>immoscout24</td><td>3</td><td>3</td><td>2</td><td>1</td>", funnel)
        assert "33,3" in funnel
        assert "Median bis zur ersten Antwort: 30 Minuten" in funnel

        for key in ("orders", "delivery", "leads", "funnel", "photos"):
            rows = csv_rows(await admin.get(f"/admin/analytics/{key}.csv", params=one_org))
            assert rows[1:] == expected[key], key
        assert (await admin.get("/admin/analytics/revenue.csv", params=one_org)).status_code == 503

        # The owner sees their own organisation's figures, whatever org_id they ask for.
        mine = csv_rows(await owner.get("/admin/analytics/orders.csv", params={"days": "35"}))
        assert mine[1:] == expected["orders"]
        asked = await owner.get(
            "/admin/analytics/funnel.csv", params={"org_id": str(other_org), "days": "35"}
        )
        assert csv_rows(asked)[1:] == expected["funnel"]
        page = await owner.get("/admin/analytics", params={"days": "35"})
        assert page.status_code == 200
        assert "Alle Organisationen" not in page.text  # no organisation picker for owners

        # An agent is not shown the page; the services refuse them too.
        assert (await agent.get("/admin/analytics")).status_code == 404
        assert (await agent.get("/admin/analytics/orders.csv")).status_code == 404
        since = (now - timedelta(days=35)).isoformat()
        refused = await agent.get("/api/orders/reports/orders-per-week", params={"since": since})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"


@pytest.fixture
def money_and_captions(migrated: set[str], tmp_path: Path) -> Iterator[Services]:
    from pix_assistant.app import create_app as assistant_app
    from pix_assistant.settings import AssistantSettings
    from pix_billing.app import create_app as billing_app
    from pix_captioning.app import create_app as captioning_app
    from pix_notify.app import create_app as notify_app
    from pix_notify.settings import NotifySettings
    from pix_orders.app import create_app as orders_app

    apps = [
        auth_app()[0],
        orders_app()[0],
        billing_app()[0],
        captioning_app()[0],
        assistant_app(AssistantSettings(model=None, base_url=None, api_key=None))[0],
        notify_app(NotifySettings(outbox_dir=tmp_path))[0],
    ]
    served = [Served(app) for app in apps]
    auth, orders, billing, captioning, assistant, notify = (s.url for s in served)
    yield Services(
        auth,
        orders,
        CLOSED,
        CLOSED,
        billing=billing,
        captioning=captioning,
        assistant=assistant,
        notify=notify,
    )
    for s in served:
        s.stop()


async def seed_money_and_captions(
    org_id: uuid.UUID, now: datetime, database_url: str | None = None
) -> None:
    url = database_url or PlatformSettings().database_url
    db = Database(url, schema="public", application_name="test")
    async with db.transaction() as session:
        for days, status, gross in ((40, "paid", 11900), (5, "paid", 23800), (4, "open", 5950)):
            await session.execute(
                text(
                    "INSERT INTO billing.invoices (id, org_id, kind, status, currency, net_cents,"
                    " vat_cents, gross_cents, vat_percent, vat_treatment, seller, buyer, lines,"
                    " issued_at, paid_at) VALUES (:id, :org, 'order', :status, 'EUR', :net,"
                    " :vat, :gross, 19, 'standard', '{}', '{}', '[]', :at, :paid)"
                ),
                {
                    "id": uuid.uuid4(),
                    "org": org_id,
                    "status": status,
                    "net": gross * 100 // 119,
                    "vat": gross - gross * 100 // 119,
                    "gross": gross,
                    "at": now - timedelta(days=days),
                    "paid": now - timedelta(days=days) if status == "paid" else None,
                },
            )
        gallery = uuid.uuid4()
        event = f'{{"org_id": "{org_id}"}}'
        for n in range(3):
            asset = uuid.uuid4()
            await session.execute(
                text(
                    "INSERT INTO captioning.captions (id, asset_id, asset_version,"
                    " caption_version, gallery_id, org_id, pseudonym, content, model, provider,"
                    " prompt_version, txt_key, json_key) VALUES (:id, :asset, 1, 1, :gallery,"
                    " :org, 'p', '{}', 'm', 'replicate', 'v1', 't', 'j')"
                ),
                {"id": uuid.uuid4(), "asset": asset, "gallery": gallery, "org": org_id},
            )
            started = now - timedelta(days=2)
            await session.execute(
                text(
                    "INSERT INTO captioning.predictions (id, asset_id, asset_version, attempt,"
                    " kind, status, event, created_at, completed_at) VALUES (:id, :asset, 1, 1,"
                    " 'caption', 'succeeded', CAST(:event AS jsonb), :at, :done)"
                ),
                {
                    "id": uuid.uuid4().hex,
                    "asset": asset,
                    "event": event,
                    "at": started,
                    "done": started + timedelta(seconds=(2, 4, 10)[n]),
                },
            )
        # The assistant's model calls: two of one model on one day, one of another.
        for days, model, tokens_in, tokens_out, cost in (
            (3, "gpt-4o-mini", 1200, 300, 0.0123),
            (3, "gpt-4o-mini", 800, 200, 0.01),
            (2, "mistral-small", 500, 100, 0.002),
        ):
            await session.execute(
                text(
                    "INSERT INTO assistant.usage (org_id, feature, model, tokens_in, tokens_out,"
                    " cost_eur, latency_ms, outcome, at) VALUES (:org, 'chat', :model, :tin,"
                    " :tout, :cost, 900, 'ok', :at)"
                ),
                {
                    "org": org_id,
                    "model": model,
                    "tin": tokens_in,
                    "tout": tokens_out,
                    "cost": cost,
                    "at": now - timedelta(days=days),
                },
            )
        await session.execute(
            text(
                "INSERT INTO captioning.failures (id, asset_id, asset_version, gallery_id, org_id,"
                " pseudonym, kind, reason, attempts, provider, event) VALUES (:id, :asset, 1,"
                " :gallery, :org, 'p', 'provider', 'timeout', 5, 'replicate', '{}')"
            ),
            {"id": uuid.uuid4(), "asset": uuid.uuid4(), "gallery": gallery, "org": org_id},
        )
    await db.dispose()


async def test_revenue_and_caption_figures(money_and_captions: Services) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    admin, _ = await browser_for(money_and_captions, "admin")
    owner, org_id = await browser_for(money_and_captions, "owner")
    await seed_money_and_captions(org_id, now)
    one_org = {"org_id": str(org_id), "days": "60"}
    months = [(now - timedelta(days=d)).astimezone(BERLIN).strftime("%Y-%m") for d in (40, 5)]

    async with admin, owner:
        revenue = csv_rows(await admin.get("/admin/analytics/revenue.csv", params=one_org))
        assert revenue == [
            ["month", "gross_cents", "net_cents", "invoices"],
            [months[0], "11900", "10000", "1"],
            [months[1], "23800", "20000", "1"],
        ]
        captions = csv_rows(await owner.get("/admin/analytics/captions.csv", params=one_org))
        assert captions[1:] == [["replicate", "3", "1", "25.0", "4.0", "9.4"]]
        days = [(now - timedelta(days=d)).astimezone(BERLIN).date().isoformat() for d in (3, 2)]
        cost = csv_rows(await owner.get("/admin/analytics/cost.csv", params=one_org))
        assert cost == [
            ["day", "model", "calls", "tokens_in", "tokens_out", "cost_eur"],
            [days[0], "gpt-4o-mini", "2", "2000", "500", "0.0223"],
            [days[1], "mistral-small", "1", "500", "100", "0.002"],
        ]
        page = await admin.get("/admin/analytics", params=one_org)
        assert page.status_code == 200
        section = page.text.split('data-chart="revenue"')[1].split("</section>")[0]
        assert "<svg" in section
        assert "238,00" in section  # the month's gross, in euros
        cost_section = page.text.split('data-chart="cost"')[1].split("</section>")[0]
        assert "<svg" in cost_section
        assert "0,0223" in cost_section
        # Leads and media are not running here: the page still answers, without their charts.
        assert page.text.count('data-testid="chart-missing"') == 3


BILLING_GROUPS = ("billing.registrations", "billing.orders", "billing.deliveries")


async def test_operations_lists_failed_jobs_and_dead_letters_and_retries(
    money_and_captions: Services,
) -> None:
    admin, _ = await browser_for(money_and_captions, "admin")
    owner, _ = await browser_for(money_and_captions, "owner")
    kind = f"analytics.test-{uuid.uuid4().hex[:8]}"
    db = Database(PlatformSettings().database_url, schema="public", application_name="test")
    async with db.transaction() as session:
        job_id = await session.scalar(
            text(
                "INSERT INTO billing.jobs (kind, payload, status, run_at, attempts, last_error)"
                " VALUES (:kind, '{}', 'failed', now(), 5, 'Stripe said no') RETURNING id"
            ),
            {"kind": kind},
        )
        await session.execute(
            text(
                "INSERT INTO billing.dead_letters (consumer_group, topic, payload, headers, error)"
                " VALUES ('billing.test', :topic, '\\x7b7d', '{}', 'unreadable')"
            ),
            {"topic": f"{kind}.v1"},
        )
        # An event the broker refused five times stays in billing's outbox (parked).
        await session.execute(
            text(
                "INSERT INTO billing.outbox (event_id, topic, key, payload, headers, attempts)"
                " VALUES (:id, :topic, '\\x00', '\\x7b7d', '{}', 5)"
            ),
            {"id": uuid.uuid4(), "topic": f"{kind}.v1"},
        )
        # An email notify gave up on.
        await session.execute(
            text(
                "INSERT INTO notify.emails (id, idempotency_key, kind, recipient, locale, subject,"
                " text_body, html_body, status, provider, error) VALUES (:id, :key, :kind,"
                " 'erika@makler-example.de', 'de', 'S', 'T', '<p>T</p>', 'failed', 'smtp',"
                " '550 mailbox unavailable')"
            ),
            {"id": uuid.uuid4(), "key": kind, "kind": kind},
        )
        unsent = await session.scalar(
            text("SELECT count(*) FROM billing.outbox WHERE published_at IS NULL")
        )
        failed_mails = await session.scalar(
            text(
                "SELECT count(*) FROM notify.emails WHERE status = 'failed'"
                " AND created_at >= now() - interval '7 days'"
            )
        )
    # The platform's topics, as a deployment creates them before the services start (a fresh
    # test broker has only those someone published to; a group's lag is read from them).
    await create_topics(PlatformSettings().kafka_bootstrap)
    async with admin, owner:

        async def operations_read() -> str:
            """The page once billing's outbox and its groups' lag have been read: a service
            reads them at most every 10 s and answers with the last reading, and a group's
            topics exist only once its consumer joined."""
            for _ in range(120):
                page = await admin.get("/admin/operations")
                assert page.status_code == 200, page.text
                billing = page.text.split('<tr data-service="billing">')[1].split("</tr>")[0]
                if 'data-figure="outbox">–' not in billing and all(
                    f'data-group="{group}"' in page.text for group in BILLING_GROUPS
                ):
                    return page.text
                await asyncio.sleep(0.5)
            raise AssertionError("billing's outbox and lag were never read")

        html = await operations_read()
        billing = html.split('<tr data-service="billing">')[1].split("</tr>")[0]
        assert f'<td data-figure="outbox">{unsent}</td>' in billing
        # Every group billing consumes has its lag on the page.
        for group in BILLING_GROUPS:
            assert re.search(
                rf'<tr data-group="{group}" data-topic="[^"]+"><td>billing</td>'
                rf'<td>{group}</td><td>[^<]+</td><td data-figure="lag">\d+</td>',
                html,
            ), group
        notify = html.split('data-lines="notify"')[1].split("</section>")[0]
        assert re.search(
            rf'data-line="email_failed_7d"><th>[^<]+</th><td data-figure="value">{failed_mails}<',
            notify,
        )
        assert f"{kind}: 550 mailbox unavailable" in notify
        captioning = html.split('data-lines="captioning"')[1].split("</section>")[0]
        assert re.search(
            r'data-line="caption_workers"><th>[^<]+</th><td data-figure="value">1</td>'
            r"<td>offline</td>",
            captioning,
        ), captioning
        assert 'data-line="caption_running"' in captioning
        page = await admin.get("/admin/operations")
        assert page.status_code == 200, page.text
        assert kind in page.text
        assert "Stripe said no" in page.text
        assert f"{kind}.v1" in page.text
        assert f'action="/admin/operations/billing/jobs/{job_id}/retry"' in page.text
        # leads and media are not running here.
        assert page.text.count('data-testid="service-down"') >= 2
        retried = await admin.post(
            f"/admin/operations/billing/jobs/{job_id}/retry",
            headers={"sec-fetch-site": "same-origin", "origin": PUBLIC},
        )
        assert retried.status_code == 303, retried.text
        async with db.sessions() as session:
            status = await session.scalar(
                text("SELECT status FROM billing.jobs WHERE id = :id"), {"id": job_id}
            )
        assert status == "queued"
        assert (await owner.get("/admin/operations")).status_code == 404
        # The services refuse anyone but a platform admin their operations figures too.
        refused = await owner.get("/api/notify/admin/operations")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    await db.dispose()
