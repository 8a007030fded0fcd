"""The `voice` scenario: speakers' encrypted Opus-sized RTP forwarded by the server's SFU to 16
listeners each, every copy re-encrypted with its listener's key — against the C floor (the
same forwarding, without crypto or anything else, from ../shared/perf) measured in the same run.

Every participant is real: a bot with its main gateway session, op 4, its voice gateway
connection over TLS, IP discovery from its own UDP socket, and SESSION_DESCRIPTION's key;
speakers and listeners mix both modes. The media then comes from the native generator
(bench/voice_load) on the other core, handed those sockets. Phases: a warm-up that every
listener must hear; the C floor (best of two); the server unpaced (best of two) for the most
it forwards; then --duration paced at 70 % of that, for loss, added latency (send to receipt,
one clock) and the server's memory over time."""

from __future__ import annotations

import os
import ssl
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from bench.gateway_client import GatewaySession
from bench.probe import ServerProbe
from bench.report import Progress
from bench.target import BenchError
from bench.voice_client import (
    MODES,
    SPEAKING,
    VoiceConnection,
    join_channel,
    keep_gateway,
    keep_voice,
    open_voice,
)
from bench.voice_floor import PERF, available, floor
from bench.voice_generator import Outcome, Pace, Participant, run_generator, udp_socket

if TYPE_CHECKING:
    from bench.report import Report
    from bench.target import Bot
    from bench.tool import _Run

GUILDS, GUILD_VOICE_STATES = 1 << 0, 1 << 7
_SEATING = 16  # participants signalling at once
_WARM_UP_PER_SPEAKER = 50.0  # packets a second: one Opus frame each 20 ms
_PACED_SHARE = 0.7
_RSS_EVERY_S = 1.0
_LEAVE_S = 5.0
_SATURATED = 0.9
TARGET_RATIO, TARGET_P99_MS = 0.75, 1.0


@dataclass(frozen=True)
class Phases:
    """How long the fixed phases last (--duration sets the paced one)."""

    warm_up_s: float = 1.0
    floor_s: float = 3.0  # udp_bench.py's run length
    max_s: float = 5.0
    tries: int = 2  # of the floor and of the unpaced run, the best counts


PHASES = Phases()


@dataclass
class _Cast:
    speakers: list[Participant] = field(default_factory=list)
    listeners: list[Participant] = field(default_factory=list)
    connections: list[VoiceConnection] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # connections that ended during the run
    server: tuple[str, int] = ("", 0)  # the SFU's UDP address


@dataclass(frozen=True)
class _Seat:
    bot: Bot
    guild_id: str
    channel_id: str
    channel: int  # index, for the generator
    speaker: bool
    mode: str


async def _voice_channels(run: _Run, stack: AsyncExitStack, count: int) -> list[str]:
    connection = await run.target.open(stack)
    guild_id = run.fleet.spaces[0].guild_id
    found = []
    for index in range(count):
        created = await run.target.call(
            connection,
            "POST",
            f"/guilds/{guild_id}/channels",
            run.fleet.owner_token,
            {"name": f"voice {index}", "type": 2},
        )
        if not isinstance(created, dict) or created.get("type") != 2:
            raise BenchError("POST /guilds/{id}/channels did not create a voice channel")
        found.append(str(created["id"]))
    return found


