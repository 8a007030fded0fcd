"""Friends and DMs in the browser: a friend request by username accepted on the pending tab and
seen live on the other side, a DM opened from the member list whose message reaches the other
person, and a block."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playwright.async_api import expect

from tests.web.test_community import WAIT_MS, page_errors, signed_in

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tests.running import Person
    from tests.web.browser import Web

FRIEND, BLOCKED, INCOMING, OUTGOING = 1, 2, 3, 4


async def shared_guild(web: Web, owner: Person, *others: Person) -> str:
    """A guild of `owner` that `others` joined by invite, behind the wire; its id."""
    guild = await web.api.http.post("/api/v10/guilds", headers=owner.auth, json={"name": "Hall"})
    assert guild.status_code == 201, guild.text
    guild_id: str = guild.json()["id"]
    channels = await web.api.http.get(f"/api/v10/guilds/{guild_id}/channels", headers=owner.auth)
    text = next(c for c in channels.json() if c["type"] == 0)
    invite = await web.api.http.post(
        f"/api/v10/channels/{text['id']}/invites", headers=owner.auth, json={}
    )
    for person in others:
        joined = await web.api.http.post(
            f"/api/v10/invites/{invite.json()['code']}", headers=person.auth
        )
        assert joined.status_code == 200, joined.text
    return guild_id


async def relationships(web: Web, person: Person) -> dict[str, int]:
    found = await web.api.http.get("/api/v10/users/@me/relationships", headers=person.auth)
    listed: list[dict[str, Any]] = found.json()
    return {r["id"]: r["type"] for r in listed}


def friend(page: Page, person: Person) -> Any:
    return page.locator(f'[data-testid="friend"][data-user-id="{person.id}"]')


async def test_a_friend_request_by_username_is_accepted_on_the_pending_tab(web: Web) -> None:
    ada, bob = await web.api.register(), await web.api.register()
    await shared_guild(web, ada, bob)
    page_a = await signed_in(web, ada)
    page_b = await signed_in(web, bob)

    async def send_request() -> None:
        await page_a.get_by_test_id("friends-tab-add").click()
        await page_a.get_by_test_id("add-friend-username").fill(bob.username.upper())
        await page_a.get_by_test_id("add-friend-send").click()
        await expect(page_a.locator("#add-friend-result")).to_contain_text("Friend request sent")
        await page_a.get_by_test_id("friends-tab-pending").click()
        await expect(friend(page_a, bob)).to_have_attribute("data-type", str(OUTGOING))

    await web.run(send_request())
    assert await relationships(web, bob) == {str(ada.id): INCOMING}

    async def accept() -> None:
        await page_b.get_by_test_id("friends-tab-pending").click()
        await expect(friend(page_b, ada)).to_have_attribute(
            "data-type", str(INCOMING), timeout=WAIT_MS
        )
        await friend(page_b, ada).get_by_test_id("friend-accept").click()
        await page_b.get_by_test_id("friends-tab-all").click()
        await expect(friend(page_b, ada)).to_have_attribute("data-type", str(FRIEND))

    await web.run(accept())
    assert await relationships(web, ada) == {str(bob.id): FRIEND}
    # Ada's list catches up: the server sends no relationship dispatches, the client re-reads.
    await web.run(page_a.get_by_test_id("friends-tab-all").click())
    await web.run(
        expect(friend(page_a, bob)).to_have_attribute("data-type", str(FRIEND), timeout=WAIT_MS)
    )
    assert page_errors(page_a) == []
    assert page_errors(page_b) == []


async def test_a_request_to_a_stranger_arrives_live_and_an_unknown_name_is_refused(
    web: Web,
) -> None:
    """Usernames are unique, so a person needs no shared guild to be asked; the request shows
    on the other side's open Friends page at once (RELATIONSHIP_ADD), with no reload."""
    ada, stranger = await web.api.register(), await web.api.register()
    page_a = await signed_in(web, ada)
    page_s = await signed_in(web, stranger)

    async def send_requests() -> None:
        await expect(page_s.get_by_test_id("friends")).to_be_visible()
        await page_s.get_by_test_id("friends-tab-pending").click()
        await page_a.get_by_test_id("friends-tab-add").click()
        await page_a.get_by_test_id("add-friend-username").fill("no_such_person_here")
        await page_a.get_by_test_id("add-friend-send").click()
        await expect(page_a.locator("#add-friend-result")).to_contain_text("username")
        await page_a.get_by_test_id("add-friend-username").fill(stranger.username)
        await page_a.get_by_test_id("add-friend-send").click()
        await expect(page_a.locator("#add-friend-result")).to_contain_text("Friend request sent")
        await expect(friend(page_s, ada)).to_have_attribute(
            "data-type", str(INCOMING), timeout=WAIT_MS
        )

    await web.run(send_requests())
    assert await relationships(web, ada) == {str(stranger.id): OUTGOING}


async def test_a_dm_opened_from_the_member_list_reaches_the_other_and_a_block(web: Web) -> None:
    ada, bob, cleo = await web.api.register(), await web.api.register(), await web.api.register()
    guild_id = await shared_guild(web, ada, bob, cleo)
    page_a = await signed_in(web, ada)
    page_b = await signed_in(web, bob)
    await web.run(expect(page_b.get_by_test_id("friends")).to_be_visible())

    async def message_bob() -> str:
        await page_a.goto(f"{web.url}/app/channels/{guild_id}")
        await page_a.locator(f'[data-testid="member"][data-user-id="{bob.id}"]').click()
        await page_a.get_by_test_id("member-message").click()
        await page_a.wait_for_url("**/app/channels/@me/*")
        await page_a.get_by_test_id("composer-input").fill("hello from a DM")
        await page_a.keyboard.press("Enter")
        await expect(page_a.get_by_test_id("message-log")).to_contain_text("hello from a DM")
        return page_a.url.rsplit("/", 1)[1]

    dm_id = await web.run(message_bob())
    # Bob's DM list shows the conversation live, and it holds Ada's message.
    dm_in_b = page_b.locator(f'[data-testid="dm-item"][data-channel-id="{dm_id}"]')
    await web.run(expect(dm_in_b).to_have_count(1, timeout=WAIT_MS))
    await web.run(dm_in_b.click())
    await web.run(
        expect(page_b.get_by_test_id("message-log")).to_contain_text(
            "hello from a DM", timeout=WAIT_MS
        )
    )

    async def block_cleo() -> None:
        await page_a.goto(f"{web.url}/app/channels/{guild_id}")
        await page_a.locator(f'[data-testid="member"][data-user-id="{cleo.id}"]').click()
        await page_a.get_by_test_id("member-block").click()
        await expect(page_a.get_by_test_id("toast-info")).to_contain_text("blocked")

    await web.run(block_cleo())
    assert await relationships(web, ada) == {str(cleo.id): BLOCKED}
    # Cleo can no longer open a DM with Ada.
    refused = await web.api.http.post(
        "/api/v10/users/@me/channels", headers=cleo.auth, json={"recipient_id": str(ada.id)}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, 50007)

    async def unblock() -> None:
        await page_a.get_by_test_id("rail-home").click()
        await page_a.get_by_test_id("friends-tab-blocked").click()
        await friend(page_a, cleo).get_by_test_id("friend-unblock").click()
        await expect(friend(page_a, cleo)).to_have_count(0)

    await web.run(unblock())
    assert await relationships(web, ada) == {}
    assert page_errors(page_a) == []
    assert page_errors(page_b) == []
