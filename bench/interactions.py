"""The `interactions` scenario: a person invokes a bot's slash command, the bot answers with a
message, the person receives it — the whole round trip timed, at a fixed rate and then at
doubling rates until the server falls behind.

One clock for every figure: `time.time()`, as the kernel stamps gateway receipts. The bot here
is the generator's own and answers at once, so what it adds (receipt of INTERACTION_CREATE to
its callback leaving) is measured and taken off: `server_added_ms` is what the server spent."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from bench.gateway_client import GatewaySession
from bench.probe import ServerProbe
from bench.report import Progress, percentiles
from bench.target import BenchError

if TYPE_CHECKING:
    from bench.http import Connection
    from bench.report import Report
    from bench.tool import _Run

GUILDS, GUILD_MESSAGES = 1 << 0, 1 << 9
_STEP_S = 3.0  # each rate of the search for the most sustained
_WARM_UP_S = 2.0
_BEHIND = 0.9  # answered under this share of what was asked: the server fell behind
_HELD_P99_MS = 250.0  # a rate is held only while its answers' p99 stays under this
_DRAIN_S = 3.0  # after the last invocation, how long its answer may still take


@dataclass
class _Trips:
    """Every invocation of one step: nonce → sent; interaction id → nonce; the bot's share."""

    sent: dict[str, float] = field(default_factory=dict)
    nonce_of: dict[str, str] = field(default_factory=dict)
    bot_s: dict[str, float] = field(default_factory=dict)  # interaction id → the bot's time
    round_trip_ms: list[float] = field(default_factory=list)
    server_added_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    answered: trio.Event = field(default_factory=trio.Event)
    expected: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _heartbeat(session: GatewaySession) -> None:
    while True:
        await trio.sleep(session.heartbeat_interval_s * 0.9)
        await session.send(1, session.seq or None)


async def _bot(
    run: _Run, session: GatewaySession, pool: list[Connection], trips: list[_Trips]
) -> None:
    """Answers every INTERACTION_CREATE with a message (callback 4), on a free connection."""
    free_send, free_receive = trio.open_memory_channel[Any](len(pool))
    for connection in pool:
        free_send.send_nowait(connection)

    async def answer(interaction_id: str, token: str, received_at: float) -> None:
        connection = await free_receive.receive()
        try:
            trips[-1].bot_s[interaction_id] = time.time() - received_at
            answer = await connection.request(
                "POST",
                f"/api/v10/interactions/{interaction_id}/{token}/callback",
                body={"type": 4, "data": {"content": "pong"}},
            )
            if answer.status != 204:
                trips[-1].error(f"callback {answer.status}")
        finally:
            free_send.send_nowait(connection)

    async with trio.open_nursery() as nursery:
        while True:
            dispatch = await session.next_dispatch()
            if dispatch.name == "INTERACTION_CREATE":
                nursery.start_soon(
                    answer, dispatch.d["id"], dispatch.d["token"], dispatch.received_at
                )


async def _person(session: GatewaySession, trips: list[_Trips]) -> None:
    """Matches each answer to its invocation: INTERACTION_CREATE names the interaction's nonce,
    the answer's `interaction_metadata` names the interaction."""
    while True:
        dispatch = await session.next_dispatch()
        current = trips[-1]
        if dispatch.name == "INTERACTION_CREATE":
            current.nonce_of[dispatch.d["id"]] = dispatch.d["nonce"]
        elif dispatch.name == "MESSAGE_CREATE" and dispatch.d.get("interaction_metadata"):
            interaction_id = dispatch.d["interaction_metadata"]["id"]
            sent = current.sent.get(current.nonce_of.get(interaction_id, ""))
            if sent is None:
                continue  # a straggler of an earlier step
            round_trip = (dispatch.received_at - sent) * 1000
            current.round_trip_ms.append(round_trip)
            current.server_added_ms.append(round_trip - current.bot_s.get(interaction_id, 0) * 1000)
            if len(current.round_trip_ms) >= current.expected:
                current.answered.set()


async def _invoke(
    run: _Run,
    pool: list[Connection],
    body: dict[str, Any],
    rate: float,
    seconds: float,
    trips: _Trips,
) -> float:
    """Invokes at `rate` for `seconds`, round robin over `pool`; the wall time it took."""
    total = trips.expected = max(1, int(rate * seconds))
    start = trio.current_time()
    auth = {"Authorization": run.fleet.owner_token}

    async def invoker(index: int, connection: Connection) -> None:
        for n in range(index, total, len(pool)):
            await trio.sleep_until(start + n / rate)
            nonce = f"{id(trips)}-{n}"
            trips.sent[nonce] = time.time()
            try:
                answer = await connection.request(
                    "POST", "/api/v10/interactions", headers=auth, body=body | {"nonce": nonce}
                )
            except (OSError, ConnectionError):
                trips.error("connection")
                continue
            if answer.status != 204:
                trips.error(f"invoke {answer.status}")

    async with trio.open_nursery() as nursery:
        for index, connection in enumerate(pool):
            nursery.start_soon(invoker, index, connection)
    wall_s = trio.current_time() - start
    with trio.move_on_after(_DRAIN_S):
        await trips.answered.wait()
    return wall_s


