"""The web client's figures (issue 21), measured in Debian's Chromium driven by Playwright:
the bytes a first load downloads (every asset, as sent: compressed, with headers), the time from
navigation to the first channel's messages on screen, and the page's memory (JS heap, DOM nodes,
the browser's processes' RSS) before and after scrolling back through the whole history.

The server is one process with the API, gateway and worker roles; the history is seeded over
HTTP (`--messages`, 5,000 in the issue's figure)."""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import trio

from bench.server import running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bench.report import Report
    from bench.tool import Options, _Run

CHROMIUM = os.environ.get("TRIOXIDE_CHROMIUM", "/usr/bin/chromium")
_SEED_CONCURRENCY = 8
_SCROLL_STEP_TIMEOUT_MS = 15_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def started_web_server(options: Options) -> AsyncIterator[Options]:
    """Every role but voice in one process, on ports known up front: the page's origin, the
    gateway URL it is sent and its Content-Security-Policy must agree."""
    api_port = _free_port()
    env = {
        "TRIOXIDE_API_ADDR": f"127.0.0.1:{api_port}",
        "TRIOXIDE_GATEWAY_ADDR": f"127.0.0.1:{_free_port()}",
        "TRIOXIDE_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
    }
    async with running_server("api,gateway,worker", env) as server:
        yield replace(options, api_url=server.api_url, api_pid=server.pid)


async def _seed(api_url: str, messages: int) -> dict[str, Any]:
    """A person, a guild and `messages` messages in its first channel; what the page needs."""
    async with httpx.AsyncClient(base_url=api_url + "/api/v10", timeout=30) as http:
        name = f"bench_{os.urandom(4).hex()}"
        registered = await http.post(
            "/auth/register",
            json={"username": name, "email": f"{name}@example.test", "password": "bench pass 1"},
        )
        registered.raise_for_status()
        person = registered.json()
        auth = {"Authorization": f"Bearer {person['token']}"}
        guild = (await http.post("/guilds", headers=auth, json={"name": "Bench"})).json()
        channels = (await http.get(f"/guilds/{guild['id']}/channels", headers=auth)).json()
        channel = next(c for c in channels if c["type"] == 0)
        sent = trio.Semaphore(_SEED_CONCURRENCY)

        async def send(number: int) -> None:
            async with sent:
                answer = await http.post(
                    f"/channels/{channel['id']}/messages",
                    headers=auth,
                    json={"content": f"message {number}: the quick brown fox"},
                )
                answer.raise_for_status()

        # In order, a few at a time: the first seeded message is the oldest.
        await send(0)
        async with trio.open_nursery() as nursery:
            for number in range(1, messages):
                nursery.start_soon(send, number)
        return {
            "auth": {
                "token": person["token"],
                "refresh_token": person["refresh_token"],
                "user_id": person["user"]["id"],
            },
            "path": f"/app/channels/{guild['id']}/{channel['id']}",
        }


# Set by an init script: when the first message element is attached (ms since navigation).
_FIRST_MESSAGE_PROBE = """
new MutationObserver((_, observer) => {
  if (document.querySelector("[data-message-id]")) {
    window.__firstMessageMs = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def _is_asset(url: str) -> bool:
    """One of the client's own files (served under /app), not an API answer."""
    return urlsplit(url).path.startswith("/app")


def _browser_pss_bytes() -> int:
    """The proportional set size (shared pages split between their sharers, so nothing is
    counted twice) of every process of the browser this process started: its descendants."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(proc.name))
    total, queue = 0, list(children.get(os.getpid(), []))
    while queue:
        pid = queue.pop()
        queue.extend(children.get(pid, []))
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


def _measure_in_browser(api_url: str, seeded: dict[str, Any], messages: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--disable-dev-shm-usage"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(
            f"localStorage.setItem('trioxide.auth', {json.dumps(json.dumps(seeded['auth']))});"
        )
        context.add_init_script(_FIRST_MESSAGE_PROBE)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        urls: dict[str, str] = {}
        received: dict[str, int] = {}
        cdp.on(
            "Network.requestWillBeSent",
            lambda e: urls.update({e["requestId"]: e["request"]["url"]}),
        )
        cdp.on(
            "Network.loadingFinished",
            lambda e: received.update({e["requestId"]: int(e["encodedDataLength"])}),
        )
        page.goto(api_url + seeded["path"])
        page.wait_for_selector("[data-message-id]", timeout=30_000)
        page.wait_for_load_state("networkidle")
        # The client's own files, and what it then fetched from the API (JSON, uncompressed).
        asset_sizes = [n for r, n in received.items() if _is_asset(urls.get(r, ""))]
        assets, asset_files = sum(asset_sizes), len(asset_sizes)
        fetched = sum(received.values()) - assets
        first_message_ms = page.evaluate("window.__firstMessageMs")

        def memory() -> dict[str, Any]:
            cdp.send("HeapProfiler.collectGarbage")
            cdp.send("Performance.enable")
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            return {
                "js_heap_used_bytes": int(metrics["JSHeapUsedSize"]),
                "dom_nodes": int(metrics["Nodes"]),
                "message_elements": page.locator("[data-message-id]").count(),
                "browser_pss_bytes": _browser_pss_bytes(),
            }

        before = memory()
        started = time.monotonic()
        oldest = "message 0:"
        most_in_dom = 0
        while page.get_by_text(oldest, exact=False).count() == 0:
            first_id = page.locator("[data-message-id]").first.get_attribute("data-message-id")
            page.evaluate("document.querySelector('.messages-scroller').scrollTop = 0")
            page.wait_for_function(
                "id => document.querySelector('[data-message-id]')?.dataset.messageId !== id",
                arg=first_id,
                timeout=_SCROLL_STEP_TIMEOUT_MS,
            )
            most_in_dom = max(most_in_dom, page.locator("[data-message-id]").count())
        scrolled_s = time.monotonic() - started
        after = memory()
        browser.close()
    return {
        "messages": messages,
        "first_load_asset_bytes": assets,
        "first_load_asset_files": asset_files,
        "first_load_api_bytes": fetched,
        "first_message_ms": round(first_message_ms, 1),
        "scroll_to_oldest_s": round(scrolled_s, 2),
        "most_message_elements_in_dom": most_in_dom,
        "memory_before_scroll": before,
        "memory_after_scroll": after,
    }


async def web_client(run: _Run) -> Report:
    options = run.options
    messages = max(options.messages, 1)
    seeded = await _seed(options.api_url, messages)
    figures = await trio.to_thread.run_sync(_measure_in_browser, options.api_url, seeded, messages)
    return {
        "scenario": "web-client",
        "parameters": {"messages": messages},
        "figures": figures,
        "generator": {},
        "server": {},
        "series": {},
        "warnings": run.warnings,
    }
