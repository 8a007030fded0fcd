"""The message window's races, made deterministic by holding the page's requests: a page of
history that lands after the window was replaced (a jump to the present) is dropped, not
spliced in; and a message created while a page is on its way (answered by the server before
the message existed) still shows, exactly once."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

from playwright.async_api import expect

from core.snowflakes import DISCORD_EPOCH_MS
from tests.web.test_chat import WAIT_MS, guild_with, log_ready, message_with, open_channel, watch

if TYPE_CHECKING:
    from playwright.async_api import Page, Route

    from tests.running import Person
    from tests.web.browser import Web

LOG = "[data-testid=message-log]"
IDS = (
    f"() => [...document.querySelectorAll('{LOG} [data-message-id]')].map(e => e.dataset.messageId)"
)
# The page's own store (the same module instance the client uses): the live creates it hears.
HEAR = """(id) => import('/app/store.js').then((store) => {
  window.heard = [];
  store.subscribe(`channel:${id}`, (e) => e.kind === 'create' && window.heard.push(e.message.content));
})"""
# Records each response body the page reads (api.js reads them with text()): once a URL is
# in window.read, the client's code awaiting that body has run (its microtasks come before
# the next frame, when wait_for_function looks again).
READS = """() => {
  const text = Response.prototype.text;
  window.read = [];
  Response.prototype.text = async function () {
    const body = await text.call(this);
    window.read.push(this.url);
    return body;
  };
}"""


async def seed(
    web: Web, author: Person, guild_id: str, channel_id: str, count: int, filler: str = ""
) -> list[str]:
    """`count` messages "history message 1" … (each followed by `filler`) a second apart,
    ending an hour ago, inserted behind the wire; their ids, oldest first."""
    start_ms = int(time.time() * 1000) - 3_600_000 - count * 1000 - DISCORD_EPOCH_MS

    def insert(connection: Any) -> None:
        connection.execute(
            "INSERT INTO messages (id, channel_id, guild_id, author_id, content)"
            " SELECT (%s + g * 1000) << 22, %s, %s, %s, 'history message ' || g || %s"
            " FROM generate_series(1, %s) AS g",
            (start_ms, int(channel_id), int(guild_id), author.id, filler, count),
        )

    await web.api.services.db.run(insert)
    return [str((start_ms + g * 1000) << 22) for g in range(1, count + 1)]


async def post(web: Web, person: Person, channel_id: str, content: str, **extra: Any) -> str:
    sent = await web.api.http.post(
        f"/api/v10/channels/{channel_id}/messages",
        headers=person.auth,
        json={"content": content, **extra},
    )
    assert sent.status_code == 200, sent.text
    message_id: str = sent.json()["id"]
    return message_id


class Hold:
    """Holds the page's requests that `wanted(url)` picks (the first one only): `asked` is set
    once it is made (and, with answer_first, the server has answered it); it goes on (or its
    answer is delivered) when `release` is set. Lives on the browser's loop."""

    def __init__(self, wanted: Any, *, answer_first: bool) -> None:
        self.wanted = wanted
        self.answer_first = answer_first
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.url = ""

    async def __call__(self, route: Route) -> None:
        if self.url or not self.wanted(route.request.url):
            await route.continue_()
            return
        self.url = route.request.url
        if self.answer_first:
            response = await route.fetch()
            self.asked.set()
            await self.release.wait()
            await route.fulfill(response=response)
        else:
            self.asked.set()
            await self.release.wait()
            await route.continue_()


async def install(page: Page, hold: Hold) -> Hold:
    await page.route(re.compile(r"/messages\?"), hold)
    return hold


def query(url: str, name: str) -> str | None:
    found = re.search(rf"[?&]{name}=(\d+)", url)
    return found.group(1) if found else None


async def test_an_older_page_landing_after_jumping_to_the_present_is_dropped(web: Web) -> None:
    ada = await web.api.register("ada_window_a")
    guild_id, channel_id = await guild_with(web, ada)
    ids = await seed(web, ada, guild_id, channel_id, 600)
    middle = ids[299]
    reply = await post(
        web, ada, channel_id, "about the 300th", message_reference={"message_id": middle}
    )
    history = [*ids, reply]
    page = await open_channel(web, ada, guild_id, channel_id)

    # Only an older page of the window around the 300th (not of the newest page) is held.
    def older_than_middle(url: str) -> bool:
        before = query(url, "before")
        return before is not None and int(before) <= int(middle)

    hold = await web.run(install(page, Hold(older_than_middle, answer_first=False)))

    async def scenario() -> list[str]:
        await page.evaluate(READS)
        await page.locator(f'[data-jump-to="{middle}"]').click()
        await expect(page.locator(f'[data-message-id="{middle}"]')).to_be_visible()
        await page.evaluate("() => { document.querySelector('.messages-scroller').scrollTop = 0; }")
        await asyncio.wait_for(hold.asked.wait(), WAIT_MS / 1000)
        # The older page is on its way: back to the present.
        await page.get_by_test_id("jump-present").click()
        await expect(page.locator(LOG)).to_have_attribute("data-has-newer", "false")
        await expect(page.locator("[data-message-id]").last).to_have_attribute(
            "data-message-id", reply
        )
        # Now the older page lands, and the client reads it.
        hold.release.set()
        await page.wait_for_function("(url) => window.read.includes(url)", arg=hold.url)
        shown: list[str] = await page.evaluate(IDS)
        return shown

    shown = await web.run(scenario())
    # The newest messages, contiguous and in order: no hole, nothing from the old window.
    assert len(shown) >= 50
    assert shown == history[-len(shown) :]


