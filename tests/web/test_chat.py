"""Two people chatting in one channel, each in a browser of their own: what one does (send,
reply, edit, delete, react, upload an image) shows live in the other's window."""

from __future__ import annotations

import re
import struct
import weakref
import zlib
from typing import TYPE_CHECKING, Any

from playwright.async_api import expect

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import Locator, Page

    from tests.running import Person
    from tests.web.browser import Web

WAIT_MS = 15_000
# A message's toolbar, in order.
TOOLS = ["react-button", "reply-button", "edit-button", "pin-button", "delete-button"]


async def guild_with(web: Web, owner: Person, *others: Person) -> tuple[str, str]:
    """A guild of `owner` that `others` joined by invite, behind the wire: (guild, channel)."""
    http = web.api.http
    guild = await http.post("/api/v10/guilds", headers=owner.auth, json={"name": "Parlour"})
    assert guild.status_code == 201, guild.text
    guild_id: str = guild.json()["id"]
    channels = await http.get(f"/api/v10/guilds/{guild_id}/channels", headers=owner.auth)
    channel_id: str = next(c["id"] for c in channels.json() if c["type"] == 0)
    invite = await http.post(f"/api/v10/channels/{channel_id}/invites", headers=owner.auth, json={})
    for person in others:
        joined = await http.post(f"/api/v10/invites/{invite.json()['code']}", headers=person.auth)
        assert joined.status_code == 200, joined.text
    return guild_id, channel_id


async def open_channel(web: Web, person: Person, guild_id: str, channel_id: str) -> Page:
    """A fresh context holding `person`'s session (the design's localStorage entry, written
    before the client loads), at the channel, once its log has loaded."""
    context = await web.signed_in_context(person)
    page = await web.run(context.new_page())
    await web.run(watch(page))
    await web.run(page.goto(f"{web.url}/app/channels/{guild_id}/{channel_id}"))
    await web.run(log_ready(page))
    return page


# Each watched page's uncaught errors and dialogs (an alert() is a failure here).
_ERRORS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


async def watch(page: Page) -> None:
    """Records the page's uncaught errors and any dialog it opens (alert, confirm). Run on
    the browser's loop (web.run): subscribing to dialogs talks to the browser, and Playwright's
    connection is not to be used from another thread."""
    errors = _ERRORS.setdefault(page, [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))


def page_errors(page: Page) -> list[str]:
    return _ERRORS.get(page, [])


async def log_ready(page: Page) -> None:
    """The channel's first page of history is in (the log knows whether older ones exist) and
    the gateway is connected (so what others do from now on arrives)."""
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=message-log][data-has-older]')"
    )
    await expect(page.get_by_test_id("composer-input")).to_be_enabled(timeout=WAIT_MS)
    await page.wait_for_function(
        "() => document.documentElement.dataset.connection === 'connected'"
    )


def message_with(page: Page, text: str) -> Locator:
    return page.locator("[data-message-id]").filter(has_text=text)


async def send(page: Page, text: str, shown: str | None = None) -> None:
    """Types and sends `text`; waits until it shows (as `shown`, once markdown is rendered)."""
    box = page.get_by_test_id("composer-input")
    await box.fill(text)
    await box.press("Enter")
    await expect(message_with(page, shown or text)).to_have_count(1, timeout=WAIT_MS)


