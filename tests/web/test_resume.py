"""A page whose network drops notices by its heartbeats, RESUMEs when the network is back
and shows every message sent meanwhile, without a reload and without a new IDENTIFY; when the
session cannot be resumed (op 9), it IDENTIFYs afresh and its views reload what they show."""

from __future__ import annotations

import dataclasses
import json
import secrets
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import expect

from gateway.limits import GatewayLimits

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, WebSocket

    from tests.running import Person
    from tests.web.browser import Web

# Short heartbeats, so a dead connection is noticed within seconds rather than a minute.
HEARTBEAT_INTERVAL_MS = 1_500
OP_IDENTIFY = 2
OP_RESUME = 6


@pytest.fixture
def gateway_limits() -> GatewayLimits:
    return GatewayLimits(heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS)


@dataclasses.dataclass
class Scene:
    """Ada's page open on a channel of a guild she shares with Bob, and what it sent."""

    web: Web
    bob: Person
    channel_path: str  # /api/v10/channels/{id}
    context: BrowserContext
    page: Page
    sent_ops: list[int]
    history_requests: list[str]

    async def send_as_bob(self, content: str) -> None:
        sent = await self.web.api.http.post(
            self.channel_path + "/messages", json={"content": content}, headers=self.bob.auth
        )
        assert sent.status_code == 200, sent.text

    async def drop_network_and_send(self, contents: list[str]) -> None:
        """Cuts the page's network, sends `contents` as Bob meanwhile, and restores it once the
        page has noticed. Chromium keeps the socket open while offline (the emulation stops its
        traffic, not the socket), so only a heartbeat left unanswered can tell the page."""
        page = self.page
        await self.web.run(page.evaluate("window.sameDocument = true"))
        self.history_requests.clear()
        await self.web.run(self.context.set_offline(True))
        for content in contents:
            await self.send_as_bob(content)
        status = page.locator("#status")
        await self.web.run(expect(status).not_to_have_attribute("data-state", "connected"))
        await self.web.run(self.context.set_offline(False))
        await self.web.run(expect(status).to_have_attribute("data-state", "connected"))

    async def shown(self) -> list[str]:
        messages = self.page.locator("[data-message-id]")
        return await self.web.run(messages.all_inner_texts())


async def open_scene(web: Web) -> Scene:
    ada = await web.api.register(f"ada_{secrets.token_hex(3)}")
    bob = await web.api.register(f"bob_{secrets.token_hex(3)}")
    http = web.api.http
    guild = (
        await http.post("/api/v10/guilds", json={"name": "Night Shift"}, headers=ada.auth)
    ).json()
    channels = (await http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=ada.auth)).json()
    channel = next(c for c in channels if c["type"] == 0)
    invite = await http.post(
        f"/api/v10/channels/{channel['id']}/invites", json={}, headers=ada.auth
    )
    assert (
        await http.post(f"/api/v10/invites/{invite.json()['code']}", headers=bob.auth)
    ).is_success
    # Signed in from storage, as after an earlier visit: the page loads once, one socket.
    stored = json.dumps({**(await web.api.login(ada)), "expires_at": 0})
    context = await web.new_context()
    await web.run(context.add_init_script(f"localStorage.setItem('trioxide.auth', {stored!r})"))
    page = await web.run(context.new_page())
    scene = Scene(web, bob, f"/api/v10/channels/{channel['id']}", context, page, [], [])
    await scene.send_as_bob("before the drop")

    def watch(socket: WebSocket) -> None:
        socket.on(
            "framesent", lambda payload: scene.sent_ops.append(int(json.loads(payload)["op"]))
        )

    async def open_channel() -> None:
        page.on("websocket", watch)
        page.on(
            "request",
            lambda r: scene.history_requests.append(r.url) if "/messages" in r.url else None,
        )
        await page.goto(f"{web.url}/app/channels/{guild['id']}/{channel['id']}")
        await expect(page.locator("[data-message-id]")).to_have_count(1)
        await expect(page.locator("#status")).to_have_attribute("data-state", "connected")

    await web.run(open_channel())
    assert scene.sent_ops.count(OP_IDENTIFY) == 1
    return scene


async def test_a_dropped_network_resumes_with_every_missed_message(web: Web) -> None:
    scene = await open_scene(web)
    await scene.drop_network_and_send([f"while away {n}" for n in range(3)])
    messages = scene.page.locator("[data-message-id]")
    await web.run(expect(messages).to_have_count(4))
    texts = await scene.shown()
    for n, text in enumerate(texts[1:]):
        assert f"while away {n}" in text, texts  # each once, in order
    assert OP_RESUME in scene.sent_ops, scene.sent_ops
    assert scene.sent_ops.count(OP_IDENTIFY) == 1, scene.sent_ops  # no second IDENTIFY
    # Replayed, not re-fetched: no reload, no history request.
    assert await web.run(scene.page.evaluate("window.sameDocument")) is True
    assert scene.history_requests == []


async def test_a_session_that_cannot_resume_identifies_and_reloads_the_view(web: Web) -> None:
    scene = await open_scene(web)
    # The server will not know this session (as after its resume window ran out): op 9.
    forget = "import('/app/app.js').then(({gateway}) => { gateway.sessionId = 'forgotten'; })"
    await web.run(scene.page.evaluate(forget))
    await scene.drop_network_and_send([f"while gone {n}" for n in range(3)])
    messages = scene.page.locator("[data-message-id]")
    await web.run(expect(messages).to_have_count(4))
    await web.run(expect(messages.last).to_contain_text("while gone 2"))
    assert OP_RESUME in scene.sent_ops, scene.sent_ops
    assert scene.sent_ops.count(OP_IDENTIFY) == 2, scene.sent_ops  # a fresh session
    # Without a reload of the page: the channel's view fetched its history again.
    assert await web.run(scene.page.evaluate("window.sameDocument")) is True
    assert any("/messages" in url for url in scene.history_requests)
