"""Client payloads, parsed: one typed parser for everything a client sends on the gateway.

Each parser takes the decoded JSON and returns a typed value or raises the Closing error the
Gateway docs give for it (gateway/close.py), so no handler sees a value out of range: a
sequence number is a whole number from 0 to 2**64 - 1 (what the native feed counts in), a
snowflake is ASCII digits (or an int) up to 2**64 - 1, and JSON nests only as deep as orjson
parses (payloads are at most 4,096 bytes anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

import orjson

from core.domain.snowflakes import MAX_SNOWFLAKE, parse_snowflake
from core.events import ALL_INTENTS
from core.sessions import DEFAULT_LARGE_THRESHOLD, MAX_LARGE_THRESHOLD, MemberRequest
from gateway.close import DecodeError, InvalidIntents, InvalidSeq, InvalidShard

MAX_SEQ = 2**64 - 1
STATUSES = frozenset({"online", "idle", "dnd", "invisible", "offline"})
MAX_ACTIVITIES = 10
MAX_NONCE_BYTES = 32  # REQUEST_GUILD_MEMBERS' nonce (Gateway docs)

Activities = list[dict[str, object]]


def parse_payload(data: bytes) -> tuple[int, object]:
    """A text or binary message's `op` and `d`."""
    try:
        payload = orjson.loads(data)
    except (ValueError, RecursionError):  # (orjson.JSONDecodeError is a ValueError)
        raise DecodeError from None
    if not isinstance(payload, dict):
        raise DecodeError
    op = payload.get("op")
    if not _is_int(op):
        raise DecodeError
    return op, payload.get("d")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def heartbeat_seq(d: object) -> int | None:
    """op 1's `d`: the last sequence number the client has, or null."""
    if d is None:
        return None
    if not _is_int(d) or not 0 <= d <= MAX_SEQ:
        raise DecodeError("HEARTBEAT's d is null or a sequence number")
    return d


def snowflake(value: object) -> int | None:
    """A snowflake as clients send it (a string of ASCII digits, or an int); None if not one."""
    if _is_int(value):
        return value if 0 <= value <= MAX_SNOWFLAKE else None
    return parse_snowflake(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Identify:
    token: str
    intents: int
    shard: tuple[int, int] | None  # None: not sharded (READY then names no shard)
    large_threshold: int
    status: str
    activities: Activities


def identify(d: object) -> Identify:
    if not isinstance(d, dict) or not isinstance(d.get("token"), str):
        raise DecodeError("IDENTIFY needs a token")
    intents = d.get("intents")
    if not _is_int(intents) or intents & ~ALL_INTENTS or intents < 0:
        raise InvalidIntents
    raw_shard = d.get("shard")
    shard: tuple[int, int] | None = None
    if raw_shard is not None:
        if (
            not isinstance(raw_shard, list)
            or len(raw_shard) != 2
            or not all(_is_int(n) for n in raw_shard)
            or not 0 <= raw_shard[0] < raw_shard[1] <= 2**16
        ):
            raise InvalidShard
        shard = (raw_shard[0], raw_shard[1])
    large = d.get("large_threshold", DEFAULT_LARGE_THRESHOLD)
    if not _is_int(large) or not DEFAULT_LARGE_THRESHOLD <= large <= MAX_LARGE_THRESHOLD:
        large = DEFAULT_LARGE_THRESHOLD  # Discord takes any and keeps it in range
    found = presence(d.get("presence") or {})
    if found is None:
        raise DecodeError("IDENTIFY's presence is malformed")
    return Identify(d["token"], intents, shard, large, *found)


@dataclass(frozen=True, slots=True)
class Resume:
    token: str
    session_id: str
    seq: int


def resume(d: object) -> Resume:
    if (
        not isinstance(d, dict)
        or not isinstance(d.get("token"), str)
        or not isinstance(d.get("session_id"), str)
        or not _is_int(d.get("seq"))
    ):
        raise DecodeError("RESUME needs token, session_id and seq")
    seq = d["seq"]
    if seq < 0:
        raise DecodeError("RESUME's seq is a sequence number")
    if seq > MAX_SEQ:
        raise InvalidSeq  # never sent: no session counts that far
    return Resume(d["token"], d["session_id"], seq)


def presence(d: object) -> tuple[str, Activities] | None:
    """The status and activities of a PRESENCE_UPDATE (op 3) or IDENTIFY's `presence`; None
    when malformed."""
    if not isinstance(d, dict):
        return None
    status, activities = d.get("status", "online"), d.get("activities") or []
    if status not in STATUSES or not isinstance(activities, list):
        return None
    if len(activities) > MAX_ACTIVITIES:
        return None
    kept: Activities = []
    for activity in activities:
        if not isinstance(activity, dict) or not isinstance(activity.get("name"), str):
            return None
        kind = activity.get("type", 0)
        if not _is_int(kind) or not 0 <= kind <= 6:
            return None
        kept.append({"name": activity["name"][:128], "type": kind} | _optional(activity))
    return str(status), kept


def _optional(activity: dict[str, object]) -> dict[str, object]:
    extra: dict[str, object] = {}
    for key in ("state", "url"):
        value = activity.get(key)
        if isinstance(value, str):
            extra[key] = value[:128] if key == "state" else value[:512]
    return extra


@dataclass(frozen=True, slots=True)
class MembersRequest:
    """op 8, checked."""

    request: MemberRequest
    presences: bool
    nonce: str | None


def request_guild_members(d: object) -> MembersRequest:
    """op 8's `d`: a guild id, and user_ids or a query."""
    if not isinstance(d, dict):
        raise DecodeError("REQUEST_GUILD_MEMBERS is malformed")
    guild_id, query, limit, user_ids = (
        d.get("guild_id"),
        d.get("query"),
        d.get("limit", 0),
        d.get("user_ids"),
    )
    if isinstance(guild_id, list):  # Discord accepts one guild per request now
        guild_id = guild_id[0] if len(guild_id) == 1 else None
    nonce = d.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce.encode()) > MAX_NONCE_BYTES):
        raise DecodeError("REQUEST_GUILD_MEMBERS's nonce is at most 32 bytes")
    if (query is None) == (user_ids is None):  # one or the other
        raise DecodeError("REQUEST_GUILD_MEMBERS needs query or user_ids")
    if not _is_int(limit) or not 0 <= limit <= MAX_SEQ:
        raise DecodeError("REQUEST_GUILD_MEMBERS's limit is a whole number")
    if isinstance(user_ids, (str, int)):
        user_ids = [user_ids]
    ids = None if user_ids is None else _snowflakes(user_ids)
    guild = snowflake(guild_id)
    if (
        guild is None
        or (user_ids is not None and ids is None)
        or not isinstance(query, (str, type(None)))
    ):
        raise DecodeError("REQUEST_GUILD_MEMBERS is malformed")
    return MembersRequest(
        MemberRequest(guild_id=guild, query=query, limit=limit, user_ids=ids),
        presences=d.get("presences") is True,
        nonce=nonce,
    )


