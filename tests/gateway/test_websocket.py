"""The gateway's client-frame parser (native, through gateway/websocket.py) against the Python
parser it replaced (tests/gateway/reference_frames.py), on seeded random frames and bytes."""

from __future__ import annotations

import itertools
import random

import pytest

from gateway.websocket import FrameParser, Message, Opcode, ProtocolError
from tests.gateway.reference_frames import ReferenceFrameParser

MAX_MESSAGE = 4096


def _frame(rng: random.Random, *, fin: bool, opcode: int, payload: bytes) -> bytes:
    """A client frame as RFC 6455 section 5.2 lays it out, masked with a random key."""
    mask = rng.randbytes(4)
    size = len(payload)
    if size < 126:
        head = bytes([(fin << 7) | opcode, 0x80 | size])
    elif size < 1 << 16:
        head = bytes([(fin << 7) | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([(fin << 7) | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return head + mask + masked


def _piece(rng: random.Random) -> bytes:
    """Mostly well-formed frames (of any opcode, fin or not), some junk, some headers that
    claim more than the limit or break a rule."""
    roll = rng.random()
    if roll < 0.75:
        opcode = rng.choice([0x0, 0x1, 0x1, 0x2, 0x8, 0x9, 0xA, 0x3, 0xB])
        size = rng.choice([0, 1, 5, 125, 126, 127, 300, 2000, MAX_MESSAGE, MAX_MESSAGE + 1])
        size = min(size, rng.randrange(0, MAX_MESSAGE + 2))
        return _frame(rng, fin=rng.random() < 0.7, opcode=opcode, payload=rng.randbytes(size))
    if roll < 0.85:
        return rng.randbytes(rng.randrange(0, 24))
    if roll < 0.95:  # a header alone claiming a huge payload (64-bit length)
        return bytes([0x81, 0xFF]) + rng.getrandbits(64).to_bytes(8, "big") + rng.randbytes(4)
    first = rng.choice([0xC1, 0xA1, 0x91, 0x01])  # reserved bits, or unmasked below
    return bytes([first, rng.choice([0x05, 0x85])]) + rng.randbytes(9)


def _valid(rng: random.Random) -> bytes:
    """Legal frames: messages in 1-4 fragments, control frames between, maybe one bad piece."""
    wire = b""
    for _ in range(rng.randrange(1, 6)):
        payload = rng.randbytes(rng.randrange(0, 1500))
        parts = rng.randrange(1, 5)
        step = max(1, -(-len(payload) // parts))
        chunks = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        for n, chunk in enumerate(chunks):
            opcode = rng.choice([1, 2]) if n == 0 else 0
            wire += _frame(rng, fin=n == len(chunks) - 1, opcode=opcode, payload=chunk)
            if rng.random() < 0.3:
                control = rng.choice([0x8, 0x9, 0xA])
                wire += _frame(rng, fin=True, opcode=control, payload=rng.randbytes(20))
    return wire + (_piece(rng) if rng.random() < 0.3 else b"")


def _split(rng: random.Random, wire: bytes) -> list[bytes]:
    cuts = sorted(rng.randrange(0, len(wire) + 1) for _ in range(rng.randrange(0, 6)))
    edges = [0, *cuts, len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(edges)]


def _outcome(
    parser: FrameParser | ReferenceFrameParser, chunks: list[bytes]
) -> tuple[list[Message], tuple[int, str] | None]:
    """Messages up to the first refusal, and that refusal: what a connection acts on."""
    found: list[Message] = []
    for chunk in chunks:
        try:
            found += parser.feed(chunk)
        except ProtocolError as error:
            return found, (error.code, error.reason)
    return found, None


@pytest.mark.parametrize("seed", range(4))
def test_frame_parser_random_streams_match_the_reference(seed: int) -> None:
    # Bounded: 4 x 300 streams of up to 8 pieces, ~0.2 s each seed.
    rng = random.Random(seed)
    for _ in range(300):
        if rng.random() < 0.5:
            wire = _valid(rng)
        else:
            wire = b"".join(_piece(rng) for _ in range(rng.randrange(1, 9)))
        chunks = _split(rng, wire)
        native = _outcome(FrameParser(MAX_MESSAGE), chunks)
        reference = _outcome(ReferenceFrameParser(MAX_MESSAGE), chunks)
        assert native == reference
        assert all(type(m.opcode) is Opcode for m in native[0])


@pytest.mark.parametrize("seed", range(4))
def test_frame_parser_random_bytes_raise_only_protocol_error(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(500):
        parser = FrameParser(rng.choice([0, 1, 125, MAX_MESSAGE]))
        refused: ProtocolError | None = None
        for chunk in _split(rng, rng.randbytes(rng.randrange(0, 200))):
            try:
                parser.feed(chunk)
            except ProtocolError as error:
                refused = error
                break
        if refused is not None:
            assert refused.code in {1002, 1009}
            # Refused for good: the connection is closing.
            with pytest.raises(ProtocolError):
                parser.feed(_frame(rng, fin=True, opcode=1, payload=b"{}"))


@pytest.mark.parametrize(
    ("wire", "code", "reason"),
    [
        (bytes([0xC1, 0x80, 0, 0, 0, 0]), 1002, "reserved bits set"),
        (bytes([0x81, 0x00]), 1002, "client frames must be masked"),
        (bytes([0x83, 0x80, 0, 0, 0, 0]), 1002, "unknown opcode"),
        (bytes([0x09, 0x80, 0, 0, 0, 0]), 1002, "control frames are short and whole"),
        (bytes([0x80, 0x80, 0, 0, 0, 0]), 1002, "continuation without a message"),
        (
            bytes([0x01, 0x80, 0, 0, 0, 0, 0x81, 0x80, 0, 0, 0, 0]),
            1002,
            "a new message inside a fragmented one",
        ),
        (bytes([0x81, 0xFE, 0x10, 0x01]), 1009, "messages are at most 4096 bytes"),
    ],
)
def test_frame_parser_refusal_carries_its_close_code(wire: bytes, code: int, reason: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        FrameParser(MAX_MESSAGE).feed(wire)
    assert (refused.value.code, refused.value.reason) == (code, reason)


def test_frame_parser_joins_fragments_around_a_ping() -> None:
    rng = random.Random(7)
    wire = b"".join(
        [
            _frame(rng, fin=False, opcode=1, payload=b'{"op":'),
            _frame(rng, fin=True, opcode=9, payload=b"?"),
            _frame(rng, fin=True, opcode=0, payload=b"1}"),
        ]
    )
    parser = FrameParser(MAX_MESSAGE)
    assert parser.feed(wire[:5]) == []
    assert parser.feed(wire[5:]) == [
        Message(Opcode.PING, b"?"),
        Message(Opcode.TEXT, b'{"op":1}'),
    ]
