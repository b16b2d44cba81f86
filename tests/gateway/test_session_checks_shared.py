"""Concurrent requests with one session token share one question to auth."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from pix_gateway.service import AuthUnavailable, SessionChecker


def fake_auth(asked: list[str], answered: asyncio.Event) -> FastAPI:
    app = FastAPI()

    @app.post("/sessions/validate")
    async def validate(body: dict[str, str]) -> dict[str, object]:
        asked.append(body["token"])
        await answered.wait()  # held until every caller is waiting
        if body["token"] == "broken":
            raise RuntimeError("auth fell over")
        return {
            "user_id": str(uuid.uuid4()),
            "org_id": str(uuid.uuid4()),
            "role": "client",
            "email": "erika@makler-example.de",
            "name": "Erika",
            "email_verified": True,
            "session_id": "s1",
        }

    return app


async def test_fifty_concurrent_checks_of_one_token_ask_auth_once() -> None:
    asked: list[str] = []
    answered = asyncio.Event()
    transport = httpx.ASGITransport(app=fake_auth(asked, answered), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        sessions = SessionChecker(client, "http://auth", cache_seconds=2.0)
        checks = [asyncio.create_task(sessions.identity("token-a")) for _ in range(50)]
        other = asyncio.create_task(sessions.identity("token-b"))
        while len(asked) < 2:
            await asyncio.sleep(0.01)
        answered.set()
        identities = await asyncio.gather(*checks, other)
    assert sorted(asked) == ["token-a", "token-b"]
    assert len({identity.user_id for identity in identities[:50] if identity}) == 1


async def test_a_failed_question_fails_every_waiter_and_is_asked_again() -> None:
    asked: list[str] = []
    answered = asyncio.Event()
    answered.set()
    transport = httpx.ASGITransport(app=fake_auth(asked, answered), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        sessions = SessionChecker(client, "http://auth", cache_seconds=2.0)
        results = await asyncio.gather(
            *(sessions.identity("broken") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(result, AuthUnavailable) for result in results)
        await asyncio.gather(sessions.identity("broken"), return_exceptions=True)
    assert len(asked) == 2  # the failure was not remembered
