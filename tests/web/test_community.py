"""Guilds in the browser: one person creates a guild and an invite through the client, another
joins by pasting the link, the member list shows who is online, the owner kicks, and someone
without permissions is offered none of it, a kick the server refuses names the permission it
takes, and a quick switch between guilds never shows the first one's members under the second.
A signed-out person opening an invite link registers and lands in the guild."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from playwright.async_api import expect

from tests.api.rooms import new_room
from tests.api.test_guilds import add_member, new_guild, new_role

if TYPE_CHECKING:
    from playwright.async_api import Page, Route

    from tests.running import Person
    from tests.web.browser import Web

WAIT_MS = 15_000
INVITE_LINK = re.compile(r"^http://127\.0\.0\.1:\d+/app/invite/[A-Za-z0-9]+$")


async def signed_in(web: Web, person: Person) -> Page:
    """A page in a fresh context whose client holds `person`'s session, at /app."""
    context = await web.signed_in_context(person)
    page = await web.run(context.new_page())

    async def watch() -> None:  # (listeners are added on the browser's loop, as all calls)
        watch_errors(page)

    await web.run(watch())
    await web.run(page.goto(web.url + "/app"))
    await web.run(page.get_by_test_id("rail-home").wait_for())
    return page


def watch_errors(page: Page) -> None:
    """Notes the page's uncaught errors and console errors (a failed request's own line aside:
    some tests mean to be refused)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    setattr(page, "community_errors", errors)  # noqa: B010 (a test's note on the page)


def page_errors(page: Page) -> list[str]:
    found: list[str] = getattr(page, "community_errors", [])
    return found


async def create_guild(page: Page, name: str) -> str:
    """Creates a guild through the rail's dialog; its id, once its first channel shows."""
    await page.get_by_test_id("create-guild").click()
    await page.get_by_test_id("new-guild-name").fill(name)
    await page.get_by_test_id("create-guild-submit").click()
    await expect(page.get_by_test_id("guild-name")).to_have_text(name, timeout=WAIT_MS)
    await page.wait_for_url("**/app/channels/*/*")
    return page.url.split("/")[-2]


async def make_invite(page: Page) -> str:
    """The invite link the guild menu shows."""
    await page.get_by_test_id("guild-menu-button").click()
    await page.get_by_test_id("guild-invite").click()
    link = page.get_by_test_id("invite-link")
    await expect(link).to_have_value(INVITE_LINK, timeout=WAIT_MS)
    value = await link.input_value()
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("invite-made-dialog")).to_have_count(0)
    return value


async def accept_invite(page: Page, link: str, guild_name: str) -> None:
    """Pastes the link in the address bar and accepts the invite."""
    await page.goto(link)
    await expect(page.get_by_test_id("invite-guild-name")).to_have_text(guild_name, timeout=WAIT_MS)
    await page.get_by_test_id("invite-accept").click()
    await expect(page.get_by_test_id("guild-name")).to_have_text(guild_name, timeout=WAIT_MS)


