"""Accounts in the browser: register, stay signed in across reloads, log out and in again,
invite-only registration, and a reused refresh token sending the page back to sign-in."""

from __future__ import annotations

import dataclasses
import json
import secrets
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import expect

from core.config import Registration

if TYPE_CHECKING:
    from playwright.async_api import Page

    from core.config import Settings
    from tests.web.browser import Web


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """No grace for a re-sent refresh token (so reuse is detected at once); registration open
    unless a test asks for invite-only (indirect parametrization)."""
    registration = getattr(request, "param", Registration.OPEN)
    return dataclasses.replace(settings, refresh_reuse_grace_s=0, registration=registration)


async def register(page: Page, username: str, invite: str = "") -> None:
    """Fills in and sends the register form, which the page must be showing."""
    form = page.get_by_test_id("register-form")
    await form.get_by_test_id("register-email").fill(f"{username}@example.test")
    await form.get_by_test_id("register-username").fill(username)
    await form.get_by_test_id("register-global-name").fill(f"{username.title()} Person")
    await form.get_by_test_id("register-password").fill("correct horse battery")
    if invite:
        await form.get_by_test_id("register-invite").fill(invite)
    await form.get_by_test_id("register-submit").click()


async def sign_up(page: Page, base_url: str, username: str) -> None:
    """From the app's address to signed in (the user panel shows the display name)."""
    await page.goto(base_url + "/app")
    await page.get_by_test_id("to-register").click()
    await register(page, username)
    await expect(page.get_by_test_id("user-name")).to_have_text(f"{username.title()} Person")


async def test_register_reload_log_out_and_in(web: Web) -> None:
    page = await web.new_page()
    username = f"ada_{secrets.token_hex(3)}"

    async def steps() -> str:
        await sign_up(page, web.url, username)
        assert "/app/channels/@me" in page.url
        await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        # A reload keeps the person signed in (the stored refresh token is rotated on load).
        stored = await page.evaluate("localStorage.getItem('trioxide.auth')")
        await page.reload()
        await expect(page.get_by_test_id("user-name")).to_have_text(f"{username.title()} Person")
        # (The name shows from what was stored; the rotation lands when its answer does.)
        await page.wait_for_function(
            "old => JSON.parse(localStorage.getItem('trioxide.auth') || '{}')"
            ".refresh_token !== old",
            arg=json.loads(stored)["refresh_token"],
        )
        rotated = await page.evaluate("localStorage.getItem('trioxide.auth')")
        assert json.loads(rotated)["refresh_token"] != json.loads(stored)["refresh_token"]
        # Log out: back to sign-in, nothing stored.
        await page.get_by_test_id("logout-button").click()
        await expect(page.get_by_test_id("login-form")).to_be_visible()
        assert await page.evaluate("localStorage.getItem('trioxide.auth')") is None
        await page.reload()
        await expect(page.get_by_test_id("login-form")).to_be_visible()
        # A wrong password says so; the right one signs in.
        await page.get_by_test_id("login-login").fill(username)
        await page.get_by_test_id("login-password").fill("wrong password")
        await page.get_by_test_id("login-submit").click()
        await expect(page.get_by_test_id("login-error")).to_be_visible()
        await page.get_by_test_id("login-password").fill("correct horse battery")
        await page.get_by_test_id("login-submit").click()
        await expect(page.get_by_test_id("user-name")).to_have_text(f"{username.title()} Person")
        return str(json.loads(rotated)["refresh_token"])

    logged_out = await web.run(steps())
    # The logged-out session's refresh token no longer works.
    answer = await web.api.http.post("/api/v10/auth/refresh", json={"refresh_token": logged_out})
    assert answer.status_code == 401


async def test_a_new_guild_shows_in_the_rail_and_its_channels(web: Web) -> None:
    page = await web.new_page()
    username = f"bea_{secrets.token_hex(3)}"
    await web.run(sign_up(page, web.url, username))
    stored = json.loads(await web.run(page.evaluate("localStorage.getItem('trioxide.auth')")))
    created = await web.api.http.post(
        "/api/v10/guilds",
        json={"name": "Tea Club"},
        headers={"Authorization": f"Bearer {stored['token']}"},
    )
    assert created.status_code == 201, created.text
    guild_id = created.json()["id"]

    async def steps() -> None:
        # Live, by GUILD_CREATE: no reload.
        button = page.locator(f'[data-testid="rail-guild"][data-guild-id="{guild_id}"]')
        await expect(button).to_have_attribute("aria-label", "Tea Club")
        await expect(button).to_have_text("TC")
        await button.click()
        await expect(page.get_by_test_id("guild-name")).to_have_text("Tea Club")
        link = page.get_by_test_id("channel-link").first
        await expect(link).to_have_attribute("aria-current", "page")
        assert f"/app/channels/{guild_id}/" in page.url
        # After a reload the same guild and channel are shown again.
        url = page.url
        await page.reload()
        await expect(page.get_by_test_id("guild-name")).to_have_text("Tea Club")
        assert page.url == url

    await web.run(steps())


