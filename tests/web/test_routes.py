"""Addresses and sessions a person cannot be tricked or dropped by: a crafted link reaches no
other endpoint, a malformed one shows the app, an unreachable API does not sign anyone out,
the next person in a tab sees nothing of the last, and two tabs share one refresh token."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import expect

if TYPE_CHECKING:
    from playwright.async_api import Page, Request, Route, WebSocketRoute

    from core.config import Settings
    from tests.running import Person
    from tests.web.browser import Web


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No grace for a re-sent refresh token: a spent one presented is reuse at once."""
    return dataclasses.replace(settings, refresh_reuse_grace_s=0)


async def guild_with_invite(web: Web, owner: Person, name: str) -> tuple[str, str, str]:
    """A guild of `owner`'s: (guild id, its text channel's id, an invite code to it)."""
    http = web.api.http
    guild = (await http.post("/api/v10/guilds", json={"name": name}, headers=owner.auth)).json()
    channels = (
        await http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
    ).json()
    channel = next(c for c in channels if c["type"] == 0)
    invite = await http.post(
        f"/api/v10/channels/{channel['id']}/invites", json={}, headers=owner.auth
    )
    assert invite.status_code == 200, invite.text
    return str(guild["id"]), str(channel["id"]), str(invite.json()["code"])


async def invite_uses(web: Web, owner: Person, channel_id: str, code: str) -> int:
    listed = await web.api.http.get(f"/api/v10/channels/{channel_id}/invites", headers=owner.auth)
    assert listed.status_code == 200, listed.text
    return int(next(i for i in listed.json() if i["code"] == code)["uses"])


async def test_a_crafted_channel_link_reaches_no_other_endpoint(web: Web) -> None:
    owner = await web.api.register(f"own_{secrets.token_hex(3)}")
    guild_id, channel_id, code = await guild_with_invite(web, owner, "Trap")
    visitor = await web.api.register(f"vis_{secrets.token_hex(3)}")
    context = await web.signed_in_context(visitor)
    page = await web.run(context.new_page())
    invite_requests: list[str] = []

    def watch(request: Request) -> None:
        if "/invites" in request.url:
            invite_requests.append(f"{request.method} {request.url}")

    await web.listen(page, "request", watch)

    async def steps() -> None:
        # Decoded, the channel id would be `../invites/CODE#`: an API path to the invite.
        await page.goto(f"{web.url}/app/channels/@me/..%2Finvites%2F{code}%23")
        await expect(page.get_by_test_id("not-found")).to_be_visible()
        await expect(page.locator("#main textarea")).to_have_count(0)
        await page.keyboard.type("hello there")
        await page.keyboard.press("Enter")
        # Moving on shows the app working (and anything the typing sent has been sent).
        await page.get_by_test_id("not-found-home").click()
        await expect(page.get_by_test_id("user-name")).to_have_text(visitor.username)
        await expect(page.locator("#status")).to_have_attribute("data-state", "connected")

    await web.run(steps())
    assert invite_requests == []
    guilds = await web.api.http.get("/api/v10/users/@me/guilds", headers=visitor.auth)
    assert all(str(g["id"]) != guild_id for g in guilds.json())
    assert await invite_uses(web, owner, channel_id, code) == 0


async def test_the_api_module_sends_no_path_the_url_parser_would_rewrite(web: Web) -> None:
    person = await web.api.register(f"api_{secrets.token_hex(3)}")
    context = await web.signed_in_context(person)
    page = await web.run(context.new_page())
    sent: list[str] = []
    await web.listen(
        page, "request", lambda r: sent.append(r.url) if "/api/v10/x" in r.url else None
    )
    tried = """async () => {
      const api = await import('/app/api.js');
      const paths = ['/x/../users/@me', '/x/..%2Fusers', '/x/a%2fb', '/x/1?limit=1', '/x/1#y',
                     '/x\\\\..\\\\users', '/x/%2e%2e/users', 'x/1'];
      const outcomes = [];
      for (const path of paths) {
        outcomes.push(await api.request('GET', path).then(() => 'sent', (e) => e.name + ':' + e.status));
        outcomes.push(await api.upload(path, new FormData()).then(() => 'sent', (e) => e.name + ':' + e.status));
      }
      return outcomes;
    }"""

    async def steps() -> list[str]:
        await page.goto(f"{web.url}/app/channels/@me")
        await expect(page.get_by_test_id("user-name")).to_have_text(person.username)
        outcomes: list[str] = await page.evaluate(tried)
        return outcomes

    outcomes = await web.run(steps())
    assert outcomes == ["ApiError:400"] * 16, outcomes
    assert sent == []


