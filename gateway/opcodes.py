"""Discord's gateway opcodes, and the messages that are not dispatches."""

from __future__ import annotations

import enum

import orjson


class Op(enum.IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11
    REQUEST_SOUNDBOARD_SOUNDS = 31
    REQUEST_CHANNEL_INFO = 43  # newer than the docs' table; hikari sends it


def op_message(op: Op, d: object) -> bytes:
    """A message other than a dispatch: no sequence, no name."""
    return orjson.dumps({"op": int(op), "d": d, "s": None, "t": None})
