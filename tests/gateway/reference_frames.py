"""The gateway's client-frame parser as it was in Python (gateway/websocket.py before the
parse moved to native/src/frames.rs): a small, obviously correct reference the native parser
is tested against."""

from __future__ import annotations

import struct

from gateway.websocket import Message, Opcode, ProtocolError


class ReferenceFrameParser:
    """Client frames in, whole messages and control frames out. Refuses, with the close code
    RFC 6455 gives, unmasked frames, reserved bits, bad opcodes, fragmented control frames,
    and any message over `max_message` bytes (1009) before buffering it."""

    __slots__ = ("_buffer", "_fragment_opcode", "_fragment_size", "_fragments", "_max")

    def __init__(self, max_message: int) -> None:
        self._max = max_message
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        self._fragment_size = 0

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        found: list[Message] = []
        while (message := self._next()) is not None:
            if message.opcode is not Opcode.CONTINUATION or message.payload:
                found.append(message)
        return found

    def _next(self) -> Message | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError(1002, "reserved bits set")
        if not second & 0x80:
            raise ProtocolError(1002, "client frames must be masked")
        final = bool(first & 0x80)
        try:
            opcode = Opcode(first & 0x0F)
        except ValueError:
            raise ProtocolError(1002, "unknown opcode") from None
        size = second & 0x7F
        offset = 2
        if size == 126:
            if len(buffer) < 4:
                return None
            (size,) = struct.unpack_from("!H", buffer, 2)
            offset = 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            (size,) = struct.unpack_from("!Q", buffer, 2)
            offset = 10
        control = opcode >= Opcode.CLOSE
        if control and (size > 125 or not final):
            raise ProtocolError(1002, "control frames are short and whole")
        if not control and self._fragment_size + size > self._max:
            raise ProtocolError(1009, f"messages are at most {self._max} bytes")
        if len(buffer) < offset + 4 + size:
            return None
        mask = buffer[offset : offset + 4]
        start = offset + 4
        payload = _unmask(bytes(buffer[start : start + size]), bytes(mask))
        del buffer[: start + size]
        if control:
            return Message(opcode, payload)
        if opcode is Opcode.CONTINUATION:
            if self._fragment_opcode is None:
                raise ProtocolError(1002, "continuation without a message")
        elif self._fragment_opcode is not None:
            raise ProtocolError(1002, "a new message inside a fragmented one")
        else:
            self._fragment_opcode = opcode
        self._fragments.append(payload)
        self._fragment_size += size
        if not final:
            return Message(Opcode.CONTINUATION, b"")  # consumed; nothing whole yet
        whole = Message(self._fragment_opcode, b"".join(self._fragments))
        self._fragments, self._fragment_opcode, self._fragment_size = [], None, 0
        return whole


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # One big-integer XOR instead of a Python loop over bytes.
    if not payload:
        return payload
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")