async def test_a_malformed_address_shows_the_app(web: Web) -> None:
    person = await web.api.register(f"mal_{secrets.token_hex(3)}")
    context = await web.signed_in_context(person)
    page = await web.run(context.new_page())

    async def steps() -> None:
        await page.goto(f"{web.url}/app/channels/%E0%A4%A")
        await expect(page.get_by_test_id("not-found")).to_be_visible()
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.get_by_test_id("user-name")).to_have_text(person.username)
        # Ids are snowflakes only: a word where a guild id goes is not a route either.
        await page.goto(f"{web.url}/app/channels/general/1")
        await expect(page.get_by_test_id("not-found")).to_be_visible()

    await web.run(steps())


async def test_a_refused_token_while_the_api_is_unreachable_keeps_the_session(web: Web) -> None:
    person = await web.api.register(f"net_{secrets.token_hex(3)}")
    session = await web.api.login(person)
    # An access token the gateway refuses (4004) though it looks fresh here, and a refresh
    # that cannot reach the server: nothing says the session ended, so it must not end.
    stored = json.dumps(
        {
            "token": "not-a-token",
            "refresh_token": session["refresh_token"],
            "user_id": str(person.id),
            "expires_at": 4_102_444_800_000,
        }
    )
    # bypass_csp: wait_for_function evaluates its predicate from a string, which the page's
    # CSP (rightly) forbids.
    context = await web.new_context(bypass_csp=True)
    await web.run(
        context.add_init_script(
            f"if (!localStorage.getItem('trioxide.auth')) localStorage.setItem('trioxide.auth', {stored!r})"
        )
    )
    page = await web.run(context.new_page())

    async def unreachable(route: Route) -> None:
        await route.abort()

    async def steps() -> None:
        await page.route("**/api/v10/auth/refresh", unreachable)
        await page.goto(f"{web.url}/app/channels/@me")
        await page.evaluate("import('/app/app.js').then(({ gateway }) => { window.gw = gateway; })")
        # Refused three times over (each refresh failing on the network): still signed in.
        await page.wait_for_function("window.gw.counts.identify >= 3")
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.get_by_test_id("login-form")).to_have_count(0)
        assert await page.evaluate("localStorage.getItem('trioxide.auth')") is not None
        # The API is back: the next refresh works and the gateway gets its READY.
        await page.unroute("**/api/v10/auth/refresh", unreachable)
        await page.wait_for_function(
            "import('/app/auth.js').then((auth) => auth.refresh())", polling=250
        )
        await expect(page.get_by_test_id("user-name")).to_have_text(person.username)
        await expect(page.locator("#status")).to_have_attribute("data-state", "connected")

    await web.run(steps())


async def test_the_next_person_in_a_tab_sees_nothing_of_the_last(web: Web) -> None:
    ada = await web.api.register(f"ada_{secrets.token_hex(3)}")
    bob = await web.api.register(f"bob_{secrets.token_hex(3)}")
    await guild_with_invite(web, ada, "Ada Secret Club")
    context = await web.signed_in_context(ada)
    page = await web.run(context.new_page())

    def hold(socket: WebSocketRoute) -> None:
        """Bob's gateway never answers: what the page shows is what it kept, not READY's."""

    async def steps() -> None:
        await page.goto(f"{web.url}/app/channels/@me")
        await expect(page.get_by_test_id("rail-guild")).to_have_attribute(
            "aria-label", "Ada Secret Club"
        )
        await page.get_by_test_id("logout-button").click()
        await expect(page.get_by_test_id("login-form")).to_be_visible()
        kept = await page.evaluate(
            "import('/app/store.js').then(({ state }) => [state.me, state.guilds.size, state.ready])"
        )
        assert kept == [None, 0, False]
        await page.route_web_socket("**/*", hold)
        await page.get_by_test_id("login-login").fill(bob.username)
        await page.get_by_test_id("login-password").fill(bob.password)
        await page.get_by_test_id("login-submit").click()
        await expect(page.get_by_test_id("rail-home")).to_be_visible()
        await expect(page.get_by_test_id("rail-guild")).to_have_count(0)
        await expect(page.get_by_text("Ada Secret Club")).to_have_count(0)
        await expect(page.get_by_test_id("user-name")).not_to_have_text(ada.username)

    await web.run(steps())