async def test_a_guild_made_and_joined_in_the_browser_then_a_kick(web: Web) -> None:
    ada, bob = await web.api.register(), await web.api.register()
    page_a = await signed_in(web, ada)
    page_b = await signed_in(web, bob)

    guild_id = await web.run(create_guild(page_a, "Tea Room"))
    link = await web.run(make_invite(page_a))
    assert link.startswith(f"{web.url}/app/invite/")

    await web.run(accept_invite(page_b, link, "Tea Room"))
    rail_b = page_b.locator(f'[data-testid="rail-guild"][data-guild-id="{guild_id}"]')
    await web.run(expect(rail_b).to_have_count(1))
    await web.run(expect(page_b.get_by_test_id("channel-link").first).to_be_visible())
    # Behind the wire: bob is a member now.
    members = await web.api.http.get(
        f"/api/v10/guilds/{guild_id}/members", params={"limit": 10}, headers=ada.auth
    )
    assert {m["user"]["id"] for m in members.json()} == {str(ada.id), str(bob.id)}

    # Ada sees Bob join, online.
    bob_in_a = page_a.locator(f'[data-testid="member"][data-user-id="{bob.id}"]')
    await web.run(expect(bob_in_a).to_have_attribute("data-status", "online", timeout=WAIT_MS))
    await web.run(
        expect(page_a.get_by_test_id("members-online").get_by_test_id("member")).to_have_count(2)
    )

    # Bob holds no permission: Ada's menu offers him no Kick or Ban, his guild menu no
    # channel management, but leaving.
    ada_in_b = page_b.locator(f'[data-testid="member"][data-user-id="{ada.id}"]')
    await web.run(ada_in_b.click())
    await web.run(expect(page_b.get_by_test_id("member-message")).to_be_visible())
    await web.run(expect(page_b.get_by_test_id("member-kick")).to_have_count(0))
    await web.run(expect(page_b.get_by_test_id("member-ban")).to_have_count(0))
    await web.run(page_b.keyboard.press("Escape"))
    await web.run(page_b.get_by_test_id("guild-menu-button").click())
    await web.run(expect(page_b.get_by_test_id("guild-leave")).to_be_visible())
    await web.run(expect(page_b.get_by_test_id("guild-create-channel")).to_have_count(0))
    await web.run(expect(page_b.get_by_test_id("guild-roles")).to_have_count(0))
    await web.run(page_b.keyboard.press("Escape"))

    # Ada, the owner, kicks Bob: keyboard from the member to the menu's Kick.
    await web.run(bob_in_a.focus())
    await web.run(page_a.keyboard.press("Enter"))
    await web.run(expect(page_a.get_by_test_id("member-message")).to_be_focused())
    await web.run(expect(page_a.get_by_test_id("member-ban")).to_be_visible())
    await web.run(page_a.get_by_test_id("member-kick").click())
    await web.run(page_a.get_by_test_id("confirm").click())
    await web.run(expect(bob_in_a).to_have_count(0, timeout=WAIT_MS))
    # Bob's rail loses the guild live.
    await web.run(expect(rail_b).to_have_count(0, timeout=WAIT_MS))
    assert page_errors(page_a) == []
    assert page_errors(page_b) == []


