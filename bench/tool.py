"""trioxide-bench: realistic load against a Trioxide deployment, or any server speaking Discord
API v10 and Gateway v10, and what it held and where it broke.

    trioxide-bench gateway-fanout --api http://127.0.0.1:8080 --sessions 1000 --rate 20
    trioxide-bench standard --start-server --json report.json --html report.html

Scenarios provision their own bot fleet and guilds through the public API and delete the guilds
afterwards. Every run is bounded by --duration and --max-connections and targets loopback
unless --allow-remote is given. The generator reports its own CPU and warns when a process of
it was near a full core: then the figures describe the generator, not the server.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import trio

from bench.interactions import interactions
from bench.probe import ServerProbe, machine_steal_s
from bench.report import Progress, Report, per_interval, percentiles, table, write_html, write_json
from bench.sessions import Plan, Workers
from bench.target import Address, BenchError, Fleet, Target
from bench.voice import voice
from bench.voice_server import started_voice_server
from bench.web import started_web_server, web_client

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from bench.http import Connection

GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 9, 1 << 15
SATURATED = 0.9  # of one core: past this, a generator process is the bottleneck
DRAIN_S = 5.0  # after the last POST, how long deliveries may still arrive
_LATENCY_SAMPLES = 20_000  # kept for the histogram


@dataclass(frozen=True)
class Options:
    api_url: str = ""
    gateway_url: str = ""  # "" → asked of GET /gateway
    duration_s: float = 10.0
    max_connections: int = 2000
    allow_remote: bool = False
    workers: int = 1
    sessions: int = 100
    bots: int = 0  # 0: one bot per session
    guilds: int = 1
    rate: float = 20.0  # messages (or requests) per second
    connect_rate: float = 200.0  # sessions per second
    compress: bool = False
    content_bytes: int = 40
    clients: int = 8
    messages: int = 5  # resume-storm: posted while the sessions are away
    search_to: float = 1600.0  # interactions: the highest rate its search for the most tries
    token: str | None = None  # an existing person's token, instead of registering one
    api_pid: int | None = None  # for CPU and memory figures, when on this host
    gateway_pid: int | None = None
    generator_cpus: tuple[int, ...] = ()  # pin the generator's processes here
    speakers: int = 8  # voice: one voice channel each
    listeners: int = 16  # voice: per speaker
    voice_ca: str | None = None  # voice: the CA file to trust for the voice gateway's TLS


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class _Run:
    """One scenario's run: its options, target, fleet and warnings."""

    options: Options
    target: Target
    fleet: Fleet = field(default_factory=Fleet)
    warnings: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    own_cpu_start: float = field(default_factory=_own_cpu_s)

    async def provision(self, *, bots: int) -> None:
        """Checks the run's bounds, then provisions its guilds and `bots` behind the sessions."""
        options = self.options
        _check_bounds(options, options.sessions)
        await self.target.provision(
            self.fleet, spaces=options.guilds, bots=bots, owner_token=options.token
        )

    def generator(self, worker_cpu_s: list[float], wall_s: float) -> dict[str, Any]:
        """The generator's own cost, with a warning if a process of it was saturated."""
        coordinator = _own_cpu_s() - self.own_cpu_start
        shares = [cpu / wall_s for cpu in worker_cpu_s] if wall_s > 0 else []
        busiest = max(shares, default=0.0)
        if busiest > SATURATED or coordinator / max(wall_s, 1e-9) > SATURATED:
            self.warnings.append(
                f"the load generator was saturated ({busiest:.0%} of a core in its busiest"
                " process): add --workers, or the figures measure the generator"
            )
        return {
            "processes": len(worker_cpu_s) + 1,
            "cpu_s": round(coordinator + sum(worker_cpu_s), 3),
            "busiest_process_core_share": round(busiest, 3),
            "coordinator_core_share": round(coordinator / max(wall_s, 1e-9), 3),
        }

    async def gateway_url(self, connection: Connection) -> str:
        if self.options.gateway_url:
            return self.options.gateway_url
        found = await self.target.call(connection, "GET", "/gateway", None)
        if not isinstance(found, dict) or not isinstance(found.get("url"), str):
            raise BenchError("GET /api/v10/gateway answered without a `url`")
        url: str = found["url"]
        Address.of(url.replace("ws://", "http://", 1), self.options.allow_remote)
        return url

    def plans(self, url: str, tokens: list[tuple[str, int]], intents: int) -> list[Plan]:
        options = self.options
        count = max(1, min(options.workers, len(tokens) or 1))
        return [
            Plan(
                url,
                options.compress,
                intents,
                tokens[index::count],
                options.connect_rate / count,
                options.generator_cpus,
            )
            for index in range(count)
        ]

    def session_tokens(self) -> list[tuple[str, int]]:
        bots = self.fleet.bots
        return [
            (bots[i % len(bots)].token, bots[i % len(bots)].space)
            for i in range(self.options.sessions)
        ]