def request_soundboard_sounds(d: object) -> list[int]:
    """op 31's `d`: the guilds whose soundboard sounds the client wants."""
    ids = _snowflakes(d.get("guild_ids") if isinstance(d, dict) else None)
    if ids is None:
        raise DecodeError("REQUEST_SOUNDBOARD_SOUNDS needs guild_ids, a list of snowflakes")
    return ids


@dataclass(frozen=True, slots=True)
class VoiceStateRequest:
    """op 4, checked."""

    guild_id: int
    channel_id: int | None  # None: leave
    self_mute: bool
    self_deaf: bool


def voice_state_update(d: object) -> VoiceStateRequest | None:
    """op 4's `d`: `guild_id`, `channel_id` (null to leave), `self_mute` and `self_deaf`,
    ids as strings or integers (discord.py sends integers). None for a DM call (`guild_id`
    null), which Trioxide does not serve. As tolerant as Discord: a missing or null
    `self_mute`/`self_deaf` is false."""
    if not isinstance(d, dict) or "channel_id" not in d:
        raise DecodeError("VOICE_STATE_UPDATE needs guild_id, channel_id, self_mute, self_deaf")
    raw_guild, raw_channel = d.get("guild_id"), d["channel_id"]
    guild_id = snowflake(raw_guild)
    channel_id = None if raw_channel is None else snowflake(raw_channel)
    self_mute, self_deaf = d.get("self_mute"), d.get("self_deaf")
    self_mute = False if self_mute is None else self_mute
    self_deaf = False if self_deaf is None else self_deaf
    if (
        (raw_guild is not None and guild_id is None)
        or (raw_channel is not None and channel_id is None)
        or not isinstance(self_mute, bool)
        or not isinstance(self_deaf, bool)
    ):
        raise DecodeError("VOICE_STATE_UPDATE is malformed")
    if guild_id is None:
        return None
    return VoiceStateRequest(guild_id, channel_id, self_mute, self_deaf)


CHANNEL_INFO_FIELDS = frozenset({"status", "voice_start_time"})


def request_channel_info(d: object) -> int:
    """op 43's `d`: the guild, and which of a voice channel's fields the client wants."""
    guild_id = snowflake(d.get("guild_id")) if isinstance(d, dict) else None
    fields = d.get("fields") if isinstance(d, dict) else None
    if (
        guild_id is None
        or not isinstance(fields, list)
        or not all(isinstance(f, str) and f in CHANNEL_INFO_FIELDS for f in fields)
    ):
        raise DecodeError(
            "REQUEST_CHANNEL_INFO needs guild_id and fields (status, voice_start_time)"
        )
    return guild_id


def _snowflakes(values: object) -> list[int] | None:
    if not isinstance(values, list):
        return None
    found = [snowflake(v) for v in values]
    return None if None in found else [f for f in found if f is not None]