async def test_a_message_sent_while_the_first_page_is_on_its_way_shows_once(web: Web) -> None:
    ada = await web.api.register("ada_window_b")
    bea = await web.api.register("bea_window_b")
    guild_id, channel_id = await guild_with(web, ada, bea)
    await seed(web, ada, guild_id, channel_id, 20)
    context = await web.signed_in_context(ada)
    page = await web.run(context.new_page())
    await web.run(watch(page))

    # The newest page: the server answers it at once, the page gets the answer later.
    def first_page(url: str) -> bool:
        return f"/channels/{channel_id}/messages?" in url and query(url, "before") is None

    hold = await web.run(install(page, Hold(first_page, answer_first=True)))

    async def open_held() -> None:
        await page.goto(f"{web.url}/app/channels/{guild_id}/{channel_id}")
        await asyncio.wait_for(hold.asked.wait(), WAIT_MS / 1000)
        await page.wait_for_function(
            "() => document.documentElement.dataset.connection === 'connected'"
        )
        await page.evaluate(HEAR, channel_id)

    await web.run(open_held())
    await post(web, bea, channel_id, "said meanwhile")

    async def land() -> None:
        await page.wait_for_function("() => window.heard.includes('said meanwhile')")
        hold.release.set()
        await log_ready(page)
        await expect(message_with(page, "said meanwhile")).to_have_count(1)
        await expect(page.locator("[data-message-id]").last).to_contain_text("said meanwhile")

    await web.run(land())


async def test_a_message_sent_while_viewing_old_history_is_not_lost(web: Web) -> None:
    ada = await web.api.register("ada_window_c")
    bea = await web.api.register("bea_window_c")
    guild_id, channel_id = await guild_with(web, ada, bea)
    # Tall messages: the newest page fills the screen many times over, so the window starts
    # as that page alone (no older one is fetched), the 100th outside it.
    ids = await seed(web, ada, guild_id, channel_id, 200, filler=" and so on" * 60)
    hundredth = ids[99]
    await post(web, ada, channel_id, "about the 100th", message_reference={"message_id": hundredth})
    page = await open_channel(web, ada, guild_id, channel_id)
    # The window around the 100th ends at the 150th; the page after it reaches the present:
    # answered by the server, then held.
    hold = await web.run(
        install(page, Hold(lambda url: query(url, "after") is not None, answer_first=True))
    )

    async def jump_back() -> None:
        await page.evaluate(HEAR, channel_id)
        await page.locator(f'[data-jump-to="{hundredth}"]').click()
        await expect(page.locator(f'[data-message-id="{hundredth}"]')).to_be_visible()
        await expect(page.locator(LOG)).to_have_attribute("data-has-newer", "true")
        await page.evaluate(
            "() => { const s = document.querySelector('.messages-scroller'); s.scrollTop = s.scrollHeight; }"
        )
        await asyncio.wait_for(hold.asked.wait(), WAIT_MS / 1000)

    await web.run(jump_back())
    await post(web, bea, channel_id, "while you were away")

    async def come_back() -> None:
        await page.wait_for_function("() => window.heard.includes('while you were away')")
        hold.release.set()
        await expect(page.locator(LOG)).to_have_attribute("data-has-newer", "false")
        await page.get_by_test_id("jump-present").evaluate("(button) => button.click()")
        await expect(message_with(page, "while you were away")).to_have_count(1)
        await expect(page.locator("[data-message-id]").last).to_contain_text("while you were away")
        shown: list[str] = await page.evaluate(IDS)
        assert shown == sorted(shown, key=int)

    await web.run(come_back())


# Every node added anywhere in the log (the live region) from now on: "article" for a message.
WATCH_ADDED = """(log) => {
  window.added = [];
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) {
      window.added.push(node.nodeType === 1 && node.matches('article') ? 'article' : node.nodeName);
    }
  }).observe(log, {childList: true, subtree: true});
}"""


