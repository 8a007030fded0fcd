"""The voice scenario's load generator (bench/voice_load, Rust) as the bench drives it: built
when missing, handed the participants' UDP sockets (the ones their signalling and IP discovery
used) as inherited descriptors, told on stdin whom to send as and at what rate, and read back
as one JSON report. What the kernel dropped at a socket, which the generator cannot see, is
read from /proc/net/udp."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from bench.target import BenchError

CRATE = Path(__file__).resolve().parent / "voice_load"
BINARY = CRATE / "target" / "release" / "voice-load"
RECEIVE_BUFFER_BYTES = 4 << 20  # as the C floor's sockets ask (the kernel caps it at rmem_max)
_SETTLE_S = 10.0  # at most, for the server's socket to empty between runs
_SETTLE_POLL_S = 0.05


@dataclass
class Participant:
    """One voice connection as the generator sees it: its socket (connected to the server),
    its SSRC, mode and key, its channel (an index), and a speaker's RTP state."""

    sock: socket.socket
    ssrc: int
    mode: str
    key: bytes
    channel: int
    sequence: int = 0
    timestamp: int = 0
    counter: int = 0

    def plan(self) -> dict[str, Any]:
        return {
            "fd": self.sock.fileno(),
            "ssrc": self.ssrc,
            "mode": self.mode,
            "key": self.key.hex(),
            "channel": self.channel,
            "sequence": self.sequence,
            "timestamp": self.timestamp,
            "counter": self.counter,
        }


@dataclass(frozen=True)
class Pace:
    rate_per_s: float  # every speaker's packets together; 0: as fast as they go
    duration_s: float
    payload_bytes: int = 128  # 12 + 128 + 16 + 4: 160-byte datagrams, as the C floor's
    drain_s: float = 0.3  # after the last send, how long forwarded packets may still arrive
    batch: int = 32  # unpaced: packets per sendmmsg per speaker, as the C floor's sender
    latency_samples: int = 20_000


@dataclass
class Outcome:
    """What a generator run reported, and what the kernel dropped meanwhile."""

    report: dict[str, Any]
    listener_drops: int  # datagrams the listeners' sockets had no room for
    server_drops: int | None  # datagrams the server's socket had no room for (if on this host)
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def udp_socket() -> socket.socket:
    """A blocking UDP socket on an ephemeral loopback port, with a large receive buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER_BYTES)
    sock.bind(("127.0.0.1", 0))
    return sock


async def ensure_built() -> Path:
    """The generator's binary, built in release mode by cargo if it is missing or older than
    its sources."""
    sources = [CRATE / "Cargo.toml", *(CRATE / "src").glob("*.rs")]
    if BINARY.exists() and all(s.stat().st_mtime <= BINARY.stat().st_mtime for s in sources):
        return BINARY
    command = [
        "cargo",
        "build",
        "--release",
        "--quiet",
        "--manifest-path",
        str(CRATE / "Cargo.toml"),
    ]
    try:
        # From the crate's folder, so that its .cargo/config.toml (this CPU's instructions)
        # applies.
        await trio.run_process(command, capture_stderr=True, cwd=CRATE)
    except FileNotFoundError:
        raise BenchError("the voice scenario's generator needs cargo (Rust) to build") from None
    except subprocess.CalledProcessError as error:
        tail = error.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise BenchError(f"building bench/voice_load failed: {' / '.join(tail)}") from None
    return BINARY


def socket_table(ports: set[int]) -> dict[int, tuple[int, int]]:
    """(bytes queued to read, datagrams dropped so far) of each of these local UDP ports
    (IPv4), from /proc/net/udp."""
    found: dict[int, tuple[int, int]] = {}
    with open("/proc/net/udp") as table:
        next(table)
        for line in table:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port in ports:
                queued, drops = found.get(port, (0, 0))
                found[port] = (queued + int(fields[4].split(":")[1], 16), drops + int(fields[-1]))
    return found


def socket_drops(ports: set[int]) -> dict[int, int]:
    return {port: drops for port, (_, drops) in socket_table(ports).items()}


async def settle(listeners: list[Participant], server_port: int | None) -> None:
    """Lets the server work off what an earlier run left in its socket, then empties the
    listeners' sockets: the next run starts on an idle server with nothing stale queued."""
    if server_port is not None:
        with trio.move_on_after(_SETTLE_S):
            while True:  # the kernel's count, polled: nothing to wait on
                if not socket_table({server_port}).get(server_port, (0, 0))[0]:
                    break
                await trio.sleep(_SETTLE_POLL_S)
    for listener in listeners:
        with contextlib.suppress(BlockingIOError):
            while True:
                listener.sock.recv(2048, socket.MSG_DONTWAIT)


def _port(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


async def run_generator(
    speakers: list[Participant],
    listeners: list[Participant],
    pace: Pace,
    *,
    server_port: int | None = None,
    cpus: tuple[int, ...] = (),
) -> Outcome:
    """One run: the speakers send for `pace.duration_s`, the listeners count what comes (a
    packet of an earlier run, from the server's backlog, only as `stale`). The speakers' RTP
    state is carried forward, so the next run's counters are new to the server."""
    binary = await ensure_built()
    await settle(listeners, server_port)
    plan = {
        "rate_per_s": pace.rate_per_s,
        "duration_s": pace.duration_s,
        "drain_s": pace.drain_s,
        "payload_bytes": pace.payload_bytes,
        "batch": pace.batch,
        "latency_samples": pace.latency_samples,
        "speakers": [s.plan() for s in speakers],
        "listeners": [s.plan() for s in listeners],
    }
    listening = {_port(s.sock) for s in listeners}
    watched = listening | ({server_port} if server_port is not None else set())
    before = socket_drops(watched)
    command = [str(binary)]
    if cpus:
        command = ["taskset", "-c", ",".join(map(str, cpus)), *command]
    started = trio.current_time()
    try:
        finished = await trio.run_process(
            command,
            stdin=json.dumps(plan).encode(),
            capture_stdout=True,
            capture_stderr=True,
            pass_fds=[s.sock.fileno() for s in [*speakers, *listeners]],
            check=False,
        )
    except FileNotFoundError:
        raise BenchError("taskset is missing (util-linux): it pins the generator") from None
    wall_s = trio.current_time() - started
    if finished.returncode != 0:
        raise BenchError(f"the voice generator failed: {finished.stderr.decode().strip()[:300]}")
    report: dict[str, Any] = json.loads(finished.stdout)
    after = socket_drops(watched)
    for speaker, state in zip(speakers, report["speakers"], strict=True):
        speaker.sequence, speaker.timestamp = state["sequence"], state["timestamp"]
        speaker.counter = state["counter"]
    grown = {port: after.get(port, 0) - before.get(port, 0) for port in watched}
    return Outcome(
        report,
        listener_drops=sum(grown[port] for port in listening),
        server_drops=None
        if server_port is None or server_port not in after
        else grown[server_port],
        wall_s=wall_s,
    )