def _check_bounds(options: Options, connections: int) -> None:
    if connections > options.max_connections:
        raise BenchError(
            f"{connections} connections is over --max-connections {options.max_connections}"
        )
    if options.duration_s <= 0 or options.duration_s > 3600:
        raise BenchError("--duration must be between 0 and 3600 seconds")


@asynccontextmanager
async def _workers(plans: list[Plan]) -> AsyncIterator[Workers]:
    workers = Workers(plans)
    try:
        yield workers
    finally:
        workers.close()


async def _publish(
    run: _Run, connections: list[Connection], seconds: float
) -> tuple[dict[str, tuple[float, int]], dict[str, int], float]:
    """POSTs messages at the run's rate for `seconds`, round robin over the fleet's channels:
    each message's id → (time its answer arrived, space); errors by status; wall time."""
    options, fleet = run.options, run.fleet
    answered: dict[str, tuple[float, int]] = {}
    errors: dict[str, int] = {}
    progress = Progress("publishing")
    start = time.monotonic()
    content = "x" * options.content_bytes
    total = int(options.rate * seconds)

    async def publisher(index: int, connection: Connection) -> None:
        for n in range(index, total, len(connections)):
            await trio.sleep_until(_trio_time(start + n / options.rate))
            space = n % len(fleet.spaces)
            path = f"/api/v10/channels/{fleet.spaces[space].channel_id}/messages"
            headers = {"Authorization": fleet.owner_token}
            try:
                answer = await connection.request(
                    "POST", path, headers=headers, body={"content": content}
                )
            except (OSError, ConnectionError):
                errors["connection"] = errors.get("connection", 0) + 1
                continue
            now = time.monotonic()
            answered_at = time.time()  # the clock receipts are stamped with
            if answer.status == 200:
                body = answer.json()
                if not isinstance(body, dict) or "id" not in body:
                    raise BenchError("POST /channels/{id}/messages answered without an `id`")
                answered[str(body["id"])] = (answered_at, space)
            else:
                errors[str(answer.status)] = errors.get(str(answer.status), 0) + 1
            if index == 0:
                progress.show(now - start, seconds, f"{len(answered)} posted")

    async with trio.open_nursery() as nursery:
        for index, connection in enumerate(connections):
            nursery.start_soon(publisher, index, connection)
    progress.done()
    return answered, errors, time.monotonic() - start


def _trio_time(monotonic: float) -> float:
    """A time.monotonic() instant on Trio's clock (which has an offset of its own)."""
    return trio.current_time() + (monotonic - time.monotonic())


async def _open_publishers(run: _Run, stack: AsyncExitStack, count: int) -> list[Connection]:
    return [await run.target.open(stack) for _ in range(count)]


async def _await_deliveries(workers: Workers, expected: int) -> int:
    """Asks the workers for their count until it reaches `expected` or DRAIN_S passes."""
    got = 0
    with trio.move_on_after(DRAIN_S):
        while True:
            got = sum(await workers.order("count"))
            if got >= expected:
                break
            await trio.sleep(0.1)
    return got