async def test_the_owner_makes_a_channel_and_a_role_and_bans_through_the_menus(web: Web) -> None:
    ada, bob, cleo = await web.api.register(), await web.api.register(), await web.api.register()
    page_a = await signed_in(web, ada)
    guild_id = await web.run(create_guild(page_a, "Workshop"))
    code = (await web.run(make_invite(page_a))).rsplit("/", 1)[1]
    for person in (bob, cleo):
        joined = await web.api.http.post(f"/api/v10/invites/{code}", headers=person.auth)
        assert joined.status_code == 200, joined.text

    async def ban_cleo() -> None:
        await page_a.locator(f'[data-testid="member"][data-user-id="{cleo.id}"]').click()
        await page_a.get_by_test_id("member-ban").click()
        await page_a.get_by_test_id("ban-history").select_option("3600")
        async with page_a.expect_request(lambda r: "/bans/" in r.url) as sent:
            await page_a.get_by_test_id("confirm").click()
        # (The server checks the window but does not delete messages yet: only the ask is
        # checked here.)
        request = await sent.value
        assert (request.method, request.post_data_json) == (
            "PUT",
            {"delete_message_seconds": 3600},
        )
        cleo_in_a = page_a.locator(f'[data-testid="member"][data-user-id="{cleo.id}"]')
        await expect(cleo_in_a).to_have_count(0, timeout=WAIT_MS)

    await web.run(ban_cleo())
    ban = await web.api.http.get(f"/api/v10/guilds/{guild_id}/bans/{cleo.id}", headers=ada.auth)
    assert ban.status_code == 200, ban.text

    async def make_channel() -> None:
        await page_a.get_by_test_id("guild-menu-button").click()
        await page_a.get_by_test_id("guild-create-channel").click()
        await page_a.get_by_test_id("new-channel-name").fill("plans")
        await page_a.get_by_test_id("create-channel-submit").click()
        await expect(page_a.get_by_test_id("channel-link").filter(has_text="plans")).to_have_count(
            1
        )

    async def make_role() -> None:
        await page_a.get_by_test_id("guild-menu-button").click()
        await page_a.get_by_test_id("guild-roles").click()
        await page_a.get_by_test_id("role-name").fill("Keepers")
        await page_a.get_by_test_id("role-perm-KICK_MEMBERS").check()
        await page_a.get_by_test_id("role-member").select_option(str(bob.id))
        await page_a.get_by_test_id("roles-save").click()
        await expect(page_a.get_by_test_id("roles-dialog")).to_have_count(0)

    await web.run(make_channel())
    await web.run(make_role())
    channels = (
        await web.api.http.get(f"/api/v10/guilds/{guild_id}/channels", headers=ada.auth)
    ).json()
    assert "plans" in {c["name"] for c in channels}
    roles = (await web.api.http.get(f"/api/v10/guilds/{guild_id}/roles", headers=ada.auth)).json()
    keepers = next(r for r in roles if r["name"] == "Keepers")
    assert int(keepers["permissions"]) == 1 << 1
    bob_member = (
        await web.api.http.get(f"/api/v10/guilds/{guild_id}/members/{bob.id}", headers=ada.auth)
    ).json()
    assert keepers["id"] in bob_member["roles"]

    # Bob, a member with a role to kick but not to manage channels, leaves by the guild menu.
    page_b = await signed_in(web, bob)

    async def leave() -> None:
        await page_b.goto(f"{web.url}/app/channels/{guild_id}")
        await page_b.get_by_test_id("guild-menu-button").click()
        await expect(page_b.get_by_test_id("guild-create-channel")).to_have_count(0)
        await page_b.get_by_test_id("guild-leave").click()
        await page_b.get_by_test_id("confirm").click()
        await page_b.wait_for_url("**/app/channels/@me")
        rail = page_b.locator(f'[data-testid="rail-guild"][data-guild-id="{guild_id}"]')
        await expect(rail).to_have_count(0)

    await web.run(leave())
    await web.run(
        expect(page_a.locator(f'[data-testid="member"][data-user-id="{bob.id}"]')).to_have_count(0)
    )
    assert page_errors(page_a) == []
    assert page_errors(page_b) == []


async def test_an_invite_link_opened_signed_out_registers_then_joins(web: Web) -> None:
    ada = await web.api.register()
    page_a = await signed_in(web, ada)
    guild_id = await web.run(create_guild(page_a, "Open House"))
    link = await web.run(make_invite(page_a))

    async def newcomer() -> Page:
        context = await web.browser.new_context()
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        watch_errors(page)
        await page.goto(link)
        await expect(page.get_by_test_id("register-form")).to_be_visible()
        await expect(page.get_by_test_id("auth-note")).to_contain_text("invite")
        await page.get_by_test_id("register-email").fill("cleo@example.test")
        await page.get_by_test_id("register-username").fill("cleo_newcomer")
        await page.get_by_test_id("register-password").fill("a long enough password")
        await page.get_by_test_id("register-submit").click()
        await expect(page.get_by_test_id("invite-guild-name")).to_have_text("Open House")
        await page.get_by_test_id("invite-accept").click()
        await expect(page.get_by_test_id("guild-name")).to_have_text("Open House")
        return page

    page_c = await web.run(newcomer())
    assert f"/app/channels/{guild_id}" in page_c.url
    cleo = page_a.locator('[data-testid="member"]').filter(has_text="cleo_newcomer")
    await web.run(expect(cleo).to_have_count(1, timeout=WAIT_MS))
    assert page_errors(page_c) == []


