"""The gateway's delivery call alone: one event to 1,000 connections, each frame with its own
`s`, written without blocking — CPU per delivery, beside a plain Python loop doing the same.

Usage: python -m bench.fanout [--sessions N] [--events E] [--compress zlib-stream]

The sender (this process) is pinned to one core; a receiver process on another core drains
every connection over loopback. Figures are the sender's CPU time per delivered frame, kernel
send included: what ARCHITECTURE.md compares with a C server (4.1 µs) and Node's `ws` (8.3).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import select
import socket
import time
from typing import TYPE_CHECKING

import orjson

from core.fanout import Feed, Outlet, deliver

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

_PAYLOAD = orjson.dumps({"id": "1" * 19, "channel_id": "2" * 19, "content": "x" * 180})
_RATE = 50.0  # events per second: the kernel's buffers never fill, as in a paced fanout


def _receive(port: int, count: int, pipe: Connection, cpu: int | None) -> None:
    """Connects `count` sockets and drains them, reporting the bytes taken when asked."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    poller = select.epoll()
    for sock in sockets:
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
    by_fd = {sock.fileno(): sock for sock in sockets}
    taken = 0
    pipe.send("connected")
    while True:
        for fd, _ in poller.poll(0.01):
            with contextlib.suppress(BlockingIOError):  # a spurious wake-up
                taken += len(by_fd[fd].recv(1 << 20))
        if pipe.poll():
            if pipe.recv() == "stop":
                return
            pipe.send(taken)


def _paced(events: int, send_one: Callable[[int], None]) -> float:
    """CPU seconds spent in `send_one` over `events` events sent at _RATE."""
    cpu = 0.0
    for event in range(events):
        started = time.process_time()
        send_one(event)
        cpu += time.process_time() - started
        time.sleep(1 / _RATE)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--compress", choices=["zlib-stream", "zstd-stream"])
    arguments = parser.parse_args()
    count, events = arguments.sessions, arguments.events
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[0]})
    listener = socket.create_server(("127.0.0.1", 0), backlog=2 * count)
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    receiver = multiprocessing.get_context("spawn").Process(
        target=_receive,
        args=(listener.getsockname()[1], 2 * count, theirs, cores[-1] if len(cores) > 1 else None),
    )
    receiver.start()
    accepted = [listener.accept()[0] for _ in range(2 * count)]
    assert ours.recv() == "connected"

    feeds = []
    for sock in accepted[:count]:
        outlet = Outlet(sock.detach(), 1 << 20)
        if arguments.compress:
            outlet.compress(arguments.compress)
        feed = Feed(0, False, 60.0, 1000, 10_000, time.monotonic())
        feed.attach(outlet, 0, time.monotonic())
        feeds.append(feed)
    plain = accepted[count:]
    for sock in plain:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def native(_: int) -> None:
        deliver(feeds, "MESSAGE_CREATE", _PAYLOAD, None, 0, time.monotonic())

    seqs = [0] * count

    def python_loop(_: int) -> None:
        # What the native call replaces, at its leanest: a frame per session, a send each.
        for index, sock in enumerate(plain):
            seqs[index] += 1
            message = b'{"op":0,"s":%d,"t":"MESSAGE_CREATE","d":%s}' % (seqs[index], _PAYLOAD)
            head = bytes((0x81, 126)) + len(message).to_bytes(2, "big")
            sock.send(head + message)

    lines = []
    for name, send_one in [("native deliver()", native), ("python send loop", python_loop)]:
        if name != "native deliver()" and arguments.compress:
            continue
        cpu = _paced(events, send_one)
        lines.append(f"{name} {cpu / (events * count) * 1e6:.2f} µs/delivery")
    ours.send("count")
    taken = ours.recv()
    ours.send("stop")
    receiver.join()
    print(
        f"fanout to {count} connections, {len(_PAYLOAD)}-byte payload"
        + (f", {arguments.compress}" if arguments.compress else "")
        + ": "
        + " | ".join(lines)
        + f" ({taken / 1e6:.1f} MB received)"
    )


if __name__ == "__main__":
    main()