def _connected_spaces(readies: list[dict[str, Any]]) -> int:
    return sum(len(ready["ready_s"]) for ready in readies)


async def gateway_fanout(run: _Run) -> Report:
    """N sessions in G guilds; messages POSTed at rate R; every dispatch timed from the POST's
    answer to each session's receipt, and counted: lost, duplicated, out of sequence."""
    options = run.options
    await run.provision(bots=options.bots or options.sessions)
    probe = ServerProbe(options.gateway_pid)
    async with AsyncExitStack() as stack:
        publishers = await _open_publishers(run, stack, max(1, min(8, int(options.rate // 50) + 1)))
        url = await run.gateway_url(publishers[0])
        intents = GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT
        tokens = run.session_tokens()
        workers = await stack.enter_async_context(_workers(run.plans(url, tokens, intents)))
        readies = await workers.gather()
        failures = [f for ready in readies for f in ready["failures"]]
        if not _connected_spaces(readies):
            raise BenchError(f"no gateway session became ready: {failures[:1]}")
        settle_s = await probe.settle()
        cpu_before, wall_start, steal_before = probe.cpu_s(), time.monotonic(), machine_steal_s()
        answered, errors, publish_s = await _publish(run, publishers, options.duration_s)
        await _await_deliveries(workers, expected=len(answered) * len(tokens))
        cpu_after, wall_s = probe.cpu_s(), time.monotonic() - wall_start
        steal_s = machine_steal_s() - steal_before
        reports = await workers.order("stop")
    sessions = [s for report in reports for s in report["sessions"]]
    audience: dict[int, int] = {}
    for session in sessions:
        if session["connected"]:
            audience[session["space"]] = audience.get(session["space"], 0) + 1
    expected = sum(audience.get(space, 0) for _, space in answered.values())
    latencies: list[float] = []
    receipts: list[float] = []
    for session in sessions:
        for message_id, received_at in session["received"].items():
            sent = answered.get(message_id)
            if sent is not None:
                latencies.append((received_at - sent[0]) * 1000)
                receipts.append(received_at)
    deliveries = len(latencies)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    if failures:
        run.warnings.append(f"{len(failures)} sessions failed to start: {failures[0]}")
    random.shuffle(latencies)
    return {
        "scenario": "gateway-fanout",
        "parameters": {
            "sessions": options.sessions,
            "guilds": options.guilds,
            "rate_per_s": options.rate,
            "duration_s": options.duration_s,
            "compress": "zlib-stream" if options.compress else "none",
        },
        "figures": {
            "sessions_ready": _connected_spaces(readies),
            "messages": len(answered),
            "post_errors": errors,
            "expected_deliveries": expected,
            "deliveries": deliveries,
            "lost": expected - deliveries,
            "duplicated": sum(s["duplicates"] for s in sessions),
            "out_of_sequence": sum(s["seq_gaps"] for s in sessions),
            "connections_lost": sum(1 for s in sessions if s["lost_connection"]),
            "deliveries_per_s": round(deliveries / max(publish_s, 1e-9), 1),
            "latency_ms": percentiles(latencies),
        },
        "server": {
            "settled_s": round(settle_s, 2),
            "machine_steal_s": round(steal_s, 2),
            "cpu_s": None if server_cpu is None else round(server_cpu, 3),
            "cpu_us_per_delivery": None
            if server_cpu is None or not deliveries
            else round(server_cpu / deliveries * 1e6, 2),
        },
        "generator": run.generator([r["cpu_s"] for r in reports], wall_s),
        "series": {
            "latency_ms": latencies[:_LATENCY_SAMPLES],
            "deliveries_per_s": per_interval(receipts, wall_start),
        },
        "warnings": run.warnings,
    }


async def gateway_connect(run: _Run) -> Report:
    """N sessions opened at a rate: time to READY and the first GUILD_CREATE, how many held,
    and the server's memory per session."""
    options = run.options
    bots = options.bots or min(options.sessions, 100)
    await run.provision(bots=bots)
    probe = ServerProbe(options.gateway_pid)
    async with AsyncExitStack() as stack:
        connection = await run.target.open(stack)
        url = await run.gateway_url(connection)
        rss_before, wall_start = probe.rss_bytes(), time.monotonic()
        tokens = run.session_tokens()
        workers = await stack.enter_async_context(_workers(run.plans(url, tokens, GUILDS)))
        readies = await workers.gather()
        rss_after = probe.rss_bytes()
        await trio.sleep(min(options.duration_s, 2.0))  # held: do they stay?
        reports = await workers.order("stop")
    wall_s = time.monotonic() - wall_start
    sessions = [s for report in reports for s in report["sessions"]]
    ready_s = [t * 1000 for ready in readies for t in ready["ready_s"]]
    failures = [f for ready in readies for f in ready["failures"]]
    if failures:
        run.warnings.append(f"{len(failures)} sessions failed to start: {failures[0]}")
    held = sum(1 for s in sessions if s["connected"] and not s["lost_connection"])
    grown = None if rss_before is None or rss_after is None else rss_after - rss_before
    return {
        "scenario": "gateway-connect",
        "parameters": {
            "sessions": options.sessions,
            "bots": bots,
            "connect_rate_per_s": options.connect_rate,
        },
        "figures": {
            "sessions_ready": len(ready_s),
            "sessions_held": held,
            "failed": len(failures),
            "ready_ms": percentiles(ready_s),
        },
        "server": {
            "rss_bytes_before": rss_before,
            "rss_bytes_after": rss_after,
            "rss_bytes_per_session": None if grown is None or not held else round(grown / held),
        },
        "generator": run.generator([r["cpu_s"] for r in reports], wall_s),
        "series": {"ready_ms": ready_s},
        "warnings": run.warnings,
    }


async def resume_storm(run: _Run) -> Report:
    """M sessions lose their sockets at once; messages are posted while they are away; they all
    RESUME together: time to RESUMED, and whether each got exactly what it missed."""
    options = run.options
    await run.provision(bots=options.bots or options.sessions)
    async with AsyncExitStack() as stack:
        connection = await run.target.open(stack)
        url = await run.gateway_url(connection)
        tokens = run.session_tokens()
        wall_start = time.monotonic()
        workers = await stack.enter_async_context(
            _workers(run.plans(url, tokens, GUILDS | GUILD_MESSAGES))
        )
        readies = await workers.gather()
        await workers.order("drop")
        missed: dict[int, int] = {}
        for n in range(options.messages):
            space = n % len(run.fleet.spaces)
            await run.target.call(
                connection,
                "POST",
                f"/channels/{run.fleet.spaces[space].channel_id}/messages",
                run.fleet.owner_token,
                {"content": f"while away {n}"},
            )
            missed[space] = missed.get(space, 0) + 1
        await workers.order("resume")
        reports = await workers.order("stop")
    wall_s = time.monotonic() - wall_start
    sessions = [s for report in reports for s in report["sessions"] if s["connected"]]
    resumed = [s["resumed_in"] * 1000 for s in sessions if s["resumed_in"] is not None]
    complete = sum(
        1
        for s in sessions
        if s["resumed_in"] is not None
        and s["replayed"] == missed.get(s["space"], 0)
        and not s["duplicates"]
        and not s["seq_gaps"]
    )
    failures = [f for report in reports for f in report["failures"]]
    if failures:
        run.warnings.append(f"{len(failures)} sessions failed: {failures[0]}")
    return {
        "scenario": "resume-storm",
        "parameters": {"sessions": options.sessions, "missed_messages": options.messages},
        "figures": {
            "sessions": _connected_spaces(readies),
            "resumed": len(resumed),
            "replayed_completely": complete,
            "resume_ms": percentiles(resumed),
        },
        "server": {},
        "generator": run.generator([r["cpu_s"] for r in reports], wall_s),
        "series": {"resume_ms": resumed},
        "warnings": run.warnings,
    }


_MIX = (("history", 50), ("create", 25), ("edit", 15), ("react", 10))


async def rest_mix(run: _Run) -> Report:
    """History reads, message creates, edits and reactions in a weighted mix at a target rate,
    from several keep-alive clients: latency per route, errors by status."""
    options = run.options
    _check_bounds(options, options.clients)
    await run.target.provision(run.fleet, spaces=options.guilds, bots=0, owner_token=options.token)
    probe = ServerProbe(options.api_pid)
    latencies: dict[str, list[float]] = {name: [] for name, _ in _MIX}
    errors: dict[str, dict[str, int]] = {name: {} for name, _ in _MIX}
    total = int(options.rate * options.duration_s)
    routes = random.Random(7).choices(
        [name for name, _ in _MIX], weights=[w for _, w in _MIX], k=total
    )
    mine: list[tuple[str, str]] = []  # (channel id, message id) to edit and react to
    progress = Progress("rest-mix")
    auth = {"Authorization": run.fleet.owner_token}
    async with AsyncExitStack() as stack:
        clients = await _open_publishers(run, stack, options.clients)
        for space in run.fleet.spaces:  # something to read, edit and react to from the start
            created = await run.target.call(
                clients[0],
                "POST",
                f"/channels/{space.channel_id}/messages",
                run.fleet.owner_token,
                {"content": "seed"},
            )
            mine.append((space.channel_id, str(created["id"])))
        cpu_before = probe.cpu_s()
        start = time.monotonic()

        async def client(index: int, connection: Connection) -> None:
            for n in range(index, total, len(clients)):
                await trio.sleep_until(_trio_time(start + n / options.rate))
                route = routes[n]
                channel_id, message_id = mine[n % len(mine)]
                base = f"/api/v10/channels/{channel_id}/messages"
                method, path, body = {
                    "history": ("GET", f"{base}?limit=50", None),
                    "create": ("POST", base, {"content": f"mix {n}"}),
                    "edit": ("PATCH", f"{base}/{message_id}", {"content": f"edited {n}"}),
                    "react": ("PUT", f"{base}/{message_id}/reactions/%F0%9F%91%8D/@me", None),
                }[route]
                sent = time.monotonic()
                try:
                    answer = await connection.request(method, path, headers=auth, body=body)
                except (OSError, ConnectionError):
                    errors[route]["connection"] = errors[route].get("connection", 0) + 1
                    continue
                latencies[route].append((time.monotonic() - sent) * 1000)
                if answer.status >= 300:
                    errors[route][str(answer.status)] = errors[route].get(str(answer.status), 0) + 1
                elif route == "create":
                    mine.append((channel_id, str(answer.json()["id"])))  # type: ignore[index]
                if index == 0:
                    progress.show(time.monotonic() - start, options.duration_s)

        async with trio.open_nursery() as nursery:
            for index, connection in enumerate(clients):
                nursery.start_soon(client, index, connection)
        progress.done()
        wall_s = time.monotonic() - start
        cpu_after = probe.cpu_s()
    done = sum(len(samples) for samples in latencies.values())
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return {
        "scenario": "rest-mix",
        "parameters": {
            "rate_per_s": options.rate,
            "clients": options.clients,
            "duration_s": options.duration_s,
            "mix": dict(_MIX),
        },
        "figures": {
            "requests": done,
            "requests_per_s": round(done / max(wall_s, 1e-9), 1),
            "latency_ms": {route: percentiles(samples) for route, samples in latencies.items()},
            "errors": {route: found for route, found in errors.items() if found},
        },
        "server": {
            "cpu_ms_per_request": None
            if server_cpu is None or not done
            else round(server_cpu / done * 1000, 3)
        },
        "generator": run.generator([], wall_s),
        "series": {
            "all_routes_ms": [v for samples in latencies.values() for v in samples][
                :_LATENCY_SAMPLES
            ],
        },
        "warnings": run.warnings,
    }


SCENARIOS: dict[str, Callable[[_Run], Awaitable[Report]]] = {
    "gateway-connect": gateway_connect,
    "gateway-fanout": gateway_fanout,
    "interactions": interactions,
    "rest-mix": rest_mix,
    "resume-storm": resume_storm,
    "voice": voice,
    "web-client": web_client,
}

# `standard`: a short run of every scenario, what `make bench` records.
STANDARD: list[tuple[str, dict[str, Any]]] = [
    # The idle-memory figure is taken at 10,000 identified sessions.
    (
        "gateway-connect",
        {
            "sessions": 10_000,
            "bots": 100,
            "connect_rate": 500.0,
            "workers": 2,
            "max_connections": 12_000,
        },
    ),
    # Two generator processes: 20,000 receipts a second fill most of one core's time.
    ("gateway-fanout", {"sessions": 1000, "rate": 20.0, "duration_s": 10.0, "workers": 2}),
    (
        "gateway-fanout",
        {"sessions": 1000, "rate": 20.0, "duration_s": 10.0, "compress": True, "workers": 2},
    ),
    ("rest-mix", {"rate": 200.0, "duration_s": 10.0}),
    # The figure: a person's slash command answered by a bot, at 100 a second.
    ("interactions", {"rate": 100.0, "duration_s": 10.0}),
    ("resume-storm", {"sessions": 500, "messages": 20}),
]


async def run_scenario(name: str, options: Options) -> Report:
    target = Target(Address.of(options.api_url, options.allow_remote))
    run = _Run(options, target)
    try:
        return await SCENARIOS[name](run)
    finally:
        await target.clean_up(run.fleet)


async def run_many(names: list[tuple[str, Options]]) -> list[Report]:
    reports = []
    for name, options in names:
        report = await run_scenario(name, options)
        print(table(report), flush=True)
        reports.append(report)
    return reports


@asynccontextmanager
async def started_server(options: Options) -> AsyncIterator[Options]:
    """This machine's Trioxide as the issue benchmarks it: the gateway in a process pinned to
    the first core, alone; the API (and relay) in another on its own PostgreSQL, their Redis
    and the generator on the other cores. (Unpinned, the API and PostgreSQL took turns on the
    gateway's core, and its p99 went from 14 to 50-70 ms.)"""
    import tempfile
    from pathlib import Path

    from bench.server import redis_server, running_server

    cores = sorted(os.sched_getaffinity(0))
    with (
        tempfile.TemporaryDirectory(prefix="trioxide-bench-redis-") as folder,
        redis_server(Path(folder), cpu=cores[-1]) as redis_url,
    ):
        shared = {"REDIS_URL": redis_url, "TRIOXIDE_JWT_KEYS": f"bench:{os.urandom(24).hex()}"}
        async with running_server(
            "api,worker", {**shared, "TRIOXIDE_PROCESS_ID": "1"}, cpu=cores[-1]
        ) as api:
            gateway_env = {
                **shared,
                "DATABASE_URL": api.database_url,
                "TRIOXIDE_PROCESS_ID": "2",
            }
            async with running_server("gateway", gateway_env, cpu=cores[0]) as gateway:
                yield replace(
                    options,
                    api_url=api.api_url,
                    gateway_url=gateway.gateway_url,
                    api_pid=api.pid,
                    gateway_pid=gateway.pid,
                    generator_cpus=tuple(cores[1:]) or tuple(cores),
                )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trioxide-bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("scenario", choices=[*SCENARIOS, "standard"])
    parser.add_argument("--api", default="", help="the server's base URL (http://host:port)")
    parser.add_argument(
        "--gateway", default="", help="the gateway's ws:// URL (default: GET /gateway)"
    )
    parser.add_argument(
        "--start-server", action="store_true", help="start a Trioxide here and load it"
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback target")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--max-connections", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="load-generator processes")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument(
        "--bots", type=int, default=0, help="bots behind the sessions (0: one each)"
    )
    parser.add_argument("--guilds", type=int, default=1)
    parser.add_argument("--rate", type=float, default=20.0, help="messages or requests per second")
    parser.add_argument("--connect-rate", type=float, default=200.0, help="sessions per second")
    parser.add_argument("--compress", action="store_true", help="zlib-stream on every session")
    parser.add_argument("--clients", type=int, default=8, help="rest-mix: keep-alive clients")
    parser.add_argument(
        "--messages",
        type=int,
        default=5,
        help="resume-storm: missed messages; web-client: the history to scroll",
    )
    parser.add_argument(
        "--search-to", type=float, default=1600.0, help="interactions: the search's top rate"
    )
    parser.add_argument("--speakers", type=int, default=8, help="voice: speakers, one channel each")
    parser.add_argument("--listeners", type=int, default=16, help="voice: listeners per speaker")
    parser.add_argument(
        "--voice-ca", default=None, help="voice: CA file for the voice gateway's TLS certificate"
    )
    parser.add_argument("--token", default=None, help="a person's token to provision with")
    parser.add_argument("--server-pid", type=int, default=None, help="for CPU/RSS figures")
    parser.add_argument("--json", default=None, help="write the report here as JSON")
    parser.add_argument("--html", default=None, help="write the report here as HTML")
    return parser


def options_from(arguments: argparse.Namespace) -> Options:
    return Options(
        api_url=arguments.api,
        gateway_url=arguments.gateway,
        duration_s=arguments.duration,
        max_connections=arguments.max_connections,
        allow_remote=arguments.allow_remote,
        workers=arguments.workers,
        sessions=arguments.sessions,
        bots=arguments.bots,
        guilds=arguments.guilds,
        rate=arguments.rate,
        connect_rate=arguments.connect_rate,
        compress=arguments.compress,
        clients=arguments.clients,
        messages=arguments.messages,
        search_to=arguments.search_to,
        speakers=arguments.speakers,
        listeners=arguments.listeners,
        voice_ca=arguments.voice_ca,
        token=arguments.token,
        api_pid=arguments.server_pid,
        gateway_pid=arguments.server_pid,
    )


async def _main(arguments: argparse.Namespace) -> list[Report]:
    options = options_from(arguments)
    async with AsyncExitStack() as stack:
        if arguments.start_server:
            # The voice scenario's server serves every role in one process on the first core.
            # The web client's server serves every role but voice in one process.
            starter = {"voice": started_voice_server, "web-client": started_web_server}.get(
                arguments.scenario, started_server
            )
            options = await stack.enter_async_context(starter(options))
        elif not options.api_url:
            raise BenchError("give --api URL, or --start-server")
        if arguments.scenario == "standard":
            runs = [
                (
                    name,
                    replace(
                        options,
                        **{"max_connections": max(options.max_connections, 1000), **changes},
                    ),
                )
                for name, changes in STANDARD
            ]
        else:
            runs = [(arguments.scenario, options)]
        return await run_many(runs)


def _bench_error(error: BaseException) -> BenchError | None:
    """The BenchError behind `error`, also from inside Trio's exception groups."""
    if isinstance(error, BenchError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _bench_error(inner)) is not None:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        reports = trio.run(_main, arguments)
    except BaseException as error:
        found = _bench_error(error)
        if found is None:
            raise
        print(f"trioxide-bench: {found}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("trioxide-bench: interrupted", file=sys.stderr)
        return 130
    if arguments.json:
        write_json(reports, arguments.json)
    if arguments.html:
        write_html(reports, arguments.html)
    return 0


if __name__ == "__main__":
    sys.exit(main())
