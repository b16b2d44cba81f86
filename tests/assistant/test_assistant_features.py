"""Beyond the chat core: no model configured, lead imports from CSV and Excel, exposés through
the chat, long conversations summarised, the anonymised fine-tuning export."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from assistant_helpers import Answer, AssistantStack, model_settings, person
from chat_fake import ChatFake, Round, tool_call
from openpyxl import Workbook
from pix_assistant.app import create_app
from pix_assistant.settings import AssistantSettings
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity


@pytest.fixture
async def unconfigured(assistant_schemas: None) -> AsyncIterator[httpx.AsyncClient]:
    app, runtime = create_app(AssistantSettings(model=None, base_url=None, api_key=None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://assistant"
    ) as client:
        client.headers[IDENTITY_HEADER] = sign_identity(person(), runtime.internal_key)
        yield client
    await runtime.db.dispose()


async def test_without_a_model_the_assistant_says_what_to_set_and_nothing_breaks(
    unconfigured: httpx.AsyncClient,
) -> None:
    status = (await unconfigured.get("/status")).json()
    assert status["configured"] is False
    assert status["missing"] == ["PIX_ASSISTANT_MODEL", "PIX_ASSISTANT_API_KEY"]
    created = await unconfigured.post("/conversations", json={})
    assert created.status_code == 201
    conversation = created.json()["id"]

    refused = await unconfigured.post(
        f"/conversations/{conversation}/messages", json={"text": "Hallo"}
    )

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "not_configured"
    assert "PIX_ASSISTANT_MODEL" in refused.json()["error"]["message"]
    assert (await unconfigured.get("/conversations")).status_code == 200
    assert (
        await unconfigured.post("/memories", json={"fact": "Kaffee schwarz"})
    ).status_code == 201
    assert (await unconfigured.get("/healthz")).status_code == 200


def _sheet(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _import(
    stack: AssistantStack, who: Identity, conversation: str, filename: str, data: bytes
) -> httpx.Response:
    return await stack.client.post(
        f"/conversations/{conversation}/imports",
        params={"filename": filename},
        content=data,
        headers={**stack.headers(who), "content-type": "application/octet-stream"},
    )


async def _leads_of(stack: AssistantStack, who: Identity) -> dict[str, dict[str, Any]]:
    found = (await stack.leads.get("/leads", headers=stack.headers(who))).json()
    details = {}
    for summary in found:
        detail = await stack.leads.get(f"/leads/{summary['id']}", headers=stack.headers(who))
        details[summary["name"]] = detail.json()["lead"]
    return details


async def test_a_csv_of_leads_is_previewed_and_imported_after_the_yes(
    stack: AssistantStack,
) -> None:
    agent = person()
    conversation = await stack.conversation(agent)
    csv_text = (
        "Vorname;Nachname;E-Mail;Telefon;Finanzierung;Budget;Bemerkung;Quelle\n"
        "Jana;Kraus;jana.kraus@example.org;030 1234567;ja, Bank bestätigt;450.000 €;"
        "Sucht 3 Zimmer;Messe\n"
        ";;niemand@example.org;;;;;\n"
        "Karl;Otto;karl.otto@example.org;;in Prüfung;;;Messe\n"
    )

    proposed = await _import(
        stack, agent, conversation, "Messe-Kontakte.csv", csv_text.encode("cp1252")
    )

    assert proposed.status_code == 201, proposed.text
    preview = proposed.json()["preview"]
    assert [row["name"] for row in preview["rows"]] == ["Jana Kraus", "Karl Otto"]
    assert preview["rows"][0]["financing"] == "confirmed"
    assert preview["rows"][0]["budget_max_eur"] == 450_000
    assert preview["rows"][1]["financing"] == "in_progress"
    assert preview["skipped"] == ["Zeile 3: kein Name"]
    assert preview["ignored_columns"] == ["Quelle"]
    action = proposed.json()["action"]
    assert action["summary"] == "2 Leads aus Messe-Kontakte.csv importieren"
    assert await _leads_of(stack, agent) == {}

    done = await stack.call(agent, "POST", f"/actions/{action['id']}/confirm")

    assert done.json()["status"] == "done", done.text
    assert done.json()["result"]["created"] == 2
    leads = await _leads_of(stack, agent)
    assert leads["Jana Kraus"]["financing"] == "confirmed"
    assert leads["Jana Kraus"]["budget_max_eur"] == 450_000
    assert leads["Jana Kraus"]["phone"] == "+49301234567"
    assert leads["Karl Otto"]["financing"] == "in_progress"

    # Taken back: the imported leads are erased through the leads API; once only.
    undone = await stack.call(agent, "POST", f"/actions/{action['id']}/undo")
    assert undone.json()["status"] == "undone", undone.text
    assert await _leads_of(stack, agent) == {}
    twice = await stack.call(agent, "POST", f"/actions/{action['id']}/undo")
    assert twice.status_code == 409


async def test_an_excel_sheet_is_imported_and_a_bad_file_is_refused(stack: AssistantStack) -> None:
    agent = person()
    conversation = await stack.conversation(agent)
    data = _sheet(
        [
            ["Name", "E-Mail", "Finanzierung", "Sprache"],
            ["Lena Graf", "lena@example.org", "nein", "Englisch"],
        ]
    )

    proposed = await _import(stack, agent, conversation, "kontakte.xlsx", data)

    assert proposed.status_code == 201, proposed.text
    [row] = proposed.json()["preview"]["rows"]
    assert row == {
        "line": 2,
        "name": "Lena Graf",
        "email": "lena@example.org",
        "phone": None,
        "message": "",
        "financing": "none",
        "budget_max_eur": None,
        "locale": "en",
    }
    await stack.call(agent, "POST", f"/actions/{proposed.json()['action']['id']}/confirm")
    assert (await _leads_of(stack, agent))["Lena Graf"]["locale"] == "en"
    nameless = await _import(stack, agent, conversation, "x.csv", b"E-Mail\na@example.org\n")
    assert nameless.status_code == 422
    assert nameless.json()["error"]["code"] == "no_name_column"
    broken = await _import(stack, agent, conversation, "x.xlsx", b"not a workbook")
    assert broken.json()["error"] == {
        "code": "unreadable",
        "message": "the Excel file cannot be read",
        "field": "file",
    }
    other = await _import(stack, agent, conversation, "x.pdf", b"%PDF")
    assert other.json()["error"]["code"] == "unsupported"


async def test_a_sheet_of_listings_becomes_draft_listings_after_the_yes(
    stack: AssistantStack,
) -> None:
    agent = person()
    conversation = await stack.conversation(agent)
    data = _sheet(
        [
            [
                "Objektnummer",
                "Titel",
                "Straße",
                "PLZ",
                "Ort",
                "Kaufpreis",
                "Kaltmiete",
                "Zimmer",
                "Wohnfläche",
                "Objektart",
                "Baujahr",
                "Makler",
            ],
            [
                "A-1",
                "Altbau mit Balkon",
                "Lindenallee 7",
                "10115",
                "Berlin",
                "450.000 €",
                "",
                "3",
                "84,5 m²",
                "Wohnung",
                "1908",
                "Erika",
            ],
            [
                "A-2",
                "",
                "Gartenweg 2",
                "80331",
                "München",
                "",
                "1.250 €",
                "2,5",
                "61",
                "Wohnung",
                "",
                "",
            ],
            ["", "", "", "", "", "", "", "4", "", "", "", ""],
        ]
    )

    proposed = await _import(stack, agent, conversation, "bestand.xlsx", data)

    assert proposed.status_code == 201, proposed.text
    preview = proposed.json()["preview"]
    assert preview["kind"] == "listings"
    assert preview["ignored_columns"] == ["Makler"]
    assert preview["skipped"] == ["Zeile 4: kein Titel und keine Adresse"]
    first, second = preview["listings"]
    assert (first["title"], first["marketing"], first["price_eur"]) == (
        "Altbau mit Balkon",
        "sale",
        450_000,
    )
    assert (first["rooms"], first["living_area_m2"], first["year_built"]) == (3, 84.5, 1908)
    assert first["property_type"] == "apartment"
    assert (second["title"], second["marketing"], second["price_eur"], second["rooms"]) == (
        "Gartenweg 2, München",
        "rent",
        1250,
        2.5,
    )
    action = proposed.json()["action"]
    assert action["summary"] == "2 Objekte aus bestand.xlsx importieren"

    done = (await stack.call(agent, "POST", f"/actions/{action['id']}/confirm")).json()

    assert done["status"] == "done", done
    assert done["result"]["created"] == 2
    listed = (await stack.listings.get("/listings", headers=stack.headers(agent))).json()
    assert sorted((x["reference"], x["status"]) for x in listed) == [
        ("A-1", "draft"),
        ("A-2", "draft"),
    ]


async def test_the_expose_is_created_after_the_yes_and_its_pdf_linked(
    stack: AssistantStack,
) -> None:
    agent = person()
    listing = await stack.listing(agent, title="Maisonette am Markt", street="Markt 2")

    def link(body: dict[str, Any]) -> Round:
        [tool] = [m for m in body["messages"] if m["role"] == "tool"][-1:]
        exposes = json.loads(tool["content"])
        return Round(text=f"Hier ist das Exposé: {exposes[0]['download_url']}")

    stack.chat.script(
        "exposé für die maisonette",
        Round(calls=[tool_call("create_expose", listing_id=listing["id"], locale="de")]),
        Round(text="Soll ich das Exposé erstellen? Bitte bestätigen."),
        intent="expose",
    )
    stack.chat.script(
        "wo ist das exposé der maisonette",
        Round(calls=[tool_call("list_exposes", listing_id=listing["id"])]),
        Round(make=link),
        intent="expose",
    )
    conversation = await stack.conversation(agent)
    proposed = await stack.ask(agent, conversation, "Erstelle das Exposé für die Maisonette")
    action = proposed.of("action")[0]["action"]
    assert action["summary"] == "Exposé (Deutsch) für „Maisonette am Markt“ erstellen"

    done = (await stack.call(agent, "POST", f"/actions/{action['id']}/confirm")).json()
    assert done["status"] == "done"
    while await stack.listings_runtime.jobs.run_due():
        pass
    answer = await stack.ask(agent, conversation, "Wo ist das Exposé der Maisonette?")

    url = answer.text.removeprefix("Hier ist das Exposé: ")
    assert url.startswith("http")
    pdf = await stack.listings.get(
        f"/listings/{listing['id']}/exposes/{done['result']['expose_id']}",
        headers=stack.headers(agent),
    )
    assert pdf.json()["status"] == "done"
    # The same file; the signature's expiry is counted from each read, so only the query moves.
    assert pdf.json()["download_url"].split("?")[0] == url.split("?")[0]


async def _ask_buffered(client: httpx.AsyncClient, conversation: str, text: str) -> Answer:
    response = await client.post(f"/conversations/{conversation}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    answer = Answer(raw=response.text)
    kind = ""
    for line in response.text.splitlines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            answer.events.append((kind, json.loads(line.removeprefix("data: "))))
    return answer


async def test_a_long_conversation_is_summarised(assistant_schemas: None, chat: ChatFake) -> None:
    app, runtime = create_app(model_settings(chat, summarise_after=4, keep_recent=2))
    agent = person()
    chat.script("earlier summary:", Round(text="Die Maklerin fragte nach Wetter und Kaffee."))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://assistant"
    ) as client:
        client.headers[IDENTITY_HEADER] = sign_identity(agent, runtime.internal_key)
        conversation = (await client.post("/conversations", json={})).json()["id"]
        for text in ("Wie wird das Wetter?", "Und Kaffee?", "Noch etwas Tee?"):
            await _ask_buffered(client, conversation, text)
        detail = (await client.get(f"/conversations/{conversation}")).json()
    await runtime.db.dispose()

    assert detail["conversation"]["summary"] == "Die Maklerin fragte nach Wetter und Kaffee."
    last = chat.chats[-1]["messages"]
    assert "Die Maklerin fragte nach Wetter und Kaffee." in last[0]["content"]
    assert [m["content"] for m in last[1:]] == ["Und Kaffee?", "Gern.", "Noch etwas Tee?"]
    # The user still reads the whole conversation.
    assert len(detail["messages"]) == 6


async def test_good_conversations_export_anonymised_for_fine_tuning(
    stack: AssistantStack,
) -> None:
    agent = person()
    admin = person("admin")
    lead = await stack.lead(agent, "Ida Nordmann", phone="+49 30 7654321")
    stack.chat.script(
        "was schreibt ida nordmann",
        Round(calls=[tool_call("get_lead", lead_id=lead["id"])]),
        Round(
            text=f"Frau Nordmann ({lead['email']}, +49 30 7654321) interessiert sich für die "
            "Wohnung."
        ),
    )
    conversation = await stack.conversation(agent)
    await stack.ask(agent, conversation, "Was schreibt Ida Nordmann?")
    rated = await stack.call(agent, "POST", f"/conversations/{conversation}/rating", {"rating": 1})
    assert rated.json()["rating"] == 1

    refused = await stack.call(agent, "GET", "/admin/finetune.jsonl")
    assert refused.status_code == 403
    export = await stack.call(admin, "GET", "/admin/finetune.jsonl")

    assert export.status_code == 200
    [line] = [json.loads(row) for row in export.text.splitlines() if "Was schreibt Person" in row]
    text = json.dumps(line, ensure_ascii=False)
    assert "Nordmann" not in text
    assert "Ida" not in text
    assert lead["email"] not in text
    assert "7654321" not in text
    roles = [m["role"] for m in line["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert line["messages"][-1]["content"] == (
        "Frau Person 1 (person@example.com, +49 30 0000000) interessiert sich für die Wohnung."
    )