async def test_changes_update_a_message_in_place_and_popovers_go_with_the_view(web: Web) -> None:
    ada = await web.api.register("ada_window_d")
    bea = await web.api.register("bea_window_d")
    guild_id, channel_id = await guild_with(web, ada, bea)
    message_id = await post(web, bea, channel_id, "react to me")
    page = await open_channel(web, ada, guild_id, channel_id)
    shown = page.locator(f'[data-message-id="{message_id}"]')

    async def watch_log() -> None:
        # The composer is an ARIA 1.2 combobox controlling its suggestions' listbox.
        box = page.get_by_role("combobox")
        listbox = await box.get_attribute("aria-controls")
        assert listbox
        assert await page.locator(f"#{listbox}").get_attribute("role") == "listbox"
        await shown.evaluate("(el) => { window.shownBefore = el; }")
        await page.locator(LOG).evaluate(WATCH_ADDED)

    await web.run(watch_log())
    # Bea reacts and edits: the log's element for the message is the same one, updated.
    base = f"/api/v10/channels/{channel_id}/messages/{message_id}"
    reacted = await web.api.http.put(f"{base}/reactions/%F0%9F%91%8D/@me", headers=bea.auth)
    assert reacted.status_code == 204, reacted.text
    edited = await web.api.http.patch(
        base, headers=bea.auth, json={"content": "react to me, edited"}
    )
    assert edited.status_code == 200, edited.text

    async def in_place() -> tuple[bool, list[str]]:
        await expect(shown.locator(".reaction")).to_have_count(1)
        await expect(shown.locator(".message-content")).to_contain_text("edited")
        same: bool = await shown.evaluate("(el) => el === window.shownBefore")
        added: list[str] = await page.evaluate("() => window.added")
        return same, added

    same, added = await web.run(in_place())
    assert same
    assert "article" not in added, added

    async def popovers() -> None:
        picker = page.get_by_test_id("emoji-picker")
        # Tab leaves the picker: it closes, and the focus goes on from its button.
        await shown.hover()
        await shown.get_by_test_id("react-button").click()
        await expect(picker).to_be_visible()
        await page.keyboard.press("Tab")
        await expect(picker).to_have_count(0)
        inside = (
            "(id) => document.activeElement?.closest('[data-message-id]')?.dataset.messageId === id"
        )
        assert await page.evaluate(inside, message_id)
        # A route change closes the picker (it is on <body>, outside the view)…
        go = "(to) => document.dispatchEvent(new CustomEvent('app-navigate', {detail: to}))"
        await shown.hover()
        await shown.get_by_test_id("react-button").click()
        await expect(picker).to_be_visible()
        await page.evaluate(go, "/app/channels/@me")
        await expect(picker).to_have_count(0)
        # …and the pins popover, with the view that opened it: back there, the pin button
        # (pressed from the keyboard: no pointerdown elsewhere) opens a fresh one, rather than
        # closing the old view's.
        pins = page.get_by_test_id("pins-popover")
        for _ in range(2):
            await page.evaluate(go, f"/app/channels/{guild_id}/{channel_id}")
            await page.get_by_test_id("pins-button").focus()
            await page.keyboard.press("Enter")
            await expect(pins).to_be_visible()
            await page.evaluate(go, "/app/channels/@me")
            await expect(pins).to_have_count(0)

    await web.run(popovers())


# The window itself, in the page: viewing old history (hasNewer), an ephemeral answer comes
# (no page of history ever brings it back); then the newest page is loaded.
EPHEMERAL = """async ([channelId, first]) => {
  const { MessageWindow } = await import('/app/message_window.js');
  const win = new MessageWindow(channelId);
  win.items = [first];
  win.hasNewer = true;
  const id = String((BigInt(Date.now() - 1420070400000) << 22n) + 1n);
  const answer = {id, channel_id: channelId, flags: 64, content: 'only for you',
                  author: first.author, timestamp: new Date().toISOString()};
  const insertedAtOnce = win.insert(answer, true);
  const apply = await win.latest();
  apply();
  return {insertedAtOnce, contents: win.items.map((m) => m.content), hasNewer: win.hasNewer};
}"""


async def test_an_ephemeral_answer_while_viewing_old_history_shows_at_the_present(
    web: Web,
) -> None:
    ada = await web.api.register("ada_window_e")
    guild_id, channel_id = await guild_with(web, ada)
    for n in range(3):
        await post(web, ada, channel_id, f"said {n}")
    page = await open_channel(web, ada, guild_id, channel_id)
    listed = await web.api.http.get(
        f"/api/v10/channels/{channel_id}/messages",
        params={"limit": "1", "after": "0"},
        headers=ada.auth,
    )
    first = listed.json()[0]
    seen = await web.run(page.evaluate(EPHEMERAL, [channel_id, first]))
    assert seen["insertedAtOnce"] is False  # beyond the window then
    assert seen["hasNewer"] is False
    assert seen["contents"] == ["said 0", "said 1", "said 2", "only for you"]