async def test_the_profile_dialog_saves_names_and_shows_field_errors_inline(web: Web) -> None:
    ada = await web.api.register()
    page = await signed_in(web, ada)

    async def edit() -> None:
        await page.get_by_test_id("settings-button").click()
        dialog = page.get_by_test_id("profile-dialog")
        await dialog.get_by_label("Display name").fill("Ada L.")
        await dialog.get_by_label("Username").fill("no spaces allowed")
        await dialog.get_by_test_id("profile-save").click()
        # The server's field error, beside its field; nothing saved, the dialog stays.
        await expect(page.locator("#profile-username-error")).to_contain_text("letters")
        await expect(dialog.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
        await dialog.get_by_label("Username").fill(f"{ada.username}_2")
        await dialog.get_by_test_id("profile-save").click()
        await expect(dialog).to_have_count(0)
        await expect(page.get_by_test_id("user-name")).to_have_text("Ada L.")

    await web.run(edit())
    me = (await web.api.http.get("/api/v10/users/@me", headers=ada.auth)).json()
    assert (me["global_name"], me["username"]) == ("Ada L.", f"{ada.username}_2")
    assert page_errors(page) == []


async def test_the_join_dialog_takes_a_pasted_link_or_code(web: Web) -> None:
    ada, bob = await web.api.register(), await web.api.register()
    guild = await web.api.http.post("/api/v10/guilds", headers=ada.auth, json={"name": "Nook"})
    guild_id = guild.json()["id"]
    channels = await web.api.http.get(f"/api/v10/guilds/{guild_id}/channels", headers=ada.auth)
    text = next(c for c in channels.json() if c["type"] == 0)
    invite = await web.api.http.post(
        f"/api/v10/channels/{text['id']}/invites", headers=ada.auth, json={}
    )
    code = invite.json()["code"]
    page = await signed_in(web, bob)

    async def join() -> None:
        await page.get_by_test_id("join-guild").click()
        field = page.get_by_test_id("invite-input")
        await field.fill("not a link!")
        await page.get_by_test_id("join-guild-continue").click()
        await expect(page.get_by_test_id("toast-error")).to_contain_text("invite link")
        await field.fill(f"https://example.test/app/invite/{code}/")
        await page.get_by_test_id("join-guild-continue").click()
        await expect(page.get_by_test_id("invite-guild-name")).to_have_text("Nook")
        await page.get_by_test_id("invite-accept").click()
        await expect(page.get_by_test_id("guild-name")).to_have_text("Nook")

    await web.run(join())
    assert f"/app/channels/{guild_id}" in page.url
    assert page_errors(page) == []


KICK_MEMBERS = 1 << 1


def member_row(page: Page, user_id: object) -> Any:
    return page.locator(f'#members [data-testid="member"][data-user-id="{user_id}"]')


async def test_a_kick_the_server_refuses_names_the_permission_it_takes(web: Web) -> None:
    room = await new_room(web.api)  # the owner, and Bob, who is given a role to kick with
    guild_id, bob = room.guild_id, room.member
    cleo, dan = await web.api.register(), await web.api.register()
    keepers = await new_role(
        web.api, room.owner, guild_id, name="Keepers", permissions=str(KICK_MEMBERS)
    )
    given = await web.api.http.put(
        f"/api/v10/guilds/{guild_id}/members/{bob.id}/roles/{keepers['id']}",
        headers=room.owner.auth,
    )
    assert given.status_code == 204, given.text
    await add_member(web.api, guild_id, cleo)
    await add_member(web.api, guild_id, dan, (int(str(keepers["id"])),))
    page = await signed_in(web, bob)

    async def open_kick() -> None:
        await page.goto(f"{web.url}/app/channels/{guild_id}")
        # Dan's highest role is Bob's own: the server would refuse, so no Kick is offered.
        await member_row(page, dan.id).click()
        await expect(page.get_by_test_id("member-message")).to_be_focused()
        await expect(page.get_by_test_id("member-kick")).to_have_count(0)
        await page.keyboard.press("Escape")
        await expect(member_row(page, dan.id)).to_be_focused()
        cleo_row = member_row(page, cleo.id)
        await cleo_row.click()
        await expect(cleo_row).to_have_attribute("aria-expanded", "true")
        await page.get_by_test_id("member-kick").click()
        await expect(page.get_by_test_id("confirm-dialog")).to_be_visible()
        await expect(cleo_row).to_have_attribute("aria-expanded", "false")

    await web.run(open_kick())
    # While Bob reads the question, the owner takes his role away.
    taken = await web.api.http.delete(
        f"/api/v10/guilds/{guild_id}/members/{bob.id}/roles/{keepers['id']}",
        headers=room.owner.auth,
    )
    assert taken.status_code == 204, taken.text

    async def confirm() -> None:
        await page.get_by_test_id("confirm").click()
        await expect(page.get_by_test_id("toast-error").last).to_contain_text(
            "You need the Kick Members permission for that."
        )
        # The keyboard is back on Cleo's row (the list re-drew it when Bob's roles changed).
        await expect(member_row(page, cleo.id)).to_be_focused()

    await web.run(confirm())
    still = await web.api.http.get(
        f"/api/v10/guilds/{guild_id}/members/{cleo.id}", headers=room.owner.auth
    )
    assert still.status_code == 200, still.text
    assert page_errors(page) == []


async def test_a_quick_switch_of_guild_never_shows_the_first_ones_members(web: Web) -> None:
    ada, bob, cleo = await web.api.register(), await web.api.register(), await web.api.register()
    alpha = str((await new_guild(web.api, ada, "Alpha"))["id"])
    beta = str((await new_guild(web.api, ada, "Beta"))["id"])
    await add_member(web.api, alpha, bob)
    await add_member(web.api, beta, cleo)
    ghost = {"user": {"id": "4242424242", "username": "ghost_of_alpha"}, "roles": []}
    page = await signed_in(web, ada)

    async def switch() -> None:
        # Alpha's member list answers only once Beta is on screen (a slow server), and with
        # one more member than its gateway knew.
        held = asyncio.Event()
        release = asyncio.Event()

        async def hold(route: Route) -> None:
            if held.is_set():
                await route.continue_()
                return
            held.set()
            await release.wait()
            response = await route.fetch()
            await route.fulfill(response=response, json=[*await response.json(), ghost])

        await page.route(re.compile(rf"/api/v10/guilds/{alpha}/members\?"), hold)
        await page.evaluate("async () => { window.testStore = await import('/app/store.js'); }")
        await page.locator(f'[data-testid="rail-guild"][data-guild-id="{alpha}"]').click()
        await held.wait()
        await page.locator(f'[data-testid="rail-guild"][data-guild-id="{beta}"]').click()
        await expect(member_row(page, cleo.id)).to_be_visible()
        release.set()
        # Once the store holds the answer, its draw (a microtask later) has happened too.
        await page.wait_for_function(
            f"() => window.testStore.state.guilds.get('{alpha}')?.members.has('4242424242')"
        )
        rows = page.locator('#members [data-testid="member"]')
        await expect(rows).to_have_count(2)
        assert set(await rows.evaluate_all("rows => rows.map((r) => r.dataset.userId)")) == {
            str(ada.id),
            str(cleo.id),
        }

        # A member menu open when the route changes (Back) goes with the view it came from.
        await member_row(page, cleo.id).click()
        await expect(page.get_by_role("menu")).to_be_visible()
        await page.go_back()
        await expect(page.get_by_test_id("guild-name")).to_have_text("Alpha")
        await expect(page.get_by_role("menu")).to_have_count(0)
        await expect(member_row(page, bob.id)).to_be_visible()

    await web.run(switch())
    assert page_errors(page) == []
