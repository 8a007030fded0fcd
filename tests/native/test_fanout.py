"""The native delivery path through core/fanout.py: zlib-stream built from shared parts decodes
with Python's zlib (what discord.py uses), the clock is the caller's, and no argument from
Python can do worse than raise an ordinary exception."""

from __future__ import annotations

import json
import math
import socket
import zlib
from typing import TYPE_CHECKING, Any

import pytest

from core.fanout import Feed, Outlet, deliver, release

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def connected() -> Iterator[Callable[[], tuple[Outlet, socket.socket]]]:
    """Makes loopback TCP pairs: the server end as an Outlet, the client end a blocking
    socket with a deadline."""
    listener = socket.create_server(("127.0.0.1", 0))
    clients: list[socket.socket] = []
    outlets: list[Outlet] = []

    def pair() -> tuple[Outlet, socket.socket]:
        client = socket.create_connection(listener.getsockname())
        client.settimeout(5)
        server, _ = listener.accept()
        outlet = Outlet(server.detach(), 1 << 20)
        clients.append(client)
        outlets.append(outlet)
        return outlet, client

    yield pair
    for outlet in outlets:
        outlet.shutdown()
    for client in clients:
        client.close()
    listener.close()


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    first, second = _read_exact(sock, 2)
    size = second & 0x7F
    if size == 126:
        size = int.from_bytes(_read_exact(sock, 2), "big")
    elif size == 127:
        size = int.from_bytes(_read_exact(sock, 8), "big")
    return first, _read_exact(sock, size)


def _feed(now: float = 0.0) -> Feed:
    return Feed(1, False, 60.0, 3, 100, now)


def test_zlib_stream_messages_each_inflate_whole_on_arrival(
    connected: Callable[[], tuple[Outlet, socket.socket]],
) -> None:
    # Three connections get dispatches deflated once for all of them, in different orders and
    # with different seqs (one joins late and is replayed them), with messages of their own
    # between. Each has one zlib.decompressobj for its life, as discord.py does.
    pairs = [connected() for _ in range(3)]
    for outlet, _ in pairs:
        outlet.compress("zlib-stream")
    feeds = [_feed() for _ in pairs]
    for (outlet, _), feed in zip(pairs[:2], feeds, strict=False):
        assert outlet.send_message(b'{"op":10,"d":{"heartbeat_interval":41250}}') == 0
        assert feed.attach(outlet, 0, 0.0) is None
    payloads = [json.dumps({"content": str(i) * (50 << i)}).encode() for i in range(5)]
    for i, payload in enumerate(payloads):
        audience = feeds if i % 2 == 0 else feeds[1:]
        deliver(audience, "MESSAGE_CREATE", payload, None, 0, float(i))
        pairs[1][0].send_message(b'{"op":11,"d":null,"s":null,"t":null}')
    assert feeds[2].attach(pairs[2][0], 0, 5.0) is None

    # What each connection gets, in order: HELLO, an ACK, or a dispatch of payloads[i].
    expected: list[list[str | int]] = [
        ["hello", 0, 2, 4],
        ["hello", *[item for i in range(5) for item in (i, "ack")]],
        [0, 1, 2, 3, 4],
    ]
    for (_, client), messages in zip(pairs, expected, strict=True):
        inflate = zlib.decompressobj()
        seq = 0
        for index, want in enumerate(messages):
            opcode, raw = _read_frame(client)
            assert opcode == 0x82
            assert raw.endswith(b"\x00\x00\xff\xff")
            assert raw.startswith(b"\x78\x01") == (index == 0)
            message: dict[str, Any] = json.loads(inflate.decompress(raw))
            assert inflate.unconsumed_tail == b""
            if want == "hello":
                assert message["op"] == 10
            elif want == "ack":
                assert message["op"] == 11
            else:
                seq += 1
                assert (message["s"], message["t"]) == (seq, "MESSAGE_CREATE")
                assert json.dumps(message["d"]).encode() == payloads[int(want)]