def _seats(run: _Run, channel_ids: list[str]) -> list[_Seat]:
    """The first bot of each channel speaks, the others listen; modes alternate so each
    channel has both, and so do the speakers."""
    per_channel = 1 + run.options.listeners
    guild_id = run.fleet.spaces[0].guild_id
    return [
        _Seat(
            bot,
            guild_id,
            channel_ids[index // per_channel],
            index // per_channel,
            index % per_channel == 0,
            MODES[(index // per_channel + index % per_channel) % 2],
        )
        for index, bot in enumerate(run.fleet.bots)
    ]


async def _sit(
    seat: _Seat,
    gateway_url: str,
    ssl_context: ssl.SSLContext,
    cast: _Cast,
    stack: AsyncExitStack,
    keepers: trio.Nursery,
    limiter: trio.CapacityLimiter,
) -> None:
    """One participant through signalling, then kept alive in `keepers`."""
    async with limiter:
        session = await GatewaySession.open(gateway_url)
        stack.push_async_callback(session.aclose)
        ready = await session.identify(f"Bot {seat.bot.token}", GUILDS | GUILD_VOICE_STATES)
        user_id = str(ready["user"]["id"])
        joined = await join_channel(
            session,
            user_id,
            seat.guild_id,
            seat.channel_id,
            self_mute=not seat.speaker,
            self_deaf=seat.speaker,
        )
        sock = udp_socket()
        stack.callback(sock.close)
        voice = await open_voice(
            keepers,
            joined,
            guild_id=seat.guild_id,
            user_id=user_id,
            sock=sock,
            mode=seat.mode,
            ssl_context=ssl_context,
        )
        if seat.speaker:
            await voice.send(SPEAKING, {"speaking": 1, "delay": 0, "ssrc": voice.ssrc})
    cast.server = voice.server
    cast.connections.append(voice)
    keepers.start_soon(keep_gateway, session, cast.lost)
    keepers.start_soon(keep_voice, voice, cast.lost)
    participant = Participant(sock, voice.ssrc, seat.mode, voice.key, seat.channel)
    (cast.speakers if seat.speaker else cast.listeners).append(participant)


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Trusts `ca_file` (the certificate --start-server made) or else the system's roots."""
    return ssl.create_default_context(cafile=ca_file)


async def voice(run: _Run) -> Report:
    options = run.options
    seats = options.speakers * (1 + options.listeners)
    if options.speakers < 1 or options.listeners < 1:
        raise BenchError("--speakers and --listeners must be at least 1")
    if 2 * seats > options.max_connections:  # a main and a voice gateway connection each
        raise BenchError(f"{2 * seats} connections is over --max-connections")
    if not 0 < options.duration_s <= 3600:
        raise BenchError("--duration must be between 0 and 3600 seconds")
    await run.target.provision(run.fleet, spaces=1, bots=seats, owner_token=options.token)
    cast = _Cast()
    progress = Progress("voice")
    async with AsyncExitStack() as stack:
        connection = await run.target.open(stack)
        gateway_url = await run.gateway_url(connection)
        channel_ids = await _voice_channels(run, stack, options.speakers)
        async with trio.open_nursery() as keepers:
            limiter = trio.CapacityLimiter(_SEATING)
            context = _ssl_context(options.voice_ca)
            async with trio.open_nursery() as seating:
                for seat in _seats(run, channel_ids):
                    seating.start_soon(
                        _sit, seat, gateway_url, context, cast, stack, keepers, limiter
                    )
            progress.show(0, 1, f"{seats} participants seated")
            try:
                report = await _measure(run, cast, progress)
            finally:
                await _leave(cast)
                keepers.cancel_scope.cancel()
    progress.done()
    return report


async def _leave(cast: _Cast) -> None:
    """Closes the voice connections (their streams outlive the tasks `keepers` cancels)."""
    with trio.move_on_after(_LEAVE_S, shield=True):
        async with trio.open_nursery() as nursery:
            for connection in cast.connections:
                connection.leaving = True
                nursery.start_soon(connection.ws.aclose)


def _generator_cpus(run: _Run) -> tuple[tuple[int, ...], int | None]:
    """The generator's cores, and the server's (the first core not the generator's), if pinned."""
    cpus = run.options.generator_cpus
    if not cpus:
        return (), None
    others = [core for core in sorted(os.sched_getaffinity(0)) if core not in cpus]
    return cpus, (others[0] if others else None)


async def _measure(run: _Run, cast: _Cast, progress: Progress) -> Report:
    options = run.options
    cpus, server_core = _generator_cpus(run)
    port = cast.server[1]
    probe = ServerProbe(options.gateway_pid)

    async def generate(pace: Pace) -> Outcome:
        return await run_generator(cast.speakers, cast.listeners, pace, server_port=port, cpus=cpus)

    phases = PHASES
    warm = await generate(Pace(_WARM_UP_PER_SPEAKER * len(cast.speakers), phases.warm_up_s))
    deaf = sum(1 for heard in warm.report["listeners"] if not heard["received"])
    if not warm.report["received"]:
        raise BenchError(f"the server forwarded nothing in the warm-up: {_faults(warm)}")
    if deaf:
        run.warnings.append(f"{deaf} listeners heard nothing in the warm-up")
    pace = Pace(0.0, 0.0)
    progress.show(0.1, 1, "C floor")
    floors: list[dict[str, Any]] = []
    if available():
        floors = [
            await floor(
                receivers=options.listeners,
                packet_bytes=12 + pace.payload_bytes + 16 + 4,
                duration_s=phases.floor_s,
                forwarder_cpu=server_core,
                load_cpu=cpus[0] if cpus else None,
                tries=phases.tries,
                reading=reading,
            )
            for reading in (True, False)
        ]
    else:
        run.warnings.append(
            f"no C floor: its sources are not in {PERF} (set TRIOXIDE_BENCH_PERF); no ratio"
        )
    progress.show(0.2, 1, "unpaced")
    tries = []
    for _ in range(phases.tries):
        cpu_before = probe.cpu_s()
        tried = await generate(Pace(0.0, phases.max_s))
        cpu_after = probe.cpu_s()
        if cpu_before is not None and cpu_after is not None:
            tried.extra["server_core_share"] = round((cpu_after - cpu_before) / tried.wall_s, 3)
        tries.append(tried)
    best = max(tries, key=_out_per_s)
    out_per_s = _out_per_s(best)
    if not best.server_drops:
        run.warnings.append(
            "the server's socket dropped nothing while unpaced: the generator, not the server,"
            " set the most forwarded (add --speakers, or free the generator's core)"
        )
    rate_in = _PACED_SHARE * out_per_s / options.listeners
    progress.show(0.3, 1, f"paced at {rate_in:,.0f} packets/s in")
    rss: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sample_rss, probe, rss)
        cpu_before = probe.cpu_s()
        paced = await generate(Pace(rate_in, options.duration_s))
        cpu_after = probe.cpu_s()
        nursery.cancel_scope.cancel()
    return _report(run, cast, floors, best, paced, rss, cpu_before, cpu_after)


def _out_per_s(outcome: Outcome) -> float:
    """Packets the server sent the listeners a second: those they opened, and those their
    sockets had no room for (the generator's share of the core is not the server's)."""
    sent = outcome.report["received"] + outcome.listener_drops
    return float(sent / max(outcome.report["send_s"], 1e-9))


def _faults(outcome: Outcome) -> dict[str, Any]:
    found = outcome.report
    keys = ("sent", "send_errors", "bad_tag", "not_ours", "misrouted", "wrong_ssrc")
    return {key: found[key] for key in keys} | {"server_socket_drops": outcome.server_drops}


async def _sample_rss(probe: ServerProbe, into: list[int]) -> None:
    while (found := probe.rss_bytes()) is not None:
        into.append(found)
        await trio.sleep(_RSS_EVERY_S)


def _ms(micros: dict[str, float]) -> dict[str, float]:
    return {k: (v if k == "count" else round(v / 1000, 3)) for k, v in micros.items()}


def _ratio(out_per_s: float, floor_found: dict[str, Any] | None) -> float | None:
    """Our packets out per second over the floor's, when there is one."""
    if floor_found is None:
        return None
    floor_out: float = floor_found["out_pps"]
    return round(out_per_s / max(floor_out, 1e-9), 3)


def _report(
    run: _Run,
    cast: _Cast,
    floors: list[dict[str, Any]],
    best: Outcome,
    paced: Outcome,
    rss: list[int],
    cpu_before: float | None,
    cpu_after: float | None,
) -> Report:
    options = run.options
    found = paced.report
    out_per_s = _out_per_s(best)
    # Our listeners read what they are sent: the reading floor is the like-for-like one.
    reading, holding = (floors[0], floors[1]) if floors else (None, None)
    ratio = _ratio(out_per_s, reading)
    latency = _ms(found["latency_us"])
    forwarded = found["received"] + paced.listener_drops
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    busy = (found["cpu_s"]["sender"] + found["cpu_s"]["receiver"]) / max(paced.wall_s, 1e-9)
    if busy > _SATURATED:
        run.warnings.append(
            f"the generator used {busy:.0%} of a core while paced: the latencies include its own"
        )
    if cast.lost:
        run.warnings.append(f"{len(cast.lost)} connections ended during the run: {cast.lost[0]}")
    mib = [round(r / 2**20, 1) for r in rss]
    return {
        "scenario": "voice",
        "parameters": {
            "speakers": options.speakers,
            "listeners_per_speaker": options.listeners,
            "packet_bytes": 12 + Pace(0, 0).payload_bytes + 20,
            "modes": "both, mixed in every channel",
            "duration_s": options.duration_s,
        },
        "figures": {
            "forwarded_out_per_s": round(out_per_s),
            "c_floor_out_per_s": reading and round(reading["out_pps"]),
            "ratio_to_floor": ratio,
            "c_floor_holding_out_per_s": holding and round(holding["out_pps"]),
            "ratio_to_holding_floor": _ratio(out_per_s, holding),
            "unpaced": {
                "offered_in_per_s": round(best.report["sent_per_s"]),
                "received_per_s": round(best.report["received"] / best.report["send_s"]),
                "server_socket_drops": best.server_drops,
                "listener_socket_drops": best.listener_drops,
                "server_core_share": best.extra.get("server_core_share"),
            },
            "paced": {
                "in_per_s": round(found["sent_per_s"]),
                "out_per_s": round(forwarded / max(found["send_s"], 1e-9)),
                "expected": found["expected"],
                "received": found["received"],
                "lost": found["lost"],
                "server_socket_drops": paced.server_drops,
                "listener_socket_drops": paced.listener_drops,
                "duplicates": found["duplicates"],
                "out_of_order": found["out_of_order"],
                "bad_tag": found["bad_tag"],
                "stale": found["stale"],
                "misrouted": found["misrouted"] + found["wrong_ssrc"],
                "latency_ms": latency,
            },
            "targets": {
                f"ratio >= {TARGET_RATIO}": ratio is not None and ratio >= TARGET_RATIO,
                "no loss at 70 %": found["lost"] == 0 and found["expected"] > 0,
                f"p99 <= {TARGET_P99_MS} ms": 0 < latency["p99"] <= TARGET_P99_MS,
            },
            "connections_lost": len(cast.lost),
        },
        "server": {
            "rss_mib": {
                "start": mib[0] if mib else None,
                "end": mib[-1] if mib else None,
                "max": max(mib, default=None),
                "samples": len(mib),
            },
            "cpu_s": None if cpu is None else round(cpu, 3),
            "cpu_us_per_forwarded": None
            if cpu is None or not forwarded
            else round(cpu / forwarded * 1e6, 3),
            "c_floor": reading,
            "c_floor_holding": holding,
        },
        "generator": {
            "cpu_s": round(found["cpu_s"]["process"], 3),
            "sender_core_share": round(found["cpu_s"]["sender"] / max(paced.wall_s, 1e-9), 3),
            "receiver_core_share": round(found["cpu_s"]["receiver"] / max(paced.wall_s, 1e-9), 3),
        },
        "series": {
            "latency_ms": [round(us / 1000, 4) for us in found["latency_samples_us"]],
            "forwarded_per_s": [
                [i / 4, n * 4] for i, n in enumerate(found["received_per_quarter_s"])
            ],
            "server_rss_mib": [[i * _RSS_EVERY_S, m] for i, m in enumerate(mib)],
        },
        "warnings": run.warnings,
    }