async def test_a_tab_that_missed_another_tabs_rotation_does_not_reuse_its_token(web: Web) -> None:
    person = await web.api.register(f"two_{secrets.token_hex(3)}")
    context = await web.signed_in_context(person)
    first = await web.run(context.new_page())
    second = await web.run(context.new_page())
    # The second tab hears nothing of the first's rotations (as a frozen or throttled tab).
    deaf = "window.addEventListener('storage', (e) => e.stopImmediatePropagation(), true);"
    await web.run(second.add_init_script(deaf))
    refresh = "import('/app/auth.js').then((auth) => auth.refresh())"

    async def open_page(page: Page) -> None:
        await page.goto(f"{web.url}/app/channels/@me")
        await expect(page.get_by_test_id("user-name")).to_have_text(person.username)

    async def steps() -> list[bool]:
        await open_page(first)
        await open_page(second)
        # First rotates; then second, holding the spent pair in memory; then first again.
        return [
            await first.evaluate(refresh),
            await second.evaluate(refresh),
            await first.evaluate(refresh),
        ]

    assert await web.run(steps()) == [True, True, True]
    stored = json.loads(await web.run(first.evaluate("localStorage.getItem('trioxide.auth')")))
    # The family was not revoked: the stored refresh token still works.
    answer = await web.api.http.post(
        "/api/v10/auth/refresh", json={"refresh_token": stored["refresh_token"]}
    )
    assert answer.status_code == 200, answer.text


async def test_esc_while_a_dialog_works_waits_for_its_answer(web: Web) -> None:
    person = await web.api.register(f"esc_{secrets.token_hex(3)}")
    context = await web.signed_in_context(person)
    page = await web.run(context.new_page())

    async def steps() -> None:
        answer_held = asyncio.Event()
        let_go = asyncio.Event()

        async def slow(route: Route) -> None:
            if route.request.method != "POST":
                await route.continue_()
                return
            answer_held.set()
            await let_go.wait()
            await route.continue_()

        await page.route("**/api/v10/guilds", slow)
        await page.goto(f"{web.url}/app/channels/@me")
        await expect(page.get_by_test_id("user-name")).to_have_text(person.username)
        await page.get_by_test_id("create-guild").click()
        await page.get_by_test_id("new-guild-name").fill("Patience")
        await page.get_by_test_id("create-guild-submit").click()
        await answer_held.wait()
        # Esc while the guild is being created: the dialog stays, busy, until the answer.
        await page.keyboard.press("Escape")
        dialog = page.get_by_test_id("create-guild-dialog")
        await expect(dialog).to_have_attribute("aria-busy", "true")
        let_go.set()
        # The guild was created: the page goes to it, as if Esc had not been pressed.
        await expect(page.get_by_test_id("guild-name")).to_have_text("Patience")
        await expect(dialog).to_have_count(0)

    await web.run(steps())


async def test_the_guild_menu_button_says_whether_its_menu_is_open(web: Web) -> None:
    person = await web.api.register(f"men_{secrets.token_hex(3)}")
    guild_id, channel_id, _ = await guild_with_invite(web, person, "Menus")
    context = await web.signed_in_context(person)
    page = await web.run(context.new_page())

    async def steps() -> None:
        await page.goto(f"{web.url}/app/channels/{guild_id}/{channel_id}")
        button = page.get_by_test_id("guild-menu-button")
        await expect(button).to_have_attribute("aria-expanded", "false")
        await button.click()
        await expect(page.get_by_role("menu")).to_be_visible()
        await expect(button).to_have_attribute("aria-expanded", "true")
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("menu")).to_have_count(0)
        await expect(button).to_have_attribute("aria-expanded", "false")

    await web.run(steps())


async def test_a_view_whose_module_lands_late_does_not_draw_over_the_next_one(web: Web) -> None:
    """Home's module still on its way when the person moves to a channel: when it lands, the
    channel stays on screen (Friends is not drawn over it; the CI once saw exactly that)."""
    person = await web.api.register(f"late_{secrets.token_hex(3)}")
    guild_id, channel_id, _ = await guild_with_invite(web, person, "Late")
    context = await web.signed_in_context(person)
    page = await web.run(context.new_page())
    released = asyncio.Event()

    async def hold_home(route: Route) -> None:
        await released.wait()
        await route.continue_()

    async def steps() -> None:
        await context.route("**/app/home.js", hold_home)
        await page.goto(f"{web.url}/app/channels/{guild_id}/{channel_id}")
        await expect(page.get_by_test_id("pins-button")).to_be_visible()
        go = "(to) => document.dispatchEvent(new CustomEvent('app-navigate', {detail: to}))"
        await page.evaluate(go, "/app/channels/@me")  # home.js is requested, and held
        await page.evaluate(go, f"/app/channels/{guild_id}/{channel_id}")
        await expect(page.get_by_test_id("pins-button")).to_be_visible()
        released.set()
        await page.evaluate("() => import('/app/home.js')")  # it has landed and run
        await expect(page.get_by_test_id("friends")).to_have_count(0)
        await expect(page.get_by_test_id("pins-button")).to_be_visible()
        await expect(page.get_by_test_id("message-log")).to_have_count(1)

    await web.run(steps())
