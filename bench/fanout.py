"""The gateway's delivery call alone: one event to 1,000 connections, each frame with its own
`s`, written without blocking — CPU per delivery and the p99 of one call, plain, zlib-stream and
zstd-stream, beside a plain Python loop doing the plain case.

Usage: python -m bench.fanout [--sessions N] [--events E]

The sender (this process) is pinned to one core; a receiver process on another core drains
every connection over loopback and decodes one connection of each kind in full (frames,
inflate or zstd, JSON, consecutive `s`), so the figures are for output known to be right.
Figures are the sender's CPU time per delivered frame, kernel send included: what
ARCHITECTURE.md compares with a C server (4.1 µs) and Node's `ws` (8.3). Idle KB is the
sender's RSS growth per connection once it has its outlet, feed and first message.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import select
import socket
import statistics
import time
import zlib
from typing import TYPE_CHECKING, Any

import orjson
from pyzstd import ZstdDecompressor

from core.fanout import Feed, Outlet, deliver

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

_PAYLOAD = orjson.dumps({"id": "1" * 19, "channel_id": "2" * 19, "content": "x" * 180})
_RATE = 50.0  # events per second: the kernel's buffers never fill, as in a paced fanout
_KINDS = ["plain", "zlib-stream", "zstd-stream", "python loop"]
_HELLO = b'{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}'


class _Checked:
    """One connection's stream, decoded as a client would: frame by frame, each message whole."""

    def __init__(self, kind: str) -> None:
        self.buffer = b""
        self.inflate: Any = {"zlib-stream": zlib.decompressobj, "zstd-stream": ZstdDecompressor}
        self.inflate = self.inflate.get(kind, lambda: None)()
        self.seq = 0
        self.messages = 0

    def take(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2:
            size, start = self.buffer[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + size:
                return
            raw, self.buffer = self.buffer[start : start + size], self.buffer[start + size :]
            if isinstance(self.inflate, ZstdDecompressor):
                raw = self.inflate.decompress(raw)
            elif self.inflate is not None:
                assert raw.endswith(b"\x00\x00\xff\xff")
                raw = self.inflate.decompress(raw)
            message = orjson.loads(raw)
            if message["op"] == 0:
                assert message["s"] == self.seq + 1, (message["s"], self.seq)
                assert orjson.dumps(message["d"]) == _PAYLOAD
                self.seq = message["s"]
            self.messages += 1


def _receive(port: int, count: int, pipe: Connection, cpu: int | None) -> None:
    """Connects `count` sockets per kind and drains them, decoding the first of each kind;
    reports the bytes taken per kind and the dispatches decoded when asked."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count * len(_KINDS))]
    checked = {sockets[i * count].fileno(): _Checked(kind) for i, kind in enumerate(_KINDS)}
    poller = select.epoll()
    for sock in sockets:
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
    by_fd = {sock.fileno(): sock for sock in sockets}
    kind_of = {sock.fileno(): index // count for index, sock in enumerate(sockets)}
    taken = [0] * len(_KINDS)
    pipe.send("connected")
    while True:
        for fd, _ in poller.poll(0.01):
            with contextlib.suppress(BlockingIOError):  # a spurious wake-up
                data = by_fd[fd].recv(1 << 20)
                taken[kind_of[fd]] += len(data)
                if fd in checked:
                    checked[fd].take(data)
        if pipe.poll():
            if pipe.recv() == "stop":
                return
            pipe.send((taken, [c.seq for c in checked.values()]))


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def _paced(events: int, send_one: Callable[[], None]) -> tuple[float, list[float]]:
    """CPU seconds spent in `send_one` over `events` events sent at _RATE, and each call's
    wall time."""
    cpu = 0.0
    walls = []
    for _ in range(events):
        started, wall = time.process_time(), time.perf_counter()
        send_one()
        walls.append(time.perf_counter() - wall)
        cpu += time.process_time() - started
        time.sleep(1 / _RATE)
    return cpu, walls


def _feeds(accepted: list[socket.socket], kind: str) -> tuple[list[Feed], float]:
    """Feeds on outlets of one kind, each sent a HELLO; the RSS growth per connection, KB."""
    before = _rss_kb()
    feeds = []
    for sock in accepted:
        outlet = Outlet(sock.detach(), 1 << 20)
        if kind != "plain":
            outlet.compress(kind)
        outlet.send_message(_HELLO)
        feed = Feed(0, False, 60.0, 1000, 10_000, time.monotonic())
        feed.attach(outlet, 0, time.monotonic())
        feeds.append(feed)
    return feeds, (_rss_kb() - before) / len(accepted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    arguments = parser.parse_args()
    count, events = arguments.sessions, arguments.events
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[0]})
    total = count * len(_KINDS)
    listener = socket.create_server(("127.0.0.1", 0), backlog=total)
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    receiver = multiprocessing.get_context("spawn").Process(
        target=_receive,
        args=(listener.getsockname()[1], count, theirs, cores[-1] if len(cores) > 1 else None),
    )
    receiver.start()
    accepted = [listener.accept()[0] for _ in range(total)]
    assert ours.recv() == "connected"
    groups = [accepted[i * count : (i + 1) * count] for i in range(len(_KINDS))]

    senders: dict[str, tuple[Callable[[], None], float]] = {}
    for kind, group in zip(_KINDS, groups, strict=True):
        if kind == "python loop":
            continue
        feeds, idle_kb = _feeds(group, kind)

        def native(feeds: list[Feed] = feeds) -> None:
            deliver(feeds, "MESSAGE_CREATE", _PAYLOAD, None, 0, time.monotonic())

        senders[kind] = native, idle_kb

    plain = groups[-1]
    for sock in plain:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.send(bytes((0x81, len(_HELLO))) + _HELLO)
    seqs = [0] * count

    def python_loop() -> None:
        # What the native call replaces, at its leanest: a frame per session, a send each.
        for index, sock in enumerate(plain):
            seqs[index] += 1
            message = b'{"op":0,"s":%d,"t":"MESSAGE_CREATE","d":%s}' % (seqs[index], _PAYLOAD)
            head = bytes((0x81, 126)) + len(message).to_bytes(2, "big")
            sock.send(head + message)

    senders["python loop"] = python_loop, 0.0

    figures = {}
    ours.send("count")
    before, _ = ours.recv()
    for kind in _KINDS:
        send_one, idle_kb = senders[kind]
        _paced(5, send_one)  # warm-up
        cpu, walls = _paced(events, send_one)
        walls.sort()
        figures[kind] = (
            cpu / (events * count) * 1e6,
            statistics.median(walls) * 1e3,
            walls[int(len(walls) * 0.99) - 1] * 1e3,
            idle_kb,
        )
    time.sleep(0.5)  # the receiver drains the last event
    ours.send("count")
    taken, decoded = ours.recv()
    sent_bytes = [
        (after - start) / ((events + 5) * count) for after, start in zip(taken, before, strict=True)
    ]
    ours.send("stop")
    receiver.join()
    assert decoded == [events + 5] * len(_KINDS), decoded  # every dispatch, whole and in order

    plain_us, _, plain_p99, _ = figures["plain"]
    parts = []
    for (kind, (us, p50, p99, idle_kb)), size in zip(figures.items(), sent_bytes, strict=True):
        line = f"{kind} {us:.2f} µs/delivery, {size:.0f} B, call p50 {p50:.2f} ms p99 {p99:.2f} ms"
        if kind != "plain":
            line += f" ({us / plain_us:.2f}x plain, p99 {p99 / plain_p99:.2f}x)"
        if kind != "python loop":
            line += f", idle {idle_kb:.1f} KB/conn"
        parts.append(line)
    print(
        f"fanout to {count} connections, {len(_PAYLOAD)}-byte payload, {events} events: "
        + " | ".join(parts)
        + " (every kind decoded whole and in order)"
    )


if __name__ == "__main__":
    main()
