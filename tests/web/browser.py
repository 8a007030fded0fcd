"""Debian's Chromium, headless, driven through Playwright's async API for the web client's tests.

Playwright runs on asyncio; the server under test runs on Trio. So Playwright lives on an
asyncio loop in a thread of its own (tests.compat.asyncio_thread), and a test hands it
coroutines: `await web.run(page.click("…"))`. Calling a Playwright method from the Trio side
only creates the coroutine; it runs on the browser's loop. Longer browser-side sequences are
plain `async def` functions run the same way: `await web.run(sign_up(page, "ada"))`.

Example:
    async def test_x(web: Web) -> None:
        page = await web.new_page()
        await web.run(page.goto(web.url + "/app"))
        await web.run(page.get_by_test_id("login-form").wait_for())
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from playwright.async_api import async_playwright

from tests.compat.asyncio_thread import AsyncioThread, open_asyncio_thread

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine

    from playwright.async_api import Browser, BrowserContext, Page

    from tests.running import ApiClient, Person

T = TypeVar("T")

# make test installs Debian's chromium (the Makefile's `chromium` target).
CHROMIUM = os.environ.get("TRIOXIDE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The tests' screenshots of the main screens land here (README: "Web client").
SCREENSHOTS = Path(__file__).resolve().parents[2] / "tests" / "web" / "screenshots"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}

# How long one step may wait for the page (a selector to appear, a request to finish).
STEP_TIMEOUT_MS = 15_000


@dataclasses.dataclass
class Web:
    """The server (API, gateway, relay and worker) a test's browser talks to, and the browser."""

    url: str  # http://127.0.0.1:<port>, the API role's origin (the client is at /app)
    api: ApiClient  # the same server's services, to look behind the wire
    thread: AsyncioThread
    browser: Browser

    async def run(self, step: Coroutine[object, object, T], timeout_s: float = 60) -> T:
        """Runs a Playwright coroutine on the browser's loop; its result or its error here."""
        return await self.thread.run(step, timeout_s)

    async def new_context(self, **options: Any) -> BrowserContext:
        """A fresh browser profile (its own storage, cookies and connections): one person."""
        options.setdefault("viewport", DESKTOP)
        context = await self.run(self.browser.new_context(**options))
        context.set_default_timeout(STEP_TIMEOUT_MS)
        return context

    async def listen(self, page: Page, event: Any, handler: Callable[[Any], Any]) -> None:
        """`page.on(event, handler)`, registered on the browser's loop: Playwright's objects
        belong to that loop's thread, and a listener added from here races its dispatch."""

        async def add() -> None:
            page.on(event, handler)

        await self.run(add())

    async def signed_in_context(self, person: Person, **options: Any) -> BrowserContext:
        """A fresh context whose client already holds `person`'s session (the client's own
        localStorage entry, written before its first load only: after that the client keeps
        and rotates the session itself)."""
        context = await self.new_context(**options)
        stored = json.dumps(
            {
                "token": person.token,
                "refresh_token": person.refresh_token,
                "user_id": str(person.id),
            }
        )
        script = (
            "if (!localStorage.getItem('trioxide.auth')) localStorage.setItem('trioxide.auth',"
            f" JSON.stringify(Object.assign({stored}, {{expires_at: Date.now() + 600000}})));"
        )
        await self.run(context.add_init_script(script))
        return context

    async def new_page(self, **options: Any) -> Page:
        """A page in a fresh context."""
        context = await self.new_context(**options)
        return await self.run(context.new_page())


@asynccontextmanager
async def open_browser() -> AsyncIterator[tuple[AsyncioThread, Browser]]:
    async with open_asyncio_thread() as thread:

        async def launch() -> tuple[Any, Browser]:
            playwright = await async_playwright().start()
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                # Containers give /dev/shm 64 MB; Chromium's renderers would crash on big pages.
                args=["--disable-dev-shm-usage", "--no-sandbox"],
            )
            return playwright, browser

        playwright, browser = await thread.run(launch())
        try:
            yield thread, browser
        finally:

            async def stop() -> None:
                await browser.close()
                await playwright.stop()

            await thread.run(stop())