def tiny_png(path: Path, width: int = 3, height: int = 2) -> None:
    """A real PNG (red pixels), written byte by byte."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def sign_in_by_form(web: Web, person: Person, guild_id: str, channel_id: str) -> Page:
    """The sign-in form, once: the person types their name and password."""
    page = await web.new_page()
    await web.run(watch(page))
    await web.run(page.goto(f"{web.url}/app/login"))
    await web.run(page.get_by_test_id("login-login").fill(person.username))
    await web.run(page.get_by_test_id("login-password").fill(person.password))
    await web.run(page.get_by_test_id("login-submit").click())
    await web.run(page.get_by_test_id("rail-home").wait_for())
    await web.run(page.goto(f"{web.url}/app/channels/{guild_id}/{channel_id}"))
    await web.run(log_ready(page))
    return page


async def test_two_people_chat_reply_edit_delete_and_react(web: Web) -> None:
    ada, bob = await web.api.register("ada_chat"), await web.api.register("bob_chat")
    guild_id, channel_id = await guild_with(web, ada, bob)
    page_a = await sign_in_by_form(web, ada, guild_id, channel_id)
    page_b = await open_channel(web, bob, guild_id, channel_id)

    async def conversation() -> None:
        # Ada sends; Bob sees it live, once (the optimistic copy became the real one for Ada).
        await send(page_a, "Hello **Bob**", "Hello Bob")
        first = message_with(page_b, "Hello Bob")
        await expect(first).to_have_count(1, timeout=WAIT_MS)
        await expect(first.locator("strong")).to_have_text("Bob")
        await expect(page_a.locator("[data-nonce]")).to_have_count(0)
        first_id = await first.get_attribute("data-message-id")
        assert first_id
        assert first_id.isdigit()

        # Bob replies; Ada sees the reply with its reference and jumps to the original.
        await first.hover()
        await first.get_by_test_id("reply-button").click()
        await expect(page_b.get_by_test_id("reply-bar")).to_contain_text("ada_chat")
        await send(page_b, "Hi Ada, replying")
        reply = message_with(page_a, "Hi Ada, replying")
        await expect(reply).to_have_count(1, timeout=WAIT_MS)
        # Ada owns the guild: she may delete and pin Bob's message, not edit it; Bob may do
        # none of that to hers.
        assert [await reply.get_by_test_id(t).count() for t in TOOLS] == [1, 1, 0, 1, 1]
        theirs_seen_by_bob = message_with(page_b, "Hello Bob")
        assert [await theirs_seen_by_bob.get_by_test_id(t).count() for t in TOOLS] == [
            1,
            1,
            0,
            0,
            0,
        ]
        reference = reply.locator(f'[data-jump-to="{first_id}"]')
        await expect(reference).to_contain_text("Hello **Bob**")
        await reference.click()
        original = page_a.locator(f'[data-message-id="{first_id}"]')
        await expect(original).to_have_class("message highlight", timeout=WAIT_MS)
        await expect(original).to_be_in_viewport()

        # Ada edits her last message with the Up arrow; Bob sees the new text and (edited).
        box = page_a.get_by_test_id("composer-input")
        await box.click()
        await box.press("ArrowUp")
        editor = page_a.get_by_test_id("edit-input")
        await expect(editor).to_have_value("Hello **Bob**")
        await editor.fill("Hello again Bob")
        await editor.press("Enter")
        edited = page_b.locator(f'[data-message-id="{first_id}"]')
        await expect(edited.locator(".message-content")).to_contain_text(
            "Hello again Bob", timeout=WAIT_MS
        )
        await expect(edited.locator(".edited")).to_have_text("(edited)")
        # …and so does the quote of it in his reply.
        await expect(page_b.locator(f'[data-jump-to="{first_id}"]')).to_contain_text(
            "Hello again Bob"
        )

        # Reactions: Bob adds one through the picker, Ada sees it and adds hers to it.
        await edited.hover()
        await edited.get_by_test_id("react-button").click()
        await page_b.get_by_test_id("emoji-picker").get_by_role("menuitem").first.click()
        seen = page_a.locator(f'[data-message-id="{first_id}"] .reaction')
        await expect(seen).to_have_count(1, timeout=WAIT_MS)
        await expect(seen.locator(".reaction-count")).to_have_text("1")
        await expect(seen).to_have_attribute("aria-pressed", "false")
        await seen.click()
        await expect(seen).to_have_attribute("aria-pressed", "true")
        theirs = page_b.locator(f'[data-message-id="{first_id}"] .reaction')
        await expect(theirs.locator(".reaction-count")).to_have_text("2", timeout=WAIT_MS)
        await expect(theirs).to_have_attribute("aria-pressed", "true")
        # Bob takes his back: both see one, Ada's.
        await theirs.click()
        await expect(seen.locator(".reaction-count")).to_have_text("1", timeout=WAIT_MS)
        await expect(theirs).to_have_attribute("aria-pressed", "false")

        # Ada deletes her message (after confirming); it leaves Bob's window, and Bob's reply
        # says its original is gone.
        mine = page_a.locator(f'[data-message-id="{first_id}"]')
        await mine.hover()
        await mine.get_by_test_id("delete-button").click()
        await page_a.get_by_test_id("confirm-delete").click()
        await expect(page_b.locator(f'[data-message-id="{first_id}"]')).to_have_count(
            0, timeout=WAIT_MS
        )
        await expect(page_a.locator(f'[data-message-id="{first_id}"]')).to_have_count(0)
        await expect(message_with(page_b, "Hi Ada, replying")).to_contain_text(
            "Original message was deleted"
        )

    await web.run(conversation())
    stored = await web.api.http.get(f"/api/v10/channels/{channel_id}/messages", headers=ada.auth)
    assert [m["content"] for m in stored.json()] == ["Hi Ada, replying"]
    assert page_errors(page_a) == []
    assert page_errors(page_b) == []


async def test_an_uploaded_image_shows_its_preview_to_both(web: Web, tmp_path: Path) -> None:
    ada, bob = await web.api.register("ada_pics"), await web.api.register("bob_pics")
    guild_id, channel_id = await guild_with(web, ada, bob)
    page_a = await open_channel(web, ada, guild_id, channel_id)
    page_b = await open_channel(web, bob, guild_id, channel_id)
    image = tmp_path / "red dot.png"
    tiny_png(image)

    async def upload() -> Any:
        await page_a.get_by_test_id("file-input").set_input_files(str(image))
        box = page_a.get_by_test_id("composer-input")
        await box.fill("a picture")
        await box.press("Enter")
        loaded = []
        for page in (page_a, page_b):
            img = message_with(page, "a picture").locator("img.attachment-image")
            await expect(img).to_have_count(1, timeout=WAIT_MS)
            await page.wait_for_function(
                "el => el.complete && el.naturalWidth > 0", arg=await img.element_handle()
            )
            loaded.append(await img.evaluate("el => [el.naturalWidth, el.naturalHeight, el.alt]"))
        return loaded

    assert await web.run(upload()) == [[3, 2, "red dot.png"], [3, 2, "red dot.png"]]
    assert page_errors(page_a) == []
    assert page_errors(page_b) == []


async def test_a_file_uploads_with_progress_and_downloads_by_its_link(
    web: Web, tmp_path: Path
) -> None:
    ada, bob = await web.api.register("ada_file"), await web.api.register("bob_file")
    guild_id, channel_id = await guild_with(web, ada, bob)
    page_a = await open_channel(web, ada, guild_id, channel_id)
    page_b = await open_channel(web, bob, guild_id, channel_id)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"minutes of the meeting\n" * 12_000)
    shown_size = f"{notes.stat().st_size / 1024:.1f} KB"  # 269.5 KB

    async def upload() -> tuple[list[float], str, str]:
        # A slow uplink (300 KB/s), so the upload takes a second and shows its progress.
        cdp = await page_a.context.new_cdp_session(page_a)
        await cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 300_000},
        )
        await page_a.get_by_test_id("file-input").set_input_files(str(notes))
        await page_a.get_by_test_id("composer-input").press("Enter")
        bar = page_a.locator("[data-nonce] progress")
        await page_a.wait_for_function(
            "() => { const p = document.querySelector('[data-nonce] progress');"
            " return p && p.value > 0 && p.value < 1; }"
        )
        seen = [float(await bar.get_attribute("value") or 0)]
        link = page_b.locator("[data-message-id] .attachment.file a.file-name")
        await expect(link).to_have_text("notes.txt", timeout=WAIT_MS)
        await expect(page_b.locator(".attachment.file .file-size")).to_have_text(shown_size)
        await expect(page_a.locator("[data-nonce]")).to_have_count(0)
        return (
            seen,
            await link.get_attribute("href") or "",
            await link.get_attribute("download") or "",
        )

    progress, href, download = await web.run(upload())
    assert 0 < progress[0] < 1
    assert download == "notes.txt"
    fetched = await web.api.http.get(href)
    assert fetched.status_code == 200
    assert fetched.content == notes.read_bytes()


async def test_mentions_typing_pins_and_a_failed_send_retried(web: Web) -> None:
    ada, bob = await web.api.register("ada_more"), await web.api.register("bob_more")
    guild_id, channel_id = await guild_with(web, ada, bob)
    page_a = await open_channel(web, ada, guild_id, channel_id)
    page_b = await open_channel(web, bob, guild_id, channel_id)

    async def steps() -> None:
        # Bob starts typing: Ada is told.
        await page_b.get_by_test_id("composer-input").fill("thinking")
        await expect(page_a.get_by_test_id("typing")).to_have_text(
            "bob_more is typing…", timeout=WAIT_MS
        )
        await page_b.get_by_test_id("composer-input").fill("")

        # Ada mentions Bob by picking him from the autocomplete list with the keyboard.
        box = page_a.get_by_test_id("composer-input")
        await box.fill("")
        await box.type("hey @bob")
        options = page_a.get_by_test_id("autocomplete").get_by_role("option")
        await expect(options).to_have_count(1)
        await expect(options).to_have_text("@bob_more")
        await expect(box).to_have_attribute(
            "aria-activedescendant", await options.get_attribute("id") or ""
        )
        await box.press("Enter")
        await expect(box).to_have_value(f"hey <@{bob.id}> ")
        await box.type("look")
        await box.press("Enter")
        seen = message_with(page_b, "look")
        await expect(seen.locator(".mention")).to_have_text("@bob_more", timeout=WAIT_MS)
        await expect(seen).to_have_class(re.compile(r"\bmentioned\b"))

        # Ada pins it; the pins list has it.
        mine = message_with(page_a, "look")
        await mine.hover()
        await mine.get_by_test_id("pin-button").click()
        await expect(mine.get_by_test_id("pin-button")).to_have_attribute("aria-label", "Unpin")
        await page_b.get_by_test_id("pins-button").click()
        await expect(page_b.get_by_test_id("pins-popover").locator(".pin")).to_contain_text("look")

        # Offline, a send fails on the pending message; back online, Retry sends it once.
        await page_a.context.set_offline(True)
        await box.fill("sent twice?")
        await box.press("Enter")
        failed = page_a.locator("[data-nonce]").filter(has_text="sent twice?")
        await expect(failed.locator(".message-error")).to_contain_text("Can't reach the server")
        await page_a.context.set_offline(False)
        await failed.get_by_role("button", name="Retry").click()
        await expect(message_with(page_b, "sent twice?")).to_have_count(1, timeout=WAIT_MS)
        await expect(message_with(page_a, "sent twice?")).to_have_count(1, timeout=WAIT_MS)
        await expect(page_a.locator("[data-nonce]")).to_have_count(0)

        # The keyboard: the log is one tab stop before the composer (its newest message);
        # arrows move between messages, whose actions then show; Escape goes back.
        await page_a.mouse.move(0, 0)  # (a hovered message shows its actions, tabbable)
        await box.focus()
        await page_a.keyboard.press("Shift+Tab")  # the attach button
        await page_a.keyboard.press("Shift+Tab")
        messages = page_a.locator("[data-message-id]")
        await expect(messages.last).to_be_focused()
        await expect(messages.last).to_contain_text("sent twice?")
        await page_a.keyboard.press("ArrowUp")
        await expect(messages.first).to_be_focused()
        await expect(messages.first.get_by_test_id("reply-button")).to_be_visible()
        await page_a.keyboard.press("Escape")
        await expect(box).to_be_focused()

    await web.run(steps())
    stored = await web.api.http.get(f"/api/v10/channels/{channel_id}/messages", headers=ada.auth)
    assert [m["content"] for m in stored.json()].count("sent twice?") == 1
    pins = await web.api.http.get(f"/api/v10/channels/{channel_id}/pins", headers=ada.auth)
    assert [m["content"] for m in pins.json()] == [f"hey <@{bob.id}> look"]


async def test_the_log_follows_new_messages_and_moderators_sweeps(web: Web, tmp_path: Path) -> None:
    """At the bottom, the log stays there as messages arrive (also a tall one, an image that
    loads late); scrolled up, it stays put. Reactions cleared and messages bulk-deleted by a
    moderator leave the page live."""
    ada, bob = await web.api.register("ada_mod"), await web.api.register("bob_mod")
    guild_id, channel_id = await guild_with(web, ada, bob)
    http = web.api.http
    path = f"/api/v10/channels/{channel_id}/messages"
    ids = []
    for n in range(40):
        sent = await http.post(path, headers=bob.auth, json={"content": f"line {n}\n" * 3})
        ids.append(sent.json()["id"])
    for emoji in ("%F0%9F%91%8D", "%F0%9F%8E%89"):  # 👍 🎉
        for person in (ada, bob):
            reacted = await http.put(f"{path}/{ids[-1]}/reactions/{emoji}/@me", headers=person.auth)
            assert reacted.status_code == 204
    page = await open_channel(web, ada, guild_id, channel_id)
    gap = "() => { const s = document.querySelector('.messages-scroller');"
    gap += " return s.scrollHeight - s.scrollTop - s.clientHeight; }"
    last = page.locator(f'[data-message-id="{ids[-1]}"]')

    async def see(locator: Locator, count: int) -> None:
        await expect(locator).to_have_count(count, timeout=WAIT_MS)

    # (Browser steps run on its loop, HTTP calls here: each web.run is one browser step.)
    await web.run(see(last.locator(".reaction"), 2))
    at_bottom = await web.run(page.evaluate(gap))
    await http.post(path, headers=bob.auth, json={"content": "a tall one\n" * 30})
    await web.run(see(message_with(page, "a tall one"), 1))
    await web.run(page.wait_for_function(f"({gap})() < 2"))
    # An image has no size until it loads (the server gives none): the log keeps up with it.
    tall = tmp_path / "tall.png"
    tiny_png(tall, 40, 600)
    posted = await http.post(
        path,
        headers=bob.auth,
        data={"payload_json": '{"content": "a tall picture"}'},
        files={"files[0]": ("tall.png", tall.read_bytes(), "image/png")},
    )
    assert posted.status_code == 200, posted.text
    picture = message_with(page, "a tall picture").locator("img")
    await web.run(see(picture, 1))
    await web.run(
        page.wait_for_function(
            "img => img.complete && img.naturalHeight > 0",
            arg=await web.run(picture.element_handle()),
        )
    )
    await web.run(page.wait_for_function(f"({gap})() < 2"))
    # Scrolled up, a new message does not pull the view down.
    await web.run(
        page.evaluate("() => { document.querySelector('.messages-scroller').scrollTop = 0; }")
    )
    await http.post(path, headers=bob.auth, json={"content": "while away"})
    await web.run(see(message_with(page, "while away"), 1))
    top = await web.run(
        page.evaluate("() => document.querySelector('.messages-scroller').scrollTop")
    )
    # The moderator's sweeps: one emoji's reactions, then all, then a bulk delete.
    await http.delete(f"{path}/{ids[-1]}/reactions/%F0%9F%91%8D", headers=ada.auth)
    await web.run(see(last.locator(".reaction"), 1))
    assert await web.run(last.locator(".reaction").get_attribute("data-emoji")) == "🎉"
    await http.delete(f"{path}/{ids[-1]}/reactions", headers=ada.auth)
    await web.run(see(last.locator(".reaction"), 0))
    swept = await http.post(f"{path}/bulk-delete", headers=ada.auth, json={"messages": ids[-3:]})
    assert swept.status_code == 204, swept.text
    await web.run(see(page.locator("[data-message-id]"), 40 - 3 + 3))
    assert at_bottom < 2
    assert top < 200  # (nothing older to load: the view stayed at the top)
