"""Screenshots of the main screens (sign-in, and a guild's channel with messages), at desktop
and phone widths, light and dark, into browser.SCREENSHOTS (the README's "Web client")."""

from __future__ import annotations

import secrets
import struct
from typing import TYPE_CHECKING

from playwright.async_api import expect

from tests.web.browser import DESKTOP, PHONE, SCREENSHOTS

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tests.running import Person
    from tests.web.browser import Web

MESSAGES = [
    ("ada", "Morning all! Who's bringing **biscuits** to the meetup?"),
    ("bob", "I can. Plain digestives or the _chocolate_ ones?"),
    ("ada", "Chocolate, obviously. Also: the room moved to `B-204`"),
    ("bob", "> the room moved\nThanks, I would have gone to the old one."),
    ("ada", "Notes from last time: https://example.org/notes"),
]


async def seed(web: Web) -> tuple[Person, str, str]:
    """Two people in a guild, a few messages between them: (the first person, guild, channel)."""
    ada = await web.api.register(f"ada_{secrets.token_hex(2)}")
    bob = await web.api.register(f"bob_{secrets.token_hex(2)}")
    http = web.api.http
    guild = (await http.post("/api/v10/guilds", json={"name": "Tea Club"}, headers=ada.auth)).json()
    channels = (await http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=ada.auth)).json()
    channel = next(c for c in channels if c["type"] == 0)
    invite = await http.post(
        f"/api/v10/channels/{channel['id']}/invites", json={}, headers=ada.auth
    )
    joined = await http.post(f"/api/v10/invites/{invite.json()['code']}", headers=bob.auth)
    assert joined.status_code == 200, joined.text
    people = {"ada": ada, "bob": bob}
    for who, content in MESSAGES:
        sent = await http.post(
            f"/api/v10/channels/{channel['id']}/messages",
            json={"content": content},
            headers=people[who].auth,
        )
        assert sent.status_code == 200, sent.text
    return ada, guild["id"], channel["id"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def body_background_lightness(page: Page) -> float:
    """The body's computed background as 0 (black) to 1 (white), by its RGB average."""
    colour = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [float(part) for part in colour[colour.index("(") + 1 : -1].split(",")[:3]]
    return sum(channels) / (3 * 255)


async def test_screenshots_of_the_main_screens(web: Web) -> None:
    ada, guild_id, channel_id = await seed(web)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    written = []
    for scheme in ("light", "dark"):
        for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = await web.new_context(viewport=viewport, color_scheme=scheme)
            page = await web.run(context.new_page())
            name = f"{width_name}-{scheme}"

            async def shoot(
                page: Page = page, name: str = name, width_name: str = width_name
            ) -> list[str]:
                await page.goto(web.url + "/app/login")
                await expect(page.get_by_test_id("login-form")).to_be_visible()
                await page.screenshot(
                    path=SCREENSHOTS / f"sign-in-{name}.png", animations="disabled"
                )
                await page.get_by_test_id("login-login").fill(ada.username)
                await page.get_by_test_id("login-password").fill(ada.password)
                await page.get_by_test_id("login-submit").click()
                await expect(page.get_by_test_id("user-name")).to_be_attached()
                await page.goto(f"{web.url}/app/channels/{guild_id}/{channel_id}")
                await expect(page.locator("[data-message-id]")).to_have_count(len(MESSAGES))
                await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
                await page.screenshot(path=SCREENSHOTS / f"chat-{name}.png", animations="disabled")
                shots = [f"sign-in-{name}.png", f"chat-{name}.png"]
                channel_link = page.get_by_test_id("channel-link").first
                if width_name == "phone":
                    # The channel list is a drawer behind the top bar's button.
                    await expect(channel_link).not_to_be_in_viewport()
                    await page.get_by_test_id("open-nav").click()
                    await expect(channel_link).to_be_in_viewport()
                    await page.screenshot(
                        path=SCREENSHOTS / f"channels-{name}.png", animations="disabled"
                    )
                    shots.append(f"channels-{name}.png")
                    await channel_link.click()
                    await expect(channel_link).not_to_be_in_viewport()
                else:
                    await expect(channel_link).to_be_in_viewport()
                return shots

            written += await web.run(shoot())
            lightness = await web.run(body_background_lightness(page))
            assert (lightness < 0.3) if scheme == "dark" else (lightness > 0.9), (name, lightness)
            await web.run(context.close())
    for file in written:
        data = (SCREENSHOTS / file).read_bytes()
        width, _ = png_size(data)
        assert width == (PHONE if "phone" in file else DESKTOP)["width"], file