def test_feed_times_detachment_and_replay_on_the_callers_clock(
    connected: Callable[[], tuple[Outlet, socket.socket]],
) -> None:
    feed = _feed(now=100.0)
    assert feed.detached_for(130.0) == 30.0
    outlet, _ = connected()
    feed.attach(outlet, 0, 130.0)
    assert feed.detached_for(131.0) is None
    for at in (131.0, 132.0, 133.0, 134.0):
        deliver([feed], "E", b"{}", None, 0, at)
    # Past keep_s (60 s) only min_events (3) stay; nothing is trimmed by the wall clock.
    assert len(feed.missed_since(0) or []) == 4
    deliver([feed], "E", b"{}", None, 0, 200.0)
    assert feed.missed_since(1) is None
    assert len(feed.missed_since(2) or []) == 3
    feed.detach(250.0)
    assert feed.detached_for(370.0) == 120.0
    assert release([feed], 0, 371.0) == []


_BAD_INTS = [-1, 2**64, -(2**63), 2**200]


@pytest.mark.parametrize("value", _BAD_INTS)
def test_native_calls_refuse_out_of_range_ints_with_overflow_error(
    value: int, connected: Callable[[], tuple[Outlet, socket.socket]]
) -> None:
    # Issue #18: a heartbeat's d = -1 reached Feed.acknowledge. Out-of-range ints raise
    # OverflowError (an ordinary, catchable exception), never a panic.
    outlet, _ = connected()
    feed = _feed()
    calls: list[Callable[[], object]] = [
        lambda: feed.acknowledge(value),
        lambda: feed.missed_since(value),
        lambda: feed.start_at(value),
        lambda: feed.set_recorded(value),
        lambda: feed.attach(outlet, value, 0.0),
        lambda: feed.close(value, "", 0.0),
        lambda: deliver([feed], "E", b"{}", value, 0, 0.0),
        lambda: deliver([feed], "E", b"{}", None, value, 0.0),
        lambda: release([feed], value, 0.0),
        lambda: Feed(value, False, 60.0, 3, 100, 0.0),
        lambda: Feed(1, False, 60.0, value, 100, 0.0),
        lambda: outlet.send_frame(value, b""),
        lambda: outlet.close(value, ""),
        lambda: Outlet(3, value),
    ]
    for call in calls:
        with pytest.raises(OverflowError):
            call()
    with pytest.raises((OverflowError, ValueError)):  # -1: "not a file descriptor"
        Outlet(value, 1)


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_native_calls_refuse_a_clock_that_is_not_finite_with_value_error(now: float) -> None:
    feed = _feed()
    calls: list[Callable[[], object]] = [
        lambda: feed.detached_for(now),
        lambda: feed.detach(now),
        lambda: deliver([feed], "E", b"{}", None, 0, now),
        lambda: release([feed], 0, now),
        lambda: Feed(1, False, 60.0, 3, 100, now),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="finite"):
            call()
    with pytest.raises(OverflowError):
        feed.detach(10**400)  # an int too large for a float
    with pytest.raises(TypeError):
        feed.detach("now")  # type: ignore[arg-type]


@pytest.mark.parametrize("keep_s", [math.nan, -1.0])
def test_feed_refuses_a_replay_window_below_zero_with_value_error(keep_s: float) -> None:
    with pytest.raises(ValueError, match="keep_s"):
        Feed(1, False, keep_s, 3, 100, 0.0)


def test_feed_keeps_an_endless_replay_window() -> None:
    # An infinite keep_s panicked (Duration::from_secs_f64) before the clock moved to Python.
    feed = Feed(1, False, math.inf, 0, 5, 0.0)
    deliver([feed], "E", b"{}", None, 0, 1e12)
    assert len(feed.missed_since(0) or []) == 1


def test_feed_numbering_cannot_start_where_it_would_run_out() -> None:
    feed = _feed()
    assert not feed.start_at(2**64 - 1)
    assert feed.start_at(2**63 - 1)
