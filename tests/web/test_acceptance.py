"""Issue 21's acceptance story, end to end and through the page alone: two people register in
two browser contexts, one creates a guild and an invite, the other joins by the link, and they
talk: messages appear live both ways, a reply, a reaction, an edit, a delete and an image
with its preview. (Each step's finer behaviour has its own test beside this one.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.async_api import expect

from tests.web.test_accounts import sign_up
from tests.web.test_chat import log_ready, message_with, page_errors, send, tiny_png, watch
from tests.web.test_community import accept_invite, create_guild, make_invite

if TYPE_CHECKING:
    from pathlib import Path

    from tests.web.browser import Web

WAIT_MS = 15_000


async def test_two_people_register_meet_by_invite_link_and_talk(web: Web, tmp_path: Path) -> None:
    ada = await web.new_page()
    bob = await web.new_page()
    for page in (ada, bob):
        await web.run(watch(page))
    image = tmp_path / "tea.png"
    tiny_png(image, width=4, height=3)

    async def story() -> None:
        await sign_up(ada, web.url, "ada_story")
        await sign_up(bob, web.url, "bob_story")
        await create_guild(ada, "Story Club")
        link = await make_invite(ada)
        await accept_invite(bob, link, "Story Club")
        await bob.get_by_test_id("channel-link").first.click()
        for page in (ada, bob):
            await log_ready(page)

        # Live both ways.
        await send(ada, "Welcome, Bob!")
        await expect(message_with(bob, "Welcome, Bob!")).to_have_count(1, timeout=WAIT_MS)
        await send(bob, "Thanks, Ada")
        await expect(message_with(ada, "Thanks, Ada")).to_have_count(1, timeout=WAIT_MS)

        # Bob replies to the welcome; Ada sees the reply's reference.
        welcome = message_with(bob, "Welcome, Bob!")
        welcome_id = await welcome.get_attribute("data-message-id")
        await welcome.hover()
        await welcome.get_by_test_id("reply-button").click()
        await send(bob, "Glad to be here")
        reply = message_with(ada, "Glad to be here")
        await expect(reply.locator("[data-jump-to]")).to_contain_text(
            "Welcome, Bob!", timeout=WAIT_MS
        )

        # Ada reacts to Bob's thanks; Bob sees the count.
        thanks = message_with(ada, "Thanks, Ada")
        await thanks.hover()
        await thanks.get_by_test_id("react-button").click()
        await ada.get_by_test_id("emoji-picker").get_by_role("menuitem").first.click()
        await expect(message_with(bob, "Thanks, Ada").locator(".reaction-count")).to_have_text(
            "1", timeout=WAIT_MS
        )

        # Ada edits her welcome; Bob sees the new text, marked edited.
        # (By id: Bob's reply quotes the same words.)
        mine = ada.locator(f'[data-message-id="{welcome_id}"]')
        await mine.hover()
        await mine.get_by_test_id("edit-button").click()
        editor = ada.get_by_test_id("edit-input")
        await editor.fill("Welcome to the club, Bob!")
        await editor.press("Enter")
        edited = bob.locator(f'[data-message-id="{welcome_id}"]')
        await expect(edited.locator(".message-content")).to_contain_text(
            "Welcome to the club, Bob!", timeout=WAIT_MS
        )
        await expect(edited.locator(".edited")).to_have_text("(edited)")

        # Bob deletes his thanks; it leaves Ada's window.
        his = message_with(bob, "Thanks, Ada")
        await his.hover()
        await his.get_by_test_id("delete-button").click()
        await bob.get_by_test_id("confirm-delete").click()
        await expect(message_with(ada, "Thanks, Ada")).to_have_count(0, timeout=WAIT_MS)

        # Ada uploads an image; both see its preview load.
        await ada.get_by_test_id("file-input").set_input_files(str(image))
        box = ada.get_by_test_id("composer-input")
        await box.fill("our tea")
        await box.press("Enter")
        for page in (ada, bob):
            preview = message_with(page, "our tea").locator("img.attachment-image")
            await expect(preview).to_have_count(1, timeout=WAIT_MS)
            await page.wait_for_function(
                "el => el.complete && el.naturalWidth === 4", arg=await preview.element_handle()
            )

    await web.run(story(), timeout_s=120)
    assert page_errors(ada) == []
    assert page_errors(bob) == []