async def test_channels_group_by_category_and_show_unread(web: Web) -> None:
    ada = await web.api.register(f"ada_{secrets.token_hex(3)}")
    bob = await web.api.register(f"bob_{secrets.token_hex(3)}")
    http = web.api.http
    guild = (await http.post("/api/v10/guilds", json={"name": "Lab"}, headers=ada.auth)).json()
    base = f"/api/v10/guilds/{guild['id']}/channels"
    general = next(c for c in (await http.get(base, headers=ada.auth)).json() if c["type"] == 0)
    category = (
        await http.post(base, json={"name": "Projects", "type": 4}, headers=ada.auth)
    ).json()
    ideas = (
        await http.post(
            base, json={"name": "ideas", "type": 0, "parent_id": category["id"]}, headers=ada.auth
        )
    ).json()
    invite = await http.post(
        f"/api/v10/channels/{general['id']}/invites", json={}, headers=ada.auth
    )
    assert (
        await http.post(f"/api/v10/invites/{invite.json()['code']}", headers=bob.auth)
    ).is_success
    page = await web.new_page()
    ideas_link = page.locator(f'[data-testid="channel-link"][data-channel-id="{ideas["id"]}"]')
    rail_item = page.locator("li.rail-item", has=page.locator(f'[data-guild-id="{guild["id"]}"]'))

    async def open_general() -> None:
        await page.goto(web.url + "/app/login")
        await page.get_by_test_id("login-login").fill(ada.username)
        await page.get_by_test_id("login-password").fill(ada.password)
        await page.get_by_test_id("login-submit").click()
        await expect(page.get_by_test_id("user-name")).to_be_attached()
        await page.get_by_test_id("rail-guild").click()
        await expect(page.get_by_test_id("guild-name")).to_have_text("Lab")
        # ideas sits under its category's heading, general above any category.
        section = page.locator(f'[data-category-id="{category["id"]}"]')
        await expect(section.get_by_role("heading")).to_have_text("Projects")
        await expect(section.get_by_test_id("channel-link")).to_have_text("ideas")
        await expect(ideas_link).to_have_attribute("data-unread", "false")

    await web.run(open_general())
    sent = await http.post(
        f"/api/v10/channels/{ideas['id']}/messages", json={"content": "new idea"}, headers=bob.auth
    )
    assert sent.status_code == 200, sent.text

    async def read_it() -> None:
        await expect(ideas_link).to_have_attribute("data-unread", "true")
        await expect(rail_item).to_have_class("rail-item unread")
        await ideas_link.click()
        await expect(ideas_link).to_have_attribute("aria-current", "page")
        await page.get_by_test_id("channel-link").first.click()
        await expect(ideas_link).to_have_attribute("data-unread", "false")
        await expect(rail_item).to_have_class("rail-item")
        await page.reload()  # read stays read
        await expect(ideas_link).to_have_attribute("data-unread", "false")
        await ideas_link.click()
        await expect(ideas_link).to_have_attribute("aria-current", "page")

    await web.run(read_it())
    # The channel on screen is deleted: the page moves on to the guild's first channel.
    deleted = await http.delete(f"/api/v10/channels/{ideas['id']}", headers=ada.auth)
    assert deleted.status_code == 200, deleted.text
    general_link = page.locator(f'[data-testid="channel-link"][data-channel-id="{general["id"]}"]')
    await web.run(expect(general_link).to_have_attribute("aria-current", "page"))
    await web.run(expect(ideas_link).to_have_count(0))
    assert page.url.endswith(f"/{general['id']}")


@pytest.mark.parametrize("settings", [Registration.INVITE], indirect=True)
async def test_invite_only_registration_needs_a_code(web: Web) -> None:
    code = await web.api.services.accounts.create_registration_code(1, 3600)
    page = await web.new_page()
    username = f"cy_{secrets.token_hex(3)}"

    async def steps() -> None:
        await page.goto(web.url + "/app/register")
        await register(page, username)
        error = page.get_by_test_id("register-error")
        await expect(error).to_contain_text("registration code")
        await expect(page.get_by_test_id("register-invite")).to_have_attribute(
            "aria-invalid", "true"
        )
        await page.get_by_test_id("register-invite").fill(code)
        await page.get_by_test_id("register-submit").click()
        await expect(page.get_by_test_id("user-name")).to_have_text(f"{username.title()} Person")

    await web.run(steps())