async def interactions(run: _Run) -> Report:
    options = run.options
    await run.provision(bots=1)
    bot = run.fleet.bots[0]
    space = run.fleet.spaces[bot.space]
    servers = [ServerProbe(pid) for pid in {options.api_pid, options.gateway_pid}]
    async with AsyncExitStack() as stack:
        pool = [await run.target.open(stack) for _ in range(max(2, options.clients))]
        command = await run.target.call(
            pool[0],
            "POST",
            f"/applications/{bot.user_id}/commands",
            bot.token,
            {"name": "bench", "description": "trioxide-bench: a round trip"},
            bot=True,
        )
        if not isinstance(command, dict) or "version" not in command:
            raise BenchError("POST /applications/{id}/commands answered without a command")
        url = await run.gateway_url(pool[0])
        bot_session = await GatewaySession.open(url)
        stack.push_async_callback(bot_session.aclose)
        await bot_session.identify(f"Bot {bot.token}", GUILDS)
        person = await GatewaySession.open(url)
        stack.push_async_callback(person.aclose)
        ready = await person.identify(run.fleet.owner_token, GUILDS | GUILD_MESSAGES)
        body = {
            "type": 2,
            "application_id": bot.user_id,
            "guild_id": space.guild_id,
            "channel_id": space.channel_id,
            "session_id": ready["session_id"],
            "data": {
                "id": command["id"],
                "name": command["name"],
                "type": 1,
                "version": command["version"],
                "options": [],
            },
        }
        half = len(pool) // 2
        invokers, callbacks = pool[:half], pool[half:]
        steps: list[_Trips] = [_Trips()]
        async with trio.open_nursery() as nursery:
            for session in (bot_session, person):
                nursery.start_soon(_heartbeat, session)
            nursery.start_soon(_bot, run, bot_session, callbacks, steps)
            nursery.start_soon(_person, person, steps)
            # Unmeasured: the server's first interactions fill its pools, caches and prepared
            # statements, which a server that has been up a while has done long ago.
            await _invoke(run, invokers, body, options.rate, _WARM_UP_S, steps[0])
            steps.append(_Trips())
            cpu_before = _cpu_s(servers)
            progress = Progress("interactions")
            progress.show(0, options.duration_s, f"{options.rate:g}/s")
            wall_s = await _invoke(run, invokers, body, options.rate, options.duration_s, steps[1])
            cpu_after = _cpu_s(servers)
            sustained, searched = await _most_sustained(run, invokers, body, steps)
            progress.done()
            nursery.cancel_scope.cancel()
    measured = steps[1]
    done = len(measured.round_trip_ms)
    if measured.errors:
        run.warnings.append(f"errors at {options.rate:g}/s: {measured.errors}")
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return {
        "scenario": "interactions",
        "parameters": {"rate_per_s": options.rate, "duration_s": options.duration_s},
        "figures": {
            "invoked": measured.expected,
            "answered": done,
            "answered_per_s": round(done / max(wall_s, 1e-9), 1),
            "round_trip_ms": percentiles(measured.round_trip_ms),
            "server_added_ms": percentiles(measured.server_added_ms),
            "errors": measured.errors,
            "most_sustained_per_s": sustained,
            "search": searched,
        },
        "server": {
            # The API's and the gateway's processes together (one when they are one).
            "cpu_ms_per_interaction": None
            if cpu is None or not done
            else round(cpu / done * 1000, 3)
        },
        "generator": run.generator([], wall_s),
        "series": {"round_trip_ms": measured.round_trip_ms},
        "warnings": run.warnings,
    }


async def _most_sustained(
    run: _Run, invokers: list[Connection], body: dict[str, Any], steps: list[_Trips]
) -> tuple[float, list[dict[str, Any]]]:
    """Doubles the rate from the run's, a short step each, until the invocations cannot go out
    at the rate, answers fall behind, their p99 passes 250 ms, errors appear, or --search-to;
    the highest rate held."""
    rate, sustained, searched = run.options.rate, 0.0, []
    while rate <= min(run.options.search_to, 1600.0):  # loopback load stays bounded
        steps.append(_Trips())
        sent_s = await _invoke(run, invokers, body, rate, _STEP_S, steps[-1])
        step = steps[-1]
        p99 = percentiles(step.round_trip_ms)["p99"]
        # Each invoker waits for its answer before its next request: a server falling behind
        # slows what is asked of it, so a rate counts only if it really went out.
        offered = step.expected / max(sent_s, 1e-9)
        kept_up = (
            offered >= _BEHIND * rate
            and len(step.round_trip_ms) >= _BEHIND * step.expected
            and p99 <= _HELD_P99_MS
            and not step.errors
        )
        searched.append(
            {"rate_per_s": rate, "offered_per_s": round(offered, 1)}
            | {"answered": len(step.round_trip_ms), "invoked": step.expected}
            | {"p99_ms": p99, "errors": step.errors}
        )
        if not kept_up:
            break
        sustained, rate = rate, rate * 2
    return sustained, searched


def _cpu_s(servers: list[ServerProbe]) -> float | None:
    found = [server.cpu_s() for server in servers]
    return None if None in found else sum(f for f in found if f is not None)
