"""A person at the browser: sign up, confirm, sign in, dashboard, sign out; forgot password."""

from __future__ import annotations

import uuid

from conftest import snap
from dev_outbox import messages_to, wait_for_link
from playwright.async_api import Page, expect
from stack import Stack


def new_address() -> str:
    return f"makler-{uuid.uuid4().hex[:8]}@immobilien-example.de"


async def register(page: Page, stack: Stack, address: str, password: str) -> None:
    await page.goto(stack.base_url + "/register")
    await page.get_by_label("Ihr Name").fill("Erika Muster")
    await page.get_by_label("Firma / Maklerbüro").fill("Muster Immobilien GmbH")
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Registrieren").click()
    await expect(page.get_by_role("status")).to_contain_text("Fast geschafft")


async def test_register_verify_login_dashboard_logout(page: Page, stack: Stack) -> None:
    await page.goto(stack.base_url + "/")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Fotos rein")
    await snap(page, "01-home-de")

    address, password = new_address(), "Sonnige-Dachterrasse-2026"
    await page.goto(stack.base_url + "/register")
    await page.get_by_label("Passwort").fill("password123")
    await page.get_by_label("Ihr Name").fill("Erika Muster")
    await page.get_by_label("Firma / Maklerbüro").fill("Muster Immobilien GmbH")
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_role("button", name="Registrieren").click()
    await expect(page.locator("#password-error")).to_contain_text("zu verbreitet")
    await snap(page, "02-register-error")
    await register(page, stack, address, password)
    await snap(page, "03-register-done")

    link = await wait_for_link(stack.data_dir / "mail", address, "/verify-email")
    await page.goto(link)
    await expect(page.get_by_role("status")).to_contain_text("bestätigt")
    await snap(page, "04-verified")

    await page.goto(stack.base_url + "/login")
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_label("Passwort").fill("wrong password!")
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("alert")).to_contain_text("falsch")
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(stack.base_url + "/dashboard")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hallo Erika Muster!")
    await snap(page, "05-dashboard-de")

    await page.get_by_role("link", name="EN", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hello Erika Muster!")
    await snap(page, "06-dashboard-en")
    await page.goto(stack.base_url + "/account")
    await expect(page.get_by_text("this device")).to_be_visible()
    await snap(page, "07-account-en")
    await page.goto(stack.base_url + "/privacy")
    await snap(page, "08-privacy-en")
    await page.get_by_role("link", name="DE", exact=True).click()

    await page.locator("[data-test=logout]").click()
    await expect(page).to_have_url(stack.base_url + "/")
    await page.goto(stack.base_url + "/dashboard")
    await expect(page).to_have_url(stack.base_url + "/login?next=/dashboard")


async def test_forgot_then_reset_then_login_with_the_new_password(page: Page, stack: Stack) -> None:
    address, old, new = new_address(), "Alter-Gartenzaun-77", "Neuer-Gartenzaun-88"
    await register(page, stack, address, old)
    mails_before = len(messages_to(stack.data_dir / "mail", address))

    await page.goto(stack.base_url + "/login")
    await page.get_by_role("link", name="Passwort vergessen?").click()
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_role("button", name="Link anfordern").click()
    await expect(page.get_by_role("status")).to_contain_text("Wenn ein Konto")
    await snap(page, "09-forgot-done")

    link = await wait_for_link(
        stack.data_dir / "mail", address, "/reset-password", after=mails_before
    )
    await page.goto(link)
    await page.get_by_label("Neues Passwort").fill(new)
    await page.get_by_role("button", name="Passwort speichern").click()
    await expect(page.get_by_role("status")).to_contain_text("Passwort wurde geändert")
    await snap(page, "10-reset-done")

    # The link works once.
    await page.goto(link)
    await page.get_by_label("Neues Passwort").fill("Noch-ein-Passwort-99")
    await page.get_by_role("button", name="Passwort speichern").click()
    await expect(page.get_by_role("alert")).to_contain_text("ungültig")

    await page.goto(stack.base_url + "/login")
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_label("Passwort").fill(old)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await page.get_by_label("Passwort").fill(new)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(stack.base_url + "/dashboard")


async def log_in(page: Page, stack: Stack, address: str, password: str) -> None:
    await page.goto(stack.base_url + "/login")
    await page.get_by_label("E-Mail").fill(address)
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(stack.base_url + "/dashboard")


async def test_the_owner_invites_an_agent_who_sees_the_team_but_cannot_change_it(
    page: Page, stack: Stack
) -> None:
    owner, password = new_address(), "Helle-Altbauwohnung-5"
    await register(page, stack, owner, password)
    await log_in(page, stack, owner, password)
    await page.goto(stack.base_url + "/account")
    team = page.locator("#team")
    await expect(team).to_contain_text("Erika Muster")
    colleague = new_address()
    await team.get_by_label("Name der Kollegin").fill("Max Kollege")
    await team.get_by_label("E-Mail").fill(colleague)
    await team.get_by_role("button", name="Kollegin oder Kollegen einladen").click()
    await expect(page.get_by_role("status")).to_contain_text("Einladung ist verschickt")
    await expect(team).to_contain_text("Max Kollege")
    await snap(page, "11-team-owner")
    await page.locator("[data-test=logout]").click()

    link = await wait_for_link(stack.data_dir / "mail", colleague, "/accept-invitation")
    await page.goto(link)
    await page.get_by_label("Neues Passwort").fill("Ruhiger-Innenhof-31")
    await page.get_by_role("button", name="Passwort speichern").click()
    await log_in(page, stack, colleague, "Ruhiger-Innenhof-31")
    await page.goto(stack.base_url + "/account")
    await expect(team).to_contain_text("Makler/in")
    await expect(team).to_contain_text("Inhaber/in")
    await expect(team.get_by_role("button", name="Kollegin oder Kollegen einladen")).to_have_count(
        0
    )
