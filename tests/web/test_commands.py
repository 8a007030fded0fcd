"""Slash commands from the browser, answered by discord.py 2.7 (unmodified) running in a thread
of its own: typing `/` lists the bot's commands, `/ping` answers ephemerally ("Only you can see
this") with a button whose click makes the bot edit that answer, `/ask` opens a modal that is
filled in and submitted, `/echo` takes typed options, `/pick` offers a select, and a command
the bot leaves unanswered says so. With two tabs of the same person open, a modal opens only in
the tab whose command asked for it."""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands
from playwright.async_api import expect

from tests.api.rooms import new_room
from tests.compat.asyncio_thread import collect_leftovers, open_asyncio_thread
from tests.gateway.test_dispatch import add_bot
from tests.web.test_community import WAIT_MS, page_errors, signed_in, watch_errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from playwright.async_api import Page

    from tests.web.browser import Web

READY_S = 15  # the bot's login, command sync and READY


@pytest.fixture(autouse=True)
def _collect_garbage_after() -> Iterator[None]:
    """What discord.py left on its asyncio loop is collected at the end of this test."""
    yield
    collect_leftovers()


class _Answer(discord.ui.View):
    """The button under /ping's answer; persistent, so its clicks reach it by custom_id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", custom_id="ping:again", style=discord.ButtonStyle.primary)
    async def again(
        self, interaction: discord.Interaction, _button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.edit_message(
            content=f"pressed by {interaction.user.name}", view=None
        )


class _Ask(discord.ui.Modal, title="Tell the bot"):
    words: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Your words", custom_id="words", min_length=2, max_length=40
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"heard: {self.words.value}", ephemeral=True)


class _Pick(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.select(
        custom_id="pick:fruit",
        placeholder="A fruit",
        options=[discord.SelectOption(label=n.title(), value=n) for n in ("apple", "pear")],
    )
    async def fruit(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        await interaction.response.edit_message(content=f"picked {select.values[0]}", view=None)


class _Bot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())
        self.guild = discord.Object(id=guild_id)

        @app_commands.command(description="Answers pong, for your eyes only")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True, view=_Answer())

        @app_commands.command(description="Asks you something")
        async def ask(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(_Ask())

        @app_commands.command(description="Says it again")
        async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
            await interaction.response.send_message(" / ".join([text] * times), ephemeral=True)

        @app_commands.command(description="Offers fruit")
        async def pick(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("which?", ephemeral=True, view=_Pick())

        @app_commands.command(description="Never answers")
        async def silent(interaction: discord.Interaction) -> None:
            return None

        commands_: list[app_commands.Command[Any, Any, None]] = [ping, ask, echo, pick, silent]
        for command in commands_:
            self.tree.add_command(command, guild=self.guild)

    async def setup_hook(self) -> None:
        self.add_view(_Answer())
        self.add_view(_Pick())
        await self.tree.sync(guild=self.guild)


@asynccontextmanager
async def running_bot(web: Web, token: str, guild_id: str) -> AsyncIterator[None]:
    """The bot logged in (commands synced, READY) on its own asyncio thread, until the block
    ends; discord.py pointed at the server under test."""
    gateway = f"ws://{web.api.services.settings.gateway_addr}"
    original = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = f"{web.url}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{gateway}/")
    bot = _Bot(int(guild_id))
    try:
        async with open_asyncio_thread() as thread:

            async def start() -> asyncio.Task[None]:
                ready = asyncio.Event()

                async def on_ready() -> None:
                    ready.set()

                bot.add_listener(on_ready)
                running = asyncio.create_task(bot.start(token))
                waiting = asyncio.create_task(ready.wait())
                await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if running.done():
                    running.result()  # the login failed: its error
                return running

            running = await thread.run(start(), READY_S)
            try:
                yield
            finally:

                async def stop() -> None:
                    await bot.close()
                    await asyncio.gather(running, return_exceptions=True)
                    # discord.py's heartbeat thread notices the close on its next wake and
                    # may still post to this loop then: the loop must outlive it, or the
                    # thread's "Event loop is closed" fails whichever test runs next.
                    for thread in threading.enumerate():
                        if thread.name.startswith("keep-alive-handler"):
                            await asyncio.to_thread(thread.join, READY_S)

                await thread.run(stop())
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = original


def message_with(page: Page, text: str) -> Any:
    return page.locator("[data-message-id]").filter(has_text=text)


async def commands_listed(page: Page, count: int) -> list[str]:
    """The commands "/" lists, once the channel is shown and the composer has its commands."""
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=message-log][data-has-older]')"
    )
    composer = page.get_by_test_id("composer-input")
    options = page.get_by_test_id("autocomplete").get_by_role("option")
    # The composer loads the commands module on its own; until it has, "/" lists
    # nothing. Typing it again once the list stays empty covers that start.
    for _ in range(10):
        await composer.fill("/")
        try:
            await expect(options).to_have_count(count, timeout=1000)
            break
        except AssertionError:
            await composer.fill("")
    await expect(options).to_have_count(count)
    listed = [text.split()[0] for text in await options.all_inner_texts()]
    await composer.fill("")
    return listed


async def pick_command(page: Page, typed: str, listed: str) -> None:
    """Types the command's start and picks it from the list with Enter, as a person would
    (the composer's first suggestion is active; Enter takes it rather than sending)."""
    composer = page.get_by_test_id("composer-input")
    suggestion = page.get_by_test_id("autocomplete").get_by_role("option").first
    await composer.fill(typed)
    await expect(suggestion).to_have_attribute("aria-selected", "true")
    await expect(suggestion).to_contain_text(listed)
    await composer.press("Enter")
    await expect(composer).to_have_value(f"{listed} ")


async def run_command(page: Page, typed: str, listed: str) -> None:
    """Picks a command without options from the list, and sends it."""
    await pick_command(page, typed, listed)
    composer = page.get_by_test_id("composer-input")
    await expect(composer).to_have_attribute("aria-expanded", "false")
    await composer.press("Enter")
    await expect(composer).to_have_value("")


async def test_a_discord_py_command_answers_ephemerally_with_a_button_and_a_modal(
    web: Web,
) -> None:
    room = await new_room(web.api)
    bot_id, token = await add_bot(web.api, room)
    async with running_bot(web, token, room.guild_id):
        page = await signed_in(web, room.member)
        await web.run(page.goto(f"{web.url}/app/channels/{room.guild_id}/{room.channel_id}"))
        assert await web.run(commands_listed(page, 5)) == [
            "/ask",
            "/echo",
            "/pick",
            "/ping",
            "/silent",
        ]

        async def ping() -> None:
            await run_command(page, "/pin", "/ping")
            answer = message_with(page, "pong")
            await expect(answer).to_contain_text("Only you can see this", timeout=WAIT_MS)
            await expect(page.get_by_test_id("interaction-thinking")).to_have_count(0)
            button = answer.get_by_test_id("component-button")
            await expect(button).to_have_text("Again")
            await button.click()
            pressed = message_with(page, f"pressed by {room.member.username}")
            await expect(pressed).to_have_count(1, timeout=WAIT_MS)
            await expect(pressed.get_by_test_id("component-button")).to_have_count(0)
            await expect(message_with(page, "pong")).to_have_count(0)

        await web.run(ping())

        async def ask() -> None:
            await run_command(page, "/as", "/ask")
            dialog = page.get_by_test_id("modal-dialog")
            await expect(dialog.get_by_role("heading")).to_have_text("Tell the bot")
            words = dialog.get_by_label("Your words")
            await words.fill("x")  # under its minimum: the dialog stays, nothing is sent
            await dialog.get_by_test_id("modal-submit").click()
            await expect(words).to_have_attribute("aria-invalid", "true")
            await words.fill("hello bot")
            await dialog.get_by_test_id("modal-submit").click()
            await expect(dialog).to_have_count(0)
            answer = message_with(page, "heard: hello bot")
            await expect(answer).to_contain_text("Only you can see this", timeout=WAIT_MS)

        await web.run(ask())

        async def echo() -> None:
            await pick_command(page, "/ec", "/echo")
            # After the name, the options are offered.
            await page.get_by_test_id("composer-input").focus()
            options = page.get_by_test_id("autocomplete").get_by_role("option")
            await expect(options).to_have_count(2)
            assert [t.split()[0] for t in await options.all_inner_texts()] == ["text:", "times:"]
            composer = page.get_by_test_id("composer-input")
            await composer.fill("/echo times:2 text:two words")
            await expect(options).to_have_count(0)
            await composer.press("Enter")
            answer = message_with(page, "two words / two words")
            await expect(answer).to_contain_text("Only you can see this", timeout=WAIT_MS)
            # A bad value is refused before anything is sent, and the line is given back.
            await composer.fill("/echo text:x times:many")
            await composer.press("Enter")
            await expect(page.get_by_test_id("toast-error").last).to_contain_text(
                "times must be a whole number"
            )
            await expect(composer).to_have_value("/echo text:x times:many")
            await composer.fill("")

        await web.run(echo())

        async def pick() -> None:
            await run_command(page, "/pic", "/pick")
            offer = message_with(page, "which?")
            select = offer.get_by_test_id("component-select")
            await expect(select).to_be_visible(timeout=WAIT_MS)
            await select.select_option("pear")
            await expect(message_with(page, "picked pear")).to_have_count(1, timeout=WAIT_MS)

        await web.run(pick())

        async def silent() -> None:
            await run_command(page, "/si", "/silent")
            note = page.get_by_test_id("interaction-thinking")
            await expect(note).to_contain_text("Watcher is thinking")
            await expect(note).to_have_text("The application did not respond", timeout=WAIT_MS)

        await web.run(silent())
    assert page_errors(page) == []

    # Behind the wire: only the invoker was shown the answers; nothing reached the channel.
    history = await web.api.http.get(
        f"/api/v10/channels/{room.channel_id}/messages", headers=room.owner.auth
    )
    assert [m for m in history.json() if m["author"]["id"] == bot_id] == []


async def test_a_modal_opens_only_in_the_tab_that_asked_for_it(web: Web) -> None:
    room = await new_room(web.api)
    _bot_id, token = await add_bot(web.api, room)
    async with running_bot(web, token, room.guild_id):
        # Two tabs of one browser profile: one session in localStorage, two gateway connections.
        context = await web.signed_in_context(room.member)
        first = await web.run(context.new_page())
        second = await web.run(context.new_page())
        channel = f"{web.url}/app/channels/{room.guild_id}/{room.channel_id}"

        async def open_both() -> None:
            for page in (first, second):
                watch_errors(page)
                await page.goto(channel)
                await commands_listed(page, 5)
            # The second tab notes the modal's dispatch when its store gets it: by then its own
            # modal would have been opened too (modals.js listens the same way, and earlier).
            await second.evaluate(
                """async () => {
                  const store = await import("/app/store.js");
                  window.seenModals = 0;
                  store.subscribe("dispatch", ({ t }) => {
                    if (t === "INTERACTION_MODAL_CREATE") window.seenModals += 1;
                  });
                }"""
            )

        async def ask_in_the_first() -> None:
            await run_command(first, "/as", "/ask")
            dialog = first.get_by_test_id("modal-dialog")
            await expect(dialog.get_by_role("heading")).to_have_text("Tell the bot")
            await second.wait_for_function("() => window.seenModals === 1")
            await expect(second.get_by_test_id("modal-dialog")).to_have_count(0)
            await dialog.get_by_label("Your words").fill("one tab")
            await dialog.get_by_test_id("modal-submit").click()
            await expect(dialog).to_have_count(0)
            answer = message_with(first, "heard: one tab")
            await expect(answer).to_contain_text("Only you can see this", timeout=WAIT_MS)

        await web.run(open_both())
        await web.run(ask_in_the_first())
    assert page_errors(first) == []
    assert page_errors(second) == []