async def test_a_reused_refresh_token_signs_out(web: Web) -> None:
    page = await web.new_page()
    username = f"dee_{secrets.token_hex(3)}"

    async def steps() -> None:
        await sign_up(page, web.url, username)
        old = await page.evaluate("localStorage.getItem('trioxide.auth')")
        # The page rotates its refresh token (as it does ahead of the access token's expiry)…
        rotated = await page.evaluate("import('/app/auth.js').then((auth) => auth.refresh())")
        assert rotated is True
        assert await page.evaluate("localStorage.getItem('trioxide.auth')") != old
        # …and someone holding the old copy brings it back: the server sees it reused.
        await page.evaluate("(old) => localStorage.setItem('trioxide.auth', old)", old)
        await page.reload()
        await expect(page.get_by_test_id("login-form")).to_be_visible()
        await expect(page.get_by_test_id("auth-note")).to_contain_text("sign in again")
        assert await page.evaluate("localStorage.getItem('trioxide.auth')") is None

    await web.run(steps())


async def test_an_invite_link_opened_signed_out_joins_after_registering(web: Web) -> None:
    owner = await web.api.register(f"eve_{secrets.token_hex(3)}")
    http = web.api.http
    guild = (
        await http.post("/api/v10/guilds", json={"name": "Book Nook"}, headers=owner.auth)
    ).json()
    channels = (
        await http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
    ).json()
    channel = next(c for c in channels if c["type"] == 0)
    invite = await http.post(
        f"/api/v10/channels/{channel['id']}/invites", json={}, headers=owner.auth
    )
    code = invite.json()["code"]
    page = await web.new_page()

    async def steps() -> None:
        await page.goto(f"{web.url}/app/invite/{code}")
        # Not signed in: register first (the page says why), then on to the invite.
        await expect(page.get_by_test_id("auth-note")).to_contain_text("invite")
        await register(page, f"fay_{secrets.token_hex(3)}")
        await page.get_by_test_id("invite-accept").click()
        await expect(page.get_by_test_id("guild-name")).to_have_text("Book Nook")
        assert f"/app/channels/{guild['id']}/{channel['id']}" in page.url

    await web.run(steps())


async def test_the_access_token_is_refreshed_before_it_expires(web: Web) -> None:
    page = await web.new_page()
    username = f"gus_{secrets.token_hex(3)}"

    async def steps() -> None:
        await page.clock.install()
        await sign_up(page, web.url, username)
        before = json.loads(await page.evaluate("localStorage.getItem('trioxide.auth')"))
        # 14 minutes on: the 15-minute access token is a minute from expiring.
        await page.clock.fast_forward("14:01")
        await page.wait_for_function(
            "(old) => JSON.parse(localStorage.getItem('trioxide.auth')).token !== old",
            arg=before["token"],
        )
        after = json.loads(await page.evaluate("localStorage.getItem('trioxide.auth')"))
        assert after["refresh_token"] != before["refresh_token"]
        assert after["expires_at"] > before["expires_at"]
        await expect(page.get_by_test_id("user-name")).to_have_text(f"{username.title()} Person")

    await web.run(steps())


async def test_signing_out_everywhere_returns_an_open_page_to_sign_in(web: Web) -> None:
    page = await web.new_page()
    username = f"hal_{secrets.token_hex(3)}"
    await web.run(sign_up(page, web.url, username))
    await web.run(expect(page.locator("#status")).to_have_attribute("data-state", "connected"))
    stored = json.loads(await web.run(page.evaluate("localStorage.getItem('trioxide.auth')")))
    # From another device: every session of this person ends, this page's included.
    answer = await web.api.http.post(
        "/api/v10/auth/logout-all", headers={"Authorization": f"Bearer {stored['token']}"}
    )
    assert answer.status_code == 204, answer.text

    async def signed_out() -> None:
        await expect(page.get_by_test_id("login-form")).to_be_visible()
        await expect(page.get_by_test_id("auth-note")).to_contain_text("sign in again")

    await web.run(signed_out())


async def test_tabs_of_one_browser_sign_out_and_in_together(web: Web) -> None:
    context = await web.new_context()
    first = await web.run(context.new_page())
    second = await web.run(context.new_page())
    username = f"ivy_{secrets.token_hex(3)}"
    shown = f"{username.title()} Person"

    async def steps() -> None:
        await sign_up(first, web.url, username)
        await second.goto(web.url + "/app")
        await expect(second.get_by_test_id("user-name")).to_have_text(shown)
        await second.get_by_test_id("logout-button").click()
        await expect(first.get_by_test_id("login-form")).to_be_visible()
        await first.get_by_test_id("login-login").fill(username)
        await first.get_by_test_id("login-password").fill("correct horse battery")
        await first.get_by_test_id("login-submit").click()
        await expect(first.get_by_test_id("user-name")).to_have_text(shown)
        await expect(second.get_by_test_id("user-name")).to_have_text(shown)

    await web.run(steps())
