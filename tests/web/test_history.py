"""A long history in the browser: scrolling back through 5,000 messages to the very first and
down again, with never more than a bounded number of them in the page; and a reply's original,
thousands of messages back, fetched around and shown when its reference is clicked."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from playwright.async_api import expect

from core.snowflakes import DISCORD_EPOCH_MS
from tests.web.test_chat import WAIT_MS, guild_with, open_channel

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tests.running import Person
    from tests.web.browser import Web

COUNT = 5_000
# The client's bound (messages.js MAX_MESSAGES): the page never holds more message elements.
MAX_IN_PAGE = 300


async def seed_history(web: Web, author: Person, guild_id: str, channel_id: str) -> None:
    """COUNT messages "history message 1" … "history message 5000", a second apart and ending
    an hour ago, inserted in one statement behind the wire (ids are snowflakes in order)."""
    start_ms = int(time.time() * 1000) - 3_600_000 - COUNT * 1000 - DISCORD_EPOCH_MS

    def insert(connection: Any) -> None:
        connection.execute(
            "INSERT INTO messages (id, channel_id, guild_id, author_id, content)"
            " SELECT (%s + g * 1000) << 22, %s, %s, %s, 'history message ' || g"
            " FROM generate_series(1, %s) AS g",
            (start_ms, int(channel_id), int(guild_id), author.id, COUNT),
        )

    await web.api.services.db.run(insert)


# What the page holds now; and the most message elements it has ever held since watch_bound.
SNAPSHOT = """() => {
  const log = document.querySelector('[data-testid=message-log]');
  const els = log.querySelectorAll('[data-message-id]');
  const text = (el) => el?.querySelector('.message-content')?.textContent ?? null;
  return {count: els.length, most: window.mostMessages ?? null,
          first: els[0]?.dataset.messageId, last: els[els.length - 1]?.dataset.messageId,
          firstText: text(els[0]), lastText: text(els[els.length - 1]),
          hasOlder: log.dataset.hasOlder, hasNewer: log.dataset.hasNewer};
}"""

WATCH_BOUND = """() => {
  const log = document.querySelector('[data-testid=message-log]');
  const count = () => log.querySelectorAll('[data-message-id]').length;
  window.mostMessages = count();
  new MutationObserver(() => { window.mostMessages = Math.max(window.mostMessages, count()); })
    .observe(log, {childList: true});
}"""


async def scroll_to_end(page: Page, *, up: bool) -> list[dict[str, Any]]:
    """Scrolls to the top (or bottom) and waits for the next page, until there is none; the
    snapshots taken at each step."""
    steps: list[dict[str, Any]] = []
    edge, more = ("first", "hasOlder") if up else ("last", "hasNewer")
    for _ in range(COUNT // 50):
        seen = await page.evaluate(SNAPSHOT)
        steps.append(seen)
        if seen[more] == "false":
            break
        before = await page.evaluate(SCROLL_AND_PLACE, [up, seen[edge]])
        await page.wait_for_function(
            f"""([was, more]) => {{
              const log = document.querySelector('[data-testid=message-log]');
              const els = log.querySelectorAll('[data-message-id]');
              const now = els[{"0" if up else "els.length - 1"}]?.dataset.messageId;
              return now !== was || log.dataset[more] === 'false';
            }}""",
            arg=[seen[edge], more],
        )
        # Where the message that was at the edge is now: prepending kept it in place.
        after = await page.evaluate(SCROLL_AND_PLACE, [None, seen[edge]])
        seen["shift"] = after - before
    return steps


# Scrolls to the top (up true) or bottom (false; None: stays), then says how far below the
# scroller's top the message `id` is.
SCROLL_AND_PLACE = """([up, id]) => {
  const s = document.querySelector('.messages-scroller');
  if (up !== null) s.scrollTop = up ? 0 : s.scrollHeight;
  const el = document.querySelector(`[data-message-id="${id}"]`);
  return el.getBoundingClientRect().top - s.getBoundingClientRect().top;
}"""


async def test_scrolling_back_through_5000_messages_and_down_again(web: Web) -> None:
    ada = await web.api.register("ada_history")
    guild_id, channel_id = await guild_with(web, ada)
    await seed_history(web, ada, guild_id, channel_id)
    page = await open_channel(web, ada, guild_id, channel_id)

    async def scroll() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        await expect(page.locator("[data-message-id]").last).to_contain_text(
            f"history message {COUNT}", timeout=WAIT_MS
        )
        await page.evaluate(WATCH_BOUND)
        back = await scroll_to_end(page, up=True)
        await expect(page.get_by_test_id("log-beginning")).to_be_visible()
        down = await scroll_to_end(page, up=False)
        return back, down

    back, down = await web.run(scroll(), timeout_s=120)
    top, bottom = back[-1], down[-1]
    assert top["firstText"] == "history message 1"
    assert top["hasOlder"] == "false"
    assert bottom["lastText"] == f"history message {COUNT}"
    assert bottom["hasNewer"] == "false"
    # Every step of the way, and every change in between, held at most the bound.
    assert len(back) >= COUNT // 100 - 5  # a page at a time, not all at once
    for step in back + down:
        assert 0 < step["count"] <= MAX_IN_PAGE, step
        assert step["most"] <= MAX_IN_PAGE, step
    # Older pages went in above what was on screen without moving it.
    shifts = [step["shift"] for step in back if "shift" in step]
    assert shifts
    assert max(abs(shift) for shift in shifts) <= 2, shifts
    # Scrolling down dropped the oldest again: the window moved, it did not grow.
    assert bottom["firstText"] != "history message 1"


WATCH_HIGHLIGHT = """() => {
  window.highlighted = new Set();
  new MutationObserver((changes) => {
    for (const change of changes) {
      const el = change.target;
      if (el.classList?.contains('highlight') && el.dataset.messageId) {
        window.highlighted.add(el.dataset.messageId);
      }
    }
  }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['class']});
}"""


async def test_a_reply_jumps_to_an_original_thousands_of_messages_back(web: Web) -> None:
    ada = await web.api.register("ada_jump")
    guild_id, channel_id = await guild_with(web, ada)
    await seed_history(web, ada, guild_id, channel_id)
    history = await web.api.http.get(
        f"/api/v10/channels/{channel_id}/messages",
        params={"after": "0", "limit": "20"},
        headers=ada.auth,
    )
    tenth = next(m for m in history.json() if m["content"] == "history message 10")
    reply = await web.api.http.post(
        f"/api/v10/channels/{channel_id}/messages",
        headers=ada.auth,
        json={"content": "about the tenth", "message_reference": {"message_id": tenth["id"]}},
    )
    assert reply.status_code == 200, reply.text
    page = await open_channel(web, ada, guild_id, channel_id)

    async def jump() -> dict[str, Any]:
        reference = page.locator(f'[data-jump-to="{tenth["id"]}"]')
        await expect(reference).to_contain_text("history message 10", timeout=WAIT_MS)
        await page.evaluate(WATCH_BOUND)
        # The highlight lasts a moment: an observer notes it, however late the test looks.
        await page.evaluate(WATCH_HIGHLIGHT)
        await reference.click()
        original = page.locator(f'[data-message-id="{tenth["id"]}"]')
        await page.wait_for_function(
            "id => window.highlighted.has(id)", arg=tenth["id"], timeout=WAIT_MS
        )
        await expect(original).to_be_in_viewport()
        # Back to the present: the newest (the reply) is there again.
        await page.get_by_test_id("jump-present").click()
        await expect(page.locator("[data-message-id]").last).to_contain_text("about the tenth")
        seen: dict[str, Any] = await page.evaluate(SNAPSHOT)
        return seen

    seen = await web.run(jump())
    assert seen["most"] <= MAX_IN_PAGE
    assert seen["hasNewer"] == "false"
