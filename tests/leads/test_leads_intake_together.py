"""Messages that arrive together are accepted together (one transaction for the new
inquiries among them), and each ends exactly as it would have alone: new leads, a duplicate
merged, the same person twice in one batch as one lead, a reply, an auto-reply, a message no
parser reads. A batch that fails goes one by one, so nothing accepted is lost to it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from leads_helpers import LeadsApp, corpus, intake_of, mailbox, outbox_events, person, raw_row
from pix_contracts import LeadCreated
from pix_leads.app import create_app
from pix_leads.models import activities, jobs, listings, outbox
from pix_leads.models import leads as leads_table
from pix_leads.service import ACKNOWLEDGE, EMBED_WISHES
from pix_leads.settings import LeadsSettings
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text


def inquiry_mail(to: str, name: str, email: str, message: str) -> bytes:
    return (
        f"From: {name} <{email}>\r\nTo: {to}\r\nSubject: Anfrage zur Wohnung\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Guten Tag,\r\n\r\n{message}\r\n\r\nViele Grüße\r\n{name}\r\n"
    ).encode()


def reply_to(to: str) -> bytes:
    return (
        f"From: Anna Vorher <anna.vorher@example.org>\r\nTo: {to}\r\nSubject: Re: Ihre Anfrage"
        "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Danke, Samstag passt uns gut.\r\n\r\n> Vielen Dank für Ihre Anfrage\r\n"
    ).encode()


async def arrive(leads_app: LeadsApp, org_id: uuid.UUID, mails: list[tuple[str, bytes]]) -> Any:
    """Deliver the messages at once, as the SMTP server does (the organisation known)."""
    return await asyncio.gather(
        *(
            intake_of(leads_app).receive(
                raw,
                channel="smtp",
                mail_from="forwarder@example.net",
                rcpt_to=[to],
                parse_now=True,
                org_id=org_id,
            )
            for to, raw in mails
        )
    )


def batches() -> float:
    return REGISTRY.get_sample_value("pix_leads_accepted_together_count") or 0.0


async def lead_by_email(leads_app: LeadsApp, org_id: uuid.UUID, email: str) -> list[Any]:
    async with leads_app.runtime.db.sessions() as session:
        rows = await session.execute(
            select(leads_table).where(leads_table.c.org_id == org_id, leads_table.c.email == email)
        )
        return list(rows.mappings())


async def test_messages_arriving_together_end_as_each_would_alone(leads: LeadsApp) -> None:
    agent = person()
    org_id = agent.org_id
    assert org_id is not None
    box = await mailbox(leads, agent)
    address = box["intake_address"]
    listing_id = uuid.uuid4()
    async with leads.runtime.db.transaction() as session:
        await session.execute(
            listings.insert().values(
                listing_id=listing_id,
                org_id=org_id,
                reference="HH-17",
                title="Altbau mit Balkon",
                price_eur=510_000,
                portal_ids=["160014222"],
            )
        )
    # Known before: Anna, whose second inquiry and reply arrive in the batch.
    [first] = await arrive(
        leads,
        org_id,
        [(address, inquiry_mail(address, "Anna Vorher", "anna.vorher@example.org", "Erste."))],
    )
    [anna] = await lead_by_email(leads, org_id, "anna.vorher@example.org")
    slug, domain = address.split("@")
    to_anna = f"{slug}+{anna['reply_token']}@{domain}"
    fresh = [f"neu{n}.{uuid.uuid4().hex[:6]}@example.org" for n in range(5)]
    mails = [
        *(
            (address, inquiry_mail(address, f"Neu Person{n}", email, "Ist die Wohnung frei?"))
            for n, email in enumerate(fresh)
        ),
        (address, inquiry_mail(address, "Anna Vorher", "anna.vorher@example.org", "Keller?")),
        (address, inquiry_mail(address, "Bert Zweimal", "bert.zweimal@example.org", "Eins.")),
        (address, inquiry_mail(address, "Bert Zweimal", "bert.zweimal@example.org", "Zwei.")),
        (address, corpus("auto_reply_de")),
        (to_anna, reply_to(to_anna)),
        (address, corpus("is24_text_qp")),
        (address, corpus("is24_without_contact")),
    ]
    before = batches()
    received = await arrive(leads, org_id, mails)
    # Fewer transactions than messages: some went in together.
    assert batches() - before < len(mails)

    rows = [await raw_row(leads.runtime, r.id) for r in received]
    outcome = [(row["status"], row["kind"]) for row in rows]
    assert outcome == [
        *[("lead", "inquiry")] * 5,
        ("lead", "duplicate"),
        ("lead", "inquiry"),
        ("lead", "duplicate"),
        ("ignored", "auto_reply"),
        ("reply", "reply"),
        ("lead", "inquiry"),
        ("needs_review", "unparseable"),
    ]
    assert all(row["attempts"] == 1 and row["processed_at"] is not None for row in rows)
    assert rows[5]["lead_id"] == anna["id"] == rows[9]["lead_id"]
    assert rows[6]["lead_id"] == rows[7]["lead_id"]
    assert len({row["lead_id"] for row in rows[:5]}) == 5

    [anna_now] = await lead_by_email(leads, org_id, "anna.vorher@example.org")
    assert (anna_now["inquiry_count"], anna_now["reply_count"]) == (2, 1)
    assert anna_now["status"] == "CONVERSATION"
    [bert] = await lead_by_email(leads, org_id, "bert.zweimal@example.org")
    assert bert["inquiry_count"] == 2
    assert "Eins." in bert["conversation_text"]
    assert "Zwei." in bert["conversation_text"]
    [jonas] = await lead_by_email(leads, org_id, "j.testmann@example.com")
    assert (jonas["listing_id"], jonas["listing_title"]) == (listing_id, "Altbau mit Balkon")
    assert jonas["phone"] == "+491713925418"
    assert jonas["score"] > 0
    assert jonas["score_factors"]["budget_match"]["points"] == 15

    # Each new lead as if alone: its timeline, its event under its own correlation id, its jobs.
    new = [rows[n]["lead_id"] for n in (0, 1, 2, 3, 4, 6, 10)]
    async with leads.runtime.db.sessions() as session:
        kinds = await session.execute(
            select(activities.c.lead_id, activities.c.kind, activities.c.raw_message_id).where(
                activities.c.lead_id.in_(new)
            )
        )
        timeline = list(kinds)
        queued = await session.execute(
            select(jobs.c.kind, jobs.c.key).where(jobs.c.key.in_([str(i) for i in new]))
        )
        planned = {(kind, key) for kind, key in queued}
        headers = await session.execute(
            select(outbox.c.headers).where(outbox.c.topic == LeadCreated.topic)
        )
        correlations = [h.get("correlation_id") for h in headers.scalars()]
    for n, lead_id in zip((0, 1, 2, 3, 4, 6, 10), new, strict=True):
        mine = [(kind, raw) for lid, kind, raw in timeline if lid == lead_id]
        assert ("inquiry", rows[n]["id"]) in mine, mine
        assert ("sentiment", None) in mine, mine
        assert (ACKNOWLEDGE, str(lead_id)) in planned
        assert (EMBED_WISHES, str(lead_id)) in planned
    created = [e for e in await outbox_events(leads.runtime, LeadCreated) if e.lead_id in new]
    assert sorted(e.lead_id for e in created) == sorted(new)
    assert {e.org_id for e in created} == {org_id}
    assert next(e for e in created if e.lead_id == jonas["id"]).listing_id == listing_id
    assert first.status == "lead"
    assert len([c for c in correlations if c]) == len(correlations)


async def test_a_failing_batch_goes_one_by_one_and_loses_nothing(leads: LeadsApp) -> None:
    """A database refusal of one lead (a trigger stands in for any) fails the batch's
    transaction: the others are accepted one by one, the refused one waits as a received
    message for its processing job."""
    agent = person()
    org_id = agent.org_id
    assert org_id is not None
    address = (await mailbox(leads, agent))["intake_address"]
    refused = f"Refused {uuid.uuid4().hex[:8]}"
    function = f"refuse_{uuid.uuid4().hex[:8]}"
    async with leads.runtime.db.transaction() as session:
        await session.execute(
            text(
                f"CREATE FUNCTION leads.{function}() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.name = '{refused}' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        await session.execute(
            text(
                f"CREATE TRIGGER {function} BEFORE INSERT ON leads.leads "
                f"FOR EACH ROW EXECUTE FUNCTION leads.{function}()"
            )
        )
    try:
        mails = [
            (address, inquiry_mail(address, f"Gut Person{n}", f"gut{n}.{org_id}@ex.org", "Hi"))
            for n in range(4)
        ]
        mails.insert(2, (address, inquiry_mail(address, refused, "no@example.org", "Hallo")))
        received = await arrive(leads, org_id, mails)
    finally:
        async with leads.runtime.db.transaction() as session:
            await session.execute(text(f"DROP TRIGGER {function} ON leads.leads"))
            await session.execute(text(f"DROP FUNCTION leads.{function}()"))
    rows = [await raw_row(leads.runtime, r.id) for r in received]
    assert [row["status"] for row in rows] == ["lead", "lead", "received", "lead", "lead"]
    async with leads.runtime.db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(leads_table).where(leads_table.c.org_id == org_id)
        )
    assert count == 4
    # With the refusal gone, the processing job makes the waiting message its lead.
    await leads.runtime.jobs.run_due()
    assert (await raw_row(leads.runtime, rows[2]["id"]))["status"] == "lead"


async def test_a_replica_that_runs_no_jobs_leaves_them_queued_for_one_that_does(
    leads: LeadsApp, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PIX_RUN_JOBS", "false")
    app, runtime = create_app(LeadsSettings(smtp_port=0))
    async with app.router.lifespan_context(app):
        assert not runtime.jobs.running
    await runtime.db.dispose()
    monkeypatch.delenv("PIX_RUN_JOBS")
    app, runtime = create_app(LeadsSettings(smtp_port=0))
    async with app.router.lifespan_context(app):
        assert runtime.jobs.running
    await runtime.db.dispose()
