"""The floor the voice scenario is held to: ../shared/perf's C forwarder in its recvmmsg +
sendmmsg mode, no crypto, to 16 receivers, measured in the same run on the same cores as
udp_bench.py measures it (forwarder on the server's core; sender and sink on the generator's),
so that the ratio holds even where absolute figures do not travel.

Two sinks: udp_bench.py's, which holds (binds and never reads, so the kernel drops copies at a
full queue, cheaply), and one that reads every copy, as the scenario's listeners do. Delivering
into a socket that is read costs the forwarder's core about 0.3 µs more per copy (measured with
native/examples/sfu_forward.rs), so only the reading floor compares like with like."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from bench.target import BenchError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

PERF = Path(
    os.environ.get("TRIOXIDE_BENCH_PERF", Path(__file__).resolve().parents[2] / "shared" / "perf")
)
BUILT = Path(__file__).resolve().parent / "voice_load" / "target" / "c-floor"
_PROGRAMS = ("udp_fwd", "udp_send", "udp_sink")
_BATCH = 32  # udp_bench.py's batch for the forwarder and the sender
_START_S = 0.5  # the sink, then the forwarder, are given this to bind before the sender starts


def available() -> bool:
    """Whether the floor's sources are here (../shared/perf beside the checkout, or
    TRIOXIDE_BENCH_PERF): a checkout elsewhere runs the scenario without its floor."""
    return all((PERF / f"{name}.c").exists() for name in _PROGRAMS)


async def build() -> Path:
    """The floor's three programs, compiled with gcc -O2 as udp_bench.py does, once."""
    BUILT.mkdir(parents=True, exist_ok=True)
    for name in _PROGRAMS:
        source, binary = PERF / f"{name}.c", BUILT / name
        if not source.exists():
            raise BenchError(f"the C floor's {source} is missing (set TRIOXIDE_BENCH_PERF)")
        if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
            continue
        try:
            await trio.run_process(["gcc", "-O2", "-o", str(binary), str(source)])
        except (FileNotFoundError, subprocess.CalledProcessError):
            raise BenchError(f"cannot build the C floor's {name} (gcc?)") from None
    return BUILT


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback UDP ports (found by binding them all)."""
    for _ in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        base: int = probe.getsockname()[1]
        held = [probe]
        try:
            for offset in range(1, count):
                extra = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(extra)
                extra.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return base
    raise BenchError(f"no {count} consecutive free UDP ports on loopback")


def _pinned(cpu: int | None, command: list[str]) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


async def run_floor(
    *,
    receivers: int = 16,
    packet_bytes: int = 160,
    duration_s: float = 3.0,
    pps: float = 0.0,
    forwarder_cpu: int | None = None,
    load_cpu: int | None = None,
    reading: bool = False,
) -> dict[str, Any]:
    """One run of the C forwarder (mmsg mode) with its sender unpaced (`pps` 0) or paced, into
    a holding sink or (`reading`) one that reads:
    the forwarder's own figures (in_pps, out_pps, cpu_s…), the sender's, and the offered rate."""
    built = await build()
    listen, sinks = _free_ports(1), _free_ports(receivers)
    sink_command = [str(built / "udp_sink"), str(sinks), str(receivers), str(int(duration_s + 4))]
    forwarder_command = [str(built / "udp_fwd"), str(listen), str(receivers), "mmsg", str(sinks)]
    send_command = [str(built / "udp_send"), str(listen), str(packet_bytes), f"{duration_s + 1:g}"]
    async with AsyncExitStack() as stack:
        hold = [] if reading else ["hold"]
        sink = await stack.enter_async_context(_running(_pinned(load_cpu, [*sink_command, *hold])))
        await trio.sleep(_START_S)  # udp_bench.py's head start, so the ports are bound
        forwarder = await stack.enter_async_context(
            _running(_pinned(forwarder_cpu, [*forwarder_command, f"{duration_s:g}", str(_BATCH)]))
        )
        await trio.sleep(_START_S)
        with trio.fail_after(duration_s + 10):
            sent = await trio.run_process(
                _pinned(load_cpu, [*send_command, "200000000", str(int(pps)), str(_BATCH)]),
                capture_stdout=True,
            )
            fwd = json.loads(await _output(forwarder))
            await _output(sink)
    sender = json.loads(sent.stdout)
    if not fwd.get("out"):
        raise BenchError("the C floor forwarded nothing")
    return {"forwarder": fwd, "sender": sender, "offered_pps": sender["pps"]}


@asynccontextmanager
async def _running(command: list[str]) -> AsyncIterator[trio.Process]:
    """A floor program, killed on the way out if it has not ended by itself."""
    try:
        process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    except FileNotFoundError:
        raise BenchError("taskset is missing (util-linux): it pins the C floor") from None
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _output(process: trio.Process) -> bytes:
    """Everything the program prints (one JSON line, at its end)."""
    assert process.stdout is not None
    chunks = []
    while chunk := await process.stdout.receive_some():
        chunks.append(chunk)
    if await process.wait() != 0:
        raise BenchError(f"a C floor program failed ({process.returncode})")
    return b"".join(chunks)


async def floor(
    *,
    receivers: int,
    packet_bytes: int,
    duration_s: float,
    forwarder_cpu: int | None,
    load_cpu: int | None,
    tries: int = 2,
    reading: bool = False,
) -> dict[str, Any]:
    """The floor as udp_bench.py takes it: the best of `tries` unpaced runs, by packets out."""
    best: dict[str, Any] | None = None
    for _ in range(tries):
        found = await run_floor(
            receivers=receivers,
            packet_bytes=packet_bytes,
            duration_s=duration_s,
            forwarder_cpu=forwarder_cpu,
            load_cpu=load_cpu,
            reading=reading,
        )
        if best is None or found["forwarder"]["out_pps"] > best["forwarder"]["out_pps"]:
            best = found
    assert best is not None
    fwd = best["forwarder"]
    return {
        "mode": "c recvmmsg + sendmmsg (udp_fwd mmsg), sink "
        + ("reading" if reading else "holding"),
        "receivers": receivers,
        "packet_bytes": packet_bytes,
        "in_pps": fwd["in_pps"],
        "out_pps": fwd["out_pps"],
        "cpu_s": fwd["cpu_s"],
        "elapsed_s": fwd["elapsed_s"],
        "offered_pps": best["offered_pps"],
    }
