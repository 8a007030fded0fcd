"""Messages under load: POSTs beside a bare Quart-Trio handler, history and search over a
channel of a million messages, each at 32 concurrent clients.

History and search run twice: saturating (each client asks again the moment it is answered,
which measures throughput; latency is then queueing, clients / throughput by Little's law) and
paced (32 people at a person's pace, which measures the latency they see).

Usage: python -m bench.messages [--seconds S] [--messages N] [--clients C]

The server runs in its own process beside its PostgreSQL; this process is the load, with a lean
keep-alive client (bench/http.py). Nothing is pinned: server, database and load share the cores,
and the bare handler is measured the same way, in rounds taken in turn with the POSTs' (a shared
machine's speed drifts over seconds; so both sides see the same drift). Every answer is checked:
a benchmark that counts errors as speed measures nothing.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import psycopg
import trio

from bench.http import Connection, connect
from bench.report import percentile
from bench.server import running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# A person reading back through a channel loads a page every second or two; searching is rarer.
READER_RATE = 2.0
SEARCH_RATE = 1.0
# POSTs and the bare handler are measured in this many rounds each, taken in turn.
ROUNDS = 4
# Paced phases last at least this long: 32 readers at 2 pages/s answer 1,300 requests in 20 s,
# so their p99 rests on a dozen samples rather than on the worst three of a 5 s run.
MIN_PACED_S = 20.0


def summary(name: str, latencies_ms: list[float], elapsed_s: float) -> str:
    return (
        f"{name}: {len(latencies_ms) / elapsed_s:.0f}/s,"
        f" p50 {statistics.median(latencies_ms):.2f} ms,"
        f" p99 {percentile(sorted(latencies_ms), 0.99):.2f} ms"
    )


async def load(
    host: str, port: int, clients: int, seconds: float, one: object
) -> tuple[list[float], float]:
    """`clients` connections each running `one(connection, index)` back to back for `seconds`."""
    latencies: list[float] = []
    until = time.perf_counter() + seconds

    async def client(index: int) -> None:
        async with connect(host, port) as connection:
            while time.perf_counter() < until:
                start = time.perf_counter()
                await one(connection, index)  # type: ignore[operator]
                latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for index in range(clients):
            nursery.start_soon(client, index)
    return latencies, time.perf_counter() - start


async def paced(
    host: str, port: int, clients: int, rate_per_client: float, seconds: float, one: object
) -> tuple[list[float], float]:
    """`clients` connections each running `one` at random (Poisson) moments, `rate_per_client`
    a second on average: readers at a person's pace rather than a saturating loop. A request
    held up by the answer before it is timed from the moment it was due, so a slow answer that
    delays the next one is not hidden (no coordinated omission); one that was not is timed
    from when it was sent, since waking the generator's own timer takes about a millisecond
    here (Trio's epoll wait counts whole milliseconds), and that is not the server's."""
    latencies: list[float] = []
    until = time.perf_counter() + seconds

    async def client(index: int) -> None:
        rng = random.Random(index)
        async with connect(host, port) as connection:
            due = time.perf_counter() + rng.expovariate(rate_per_client)
            while due < until:
                held_up = time.perf_counter() > due
                await trio.sleep_until(trio.current_time() + max(0.0, due - time.perf_counter()))
                sent = due if held_up else time.perf_counter()
                await one(connection, index)  # type: ignore[operator]
                latencies.append((time.perf_counter() - sent) * 1000)
                due += rng.expovariate(rate_per_client)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for index in range(clients):
            nursery.start_soon(client, index)
    return latencies, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def bare_quart() -> AsyncIterator[int]:
    """The yardstick, a bare Quart-Trio handler, in its own process: its port."""
    port = free_port()
    command = [sys.executable, "-m", "bench.bare_quart", str(port)]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with trio.fail_after(20):
            while True:
                try:
                    async with connect("127.0.0.1", port):
                        break
                except OSError:
                    await trio.sleep(0.05)  # the yardstick is starting; a benchmark may poll
        yield port
    finally:
        process.terminate()
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()


async def echo(connection: Connection, _: int) -> None:
    answer = await connection.request("POST", "/echo", body={"content": "hello from a bench"})
    assert answer.status == 200


async def post_beside_bare(
    host: str, port: int, clients: int, seconds: float, post: object
) -> list[str]:
    """POSTs and the bare handler, `seconds` each, in rounds taken in turn."""
    ours: tuple[list[float], float] = ([], 0.0)
    bare: tuple[list[float], float] = ([], 0.0)
    rounds = []
    async with bare_quart() as bare_port:
        for _ in range(ROUNDS):
            posted, post_s = await load(host, port, clients, seconds / ROUNDS, post)
            ours = (ours[0] + posted, ours[1] + post_s)
            echoed, echo_s = await load("127.0.0.1", bare_port, clients, seconds / ROUNDS, echo)
            bare = (bare[0] + echoed, bare[1] + echo_s)
            rounds.append((len(posted) / post_s) / (len(echoed) / echo_s))
    ratio = (len(ours[0]) / ours[1]) / (len(bare[0]) / bare[1])
    return [
        summary("POST message", *ours),
        summary("bare Quart-Trio POST", *bare),
        f"POST is {ratio:.0%} of bare (rounds: {', '.join(f'{r:.0%}' for r in rounds)})",
    ]


def seed(
    database_url: str, guild_id: int, channel_id: int, author_id: int, count: int
) -> list[int]:
    """`count` messages in `channel_id`, in one statement; their ids, oldest first."""
    now_ms = int(time.time() * 1000) - 1420070400000
    base = (now_ms - 86_400_000) << 22  # a day ago, so new messages sort after them
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO messages (id, channel_id, guild_id, author_id, content)"
            " SELECT %s::bigint + g::bigint * 350000, %s, %s, %s,"
            " 'message ' || g || ' '"
            " || (ARRAY['alpha','bravo','charlie','delta','echo'])[1 + g %% 5]"
            " || ' m' || g FROM generate_series(1, %s) g",
            (base, channel_id, guild_id, author_id, count),
        )
        # Vacuumed now, as a channel's old messages long since are: else autovacuum starts on
        # the million new rows in the middle of the measurement, and that is what it measures.
        db.execute("VACUUM (ANALYZE) messages")
    return [base + g * 350000 for g in (1, count)]


async def main(seconds: float, messages: int, clients: int) -> None:
    lines = []
    async with running_server() as server:
        url = urlsplit(server.api_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        async with connect(host, port) as setup:
            registered = await setup.request(
                "POST",
                "/api/v10/auth/register",
                body={
                    "username": "bench_owner",
                    "email": "bench@example.test",
                    "password": "bench-password",
                },
            )
            assert registered.status == 201, registered.body
            token = registered.json()["token"]  # type: ignore[index]
            auth = {"Authorization": f"Bearer {token}"}
            user_id = int(registered.json()["user"]["id"])  # type: ignore[index]
            guild = (
                await setup.request("POST", "/api/v10/guilds", headers=auth, body={"name": "Bench"})
            ).json()
            guild_id = int(guild["id"])  # type: ignore[index]
            made = []
            for name in ("posting", "archive"):
                channel = await setup.request(
                    "POST",
                    f"/api/v10/guilds/{guild_id}/channels",
                    headers=auth,
                    body={"name": name},
                )
                made.append(int(channel.json()["id"]))  # type: ignore[index]
        posting, archive = made

        async def post(connection: Connection, index: int) -> None:
            answer = await connection.request(
                "POST",
                f"/api/v10/channels/{posting}/messages",
                headers=auth,
                body={"content": f"hello from client {index}"},
            )
            assert answer.status == 200, answer.body

        lines += await post_beside_bare(host, port, clients, seconds, post)

        started = time.perf_counter()
        first, last = await trio.to_thread.run_sync(
            seed, server.database_url, guild_id, archive, user_id, messages
        )
        lines.append(f"seeded {messages} messages in {time.perf_counter() - started:.1f} s")
        rng = random.Random(7)

        async def page(connection: Connection, _: int) -> None:
            before = rng.randint(first, last)
            answer = await connection.request(
                "GET",
                f"/api/v10/channels/{archive}/messages?limit=50&before={before}",
                headers=auth,
            )
            assert answer.status == 200, answer.body
            assert len(answer.json()) == 50 or before < first + 50 * 350000  # type: ignore[arg-type]

        latencies, elapsed = await load(host, port, clients, seconds, page)
        lines.append(summary(f"history page of 50 from {messages}, saturating", latencies, elapsed))
        paced_s = max(seconds, MIN_PACED_S)
        latencies, elapsed = await paced(host, port, clients, READER_RATE, paced_s, page)
        lines.append(
            summary(f"same, {clients} readers at {READER_RATE:g} pages/s each", latencies, elapsed)
        )

        async def search(connection: Connection, index: int) -> None:
            # Half common words (a fifth of all messages match), half a unique token.
            word = (
                rng.choice(["alpha", "bravo", "charlie", "delta", "echo"])
                if index % 2
                else f"m{rng.randint(1, messages)}"
            )
            answer = await connection.request(
                "GET",
                f"/api/v10/guilds/{guild_id}/messages/search?content={word}&channel_id={archive}",
                headers=auth,
            )
            assert answer.status == 200, answer.body
            assert answer.json()["total_results"] >= 1  # type: ignore[index]

        latencies, elapsed = await load(host, port, clients, seconds, search)
        lines.append(summary(f"search over {messages}, saturating", latencies, elapsed))
        latencies, elapsed = await paced(host, port, clients, SEARCH_RATE, paced_s, search)
        lines.append(
            summary(f"same, {clients} searchers at {SEARCH_RATE:g}/s each", latencies, elapsed)
        )
    cpu = time.process_time()
    lines.append(f"load generator CPU {cpu:.1f} s")
    print("messages: " + " | ".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=32)
    options = parser.parse_args()
    trio.run(main, options.seconds, options.messages, options.clients)
