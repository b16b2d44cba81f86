"""Sessions and CSRF through the gateway, on the stack as `make run` starts it."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from client import COOKIE, full_order, new_client_account, place_order
from stack import Stack


async def test_a_revoked_session_is_refused_within_five_seconds(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        email = f"agent-{uuid.uuid4().hex[:8]}@makler-example.de"
        password = "Stille-Wasser-sind-tief"
        await http.post(
            "/api/auth/register",
            json={"name": "A", "email": email, "password": password, "company": "B"},
        )
        tokens = []
        for _ in range(2):
            response = await http.post(
                "/api/auth/login", json={"email": email, "password": password}
            )
            tokens.append(response.cookies[COOKIE])
        laptop, phone = ({"Authorization": f"Bearer {t}"} for t in tokens)
        assert (await http.get("/api/auth/me", headers=phone)).status_code == 200  # now cached

        revoked = await http.post("/api/auth/sessions/revoke-all", headers=laptop)
        assert revoked.json() == {"revoked": 2}
        started = time.monotonic()
        while (await http.get("/api/auth/me", headers=phone)).status_code == 200:
            assert time.monotonic() - started < 5, "revocation took effect too late"
            await asyncio.sleep(0.1)
        print(f"\nrevocation took effect after {time.monotonic() - started:.2f} s")


async def test_cross_site_form_posts_are_refused(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        for path in ("/login", "/register", "/logout", "/api/orders/orders"):
            response = await http.post(
                path,
                content=b"email=a%40b.de&password=x",
                headers={
                    "origin": "https://evil.example",
                    "content-type": "application/x-www-form-urlencoded",
                },
            )
            assert response.status_code == 403, path
        ok = await http.post(
            "/login",
            content=b"email=a%40b.de&password=wrong-wrong",
            headers={
                "origin": stack.base_url,
                "sec-fetch-site": "same-origin",
                "content-type": "application/x-www-form-urlencoded",
            },
        )
        assert ok.status_code == 401
        assert "E-Mail oder Passwort ist falsch" in ok.text


async def test_one_agency_cannot_see_anothers_orders(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        mail = stack.data_dir / "mail"
        mine, theirs = await new_client_account(http, mail), await new_client_account(http, mail)
        order = await place_order(http, mine)
        assert (
            await http.get(f"/api/orders/orders/{order['id']}", headers=mine)
        ).status_code == 200
        foreign = await http.get(f"/api/orders/orders/{order['id']}", headers=theirs)
        assert foreign.status_code == 404
        assert foreign.json()["error"]["code"] == "not_found"
        assert order["id"] not in (await http.get("/api/orders/orders", headers=theirs)).text


async def test_ui_pages_answer_in_html_and_unknown_pages_are_friendly(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        for path in ("/", "/login", "/register", "/forgot-password", "/privacy"):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert "text/html" in page.headers["content-type"]
            assert "frame-src https://tidycal.com" in page.headers["content-security-policy"]
        missing = await http.get("/does-not-exist")
        assert missing.status_code == 404
        assert "Diese Seite gibt es nicht" in missing.text
        english = await http.get("/does-not-exist", headers={"cookie": "lang=en"})
        assert "This page does not exist" in english.text
        api_missing = await http.get("/api/nothing")
        assert api_missing.headers["content-type"].startswith("application/json")
        redirect = await http.get("/dashboard")
        assert redirect.status_code == 303
        assert redirect.headers["location"] == "/login?next=/dashboard"


async def test_the_admin_area_answers_for_admins_only(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        form = {"email": stack.admin_email, "password": stack.admin_password, "next": "/admin"}
        login = await http.post("/login", data=form, headers={"sec-fetch-site": "same-origin"})
        assert login.status_code == 303
        admin = {"cookie": f"{COOKIE}={login.cookies[COOKIE]}"}
        for path, text in [
            ("/admin", "Benutzer"),
            ("/admin/orders", "Aufträge verwalten"),
            ("/admin/captions", "Fehlgeschlagene Bildtexte"),
            ("/admin/mail", "E-Mail-Ausgang"),
        ]:
            page = await http.get(path, headers=admin)
            assert page.status_code == 200, path
            assert text in page.text, path
        mails = (await http.get("/api/notify/mail?limit=500", headers=admin)).json()
        assert mails, "the mail log is empty"
        for mail in mails:  # links are credentials: the log never shows them
            body = mail["text_body"]
            assert "token=" not in body.replace("token=[redacted]", ""), body
        csv = await http.get("/admin/orders.csv", headers=admin)
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")

        client = await new_client_account(http, stack.data_dir / "mail", verify=False)
        token = client["Authorization"].removeprefix("Bearer ")
        for path in ("/admin", "/admin/orders", "/admin/mail"):
            page = await http.get(path, headers={"cookie": f"{COOKIE}={token}"})
            assert page.status_code == 404, path


async def test_ordering_needs_a_confirmed_email(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        unconfirmed = await new_client_account(http, stack.data_dir / "mail", verify=False)
        response = await http.post("/api/orders/orders", headers=unconfirmed, json=full_order())
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "email_unverified"
