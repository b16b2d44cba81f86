"""Sentiment: the keyword quick score (German and English), and the full analysis through the
official openai client against a local server that speaks chat completions."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from pix_leads.abtests import Variant, assign, two_proportion_z
from pix_leads.sentiment import SentimentModel, quick_score
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def test_quick_score_reads_german_and_english_signals() -> None:
    hot = quick_score(
        "Wir möchten die Wohnung dringend besichtigen, Finanzierung gesichert, sofort!"
    )
    assert hot.sentiment == "positive"
    assert hot.urgency == "high"
    assert "besichtigen" in hot.buying_signals
    cold = quick_score("Unfortunately the flat is too expensive, we found something else.")
    assert cold.sentiment == "negative"
    assert {"too expensive", "unfortunately"} <= set(cold.risk_signals)
    assert quick_score("Anbei die Unterlagen.").urgency == "low"


def test_md5_assignment_is_stable_and_follows_the_weights() -> None:
    import uuid

    variants = [
        Variant(name="A", weight=1, subject="s", body="b"),
        Variant(name="B", weight=3, subject="s", body="b"),
    ]
    experiment = uuid.UUID(int=7)
    leads = [uuid.UUID(int=i) for i in range(4000)]
    first = [assign(experiment, lead, variants).name for lead in leads]
    assert first == [assign(experiment, lead, variants).name for lead in leads]
    share_b = first.count("B") / len(first)
    assert 0.72 < share_b < 0.78


def test_the_z_test_gives_the_textbook_p_value() -> None:
    z, p = two_proportion_z(100, 1000, 130, 1000) or (0.0, 1.0)
    assert round(z, 2) == 2.10
    assert round(p, 4) == 0.0355
    assert two_proportion_z(0, 0, 1, 10) is None


class FakeOpenAI:
    """`POST /v1/chat/completions` as OpenAI documents it; answers are queued per test."""

    def __init__(self) -> None:
        self.answers: deque[tuple[int, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def complete(self, request: Request) -> Response:
        self.requests.append(await request.json())
        status, content = self.answers.popleft() if self.answers else (200, GOOD)
        if status != 200:
            return JSONResponse(
                {"error": {"message": "boom", "type": "server_error"}}, status_code=status
            )
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "fake-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )


GOOD = json.dumps(
    {
        "sentiment": "very_positive",
        "urgency": "high",
        "tone": "enthusiastic",
        "buying_signals": ["asks for viewing", "financing confirmed"],
        "risk_signals": [],
        "summary": "Will besichtigen.",
    }
)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.thread.start()
    deadline = time.monotonic() + 10
    while not fake.server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield fake
    fake.server.should_exit = True
    fake.thread.join(timeout=5)


async def test_the_full_analysis_through_the_openai_client(fake_openai: FakeOpenAI) -> None:
    model = SentimentModel(
        base_url=fake_openai.base_url, api_key="sk-test", model="fake-mini", timeout=5
    )
    analysis = await model.analyse("Wir würden die Wohnung gern morgen besichtigen!")
    assert analysis is not None
    assert analysis.sentiment == "very_positive"
    assert fake_openai.requests[0]["model"] == "fake-mini"
    assert fake_openai.requests[0]["response_format"] == {"type": "json_object"}
    fake_openai.answers.extend([(200, "not json at all"), (500, None), (500, None), (500, None)])
    assert await model.analyse("x") is None  # nonsense: the keyword result stands
    assert await model.analyse("x") is None  # the endpoint fails: no failure for the lead
    await model.aclose()


async def test_a_configured_model_stores_its_analysis_on_the_timeline(
    fake_openai: FakeOpenAI, leads_schema: str
) -> None:
    import httpx
    from leads_helpers import as_user, corpus, person
    from pix_leads.app import create_app
    from pix_leads.settings import LeadsSettings

    settings = LeadsSettings(
        smtp_port=0, sentiment_base_url=fake_openai.base_url, sentiment_model="fake-mini"
    )
    app, runtime = create_app(settings)
    agent = person()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://leads"
        ) as client:
            box = (await client.get("/settings", headers=as_user(runtime, agent))).json()
            received = await app.state.intake.receive(
                corpus("is24_xml_multipart"),
                channel="smtp",
                mail_from=None,
                rcpt_to=[box["intake_address"]],
            )
            await runtime.jobs.run_due()
            leads = (await client.get("/leads", headers=as_user(runtime, agent))).json()
            detail = (
                await client.get(f"/leads/{leads[0]['id']}", headers=as_user(runtime, agent))
            ).json()
        analyses = [a for a in detail["timeline"] if a["kind"] == "analysis"]
        assert analyses
        assert analyses[0]["data"]["sentiment"] == "very_positive"
        assert detail["lead"]["sentiment"]["analysis"]["model"] == "fake-mini"
        assert received.status == "received"
    finally:
        await runtime.db.dispose()
