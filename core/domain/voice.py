"""Voice states: who is in which voice channel of a guild, with what flags, as Discord's voice
state object; voice tokens; and what a voice gateway node is to the Voice service
(core/voice.py).

A voice token is never kept, nor carried by the bus or the gateway's journal (both in Redis,
for minutes). It is derived, as interaction tokens are (core/domain/interactions.py), by HMAC
under a server key from a random nonce: VOICE_SERVER_UPDATE goes on the bus with the token
sealed (the nonce and the key's id), and the gateway reveals it as it writes the event to the
one session it is for. The voice board keeps its SHA-256 alone, which a voice IDENTIFY's token
is checked against (the token is random and long: a fast hash is enough)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import orjson

from core.domain.guilds import VOICE_CHANNEL_TYPES, ChannelType
from core.domain.permissions import Permission

if TYPE_CHECKING:
    from core.domain.tokens import JwtKeys

# The encryption modes Trioxide's voice gateway offers (READY `modes`), in its order of preference.
MODES = ("aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize")


@dataclass(frozen=True, slots=True)
class VoiceState:
    guild_id: int
    channel_id: int | None  # None: left (the last state of a user, as published)
    user_id: int
    session_id: str  # the main gateway session's id
    # The SHA-256 (hex) of the voice token of the latest join or move (token_digest): it
    # tells this state apart from the user's later ones. "" where unknown: a state as another
    # process announced it, one that ended, one not yet on the board.
    token_digest: str
    deaf: bool  # server-side: the member's
    mute: bool
    self_deaf: bool
    self_mute: bool
    suppress: bool  # stage channels: not a speaker
    request_to_speak_timestamp: str | None

    @property
    def speaks(self) -> bool:
        return not (self.mute or self.self_mute or self.suppress)

    @property
    def hears(self) -> bool:
        return not (self.deaf or self.self_deaf)

    def to_wire(self, member: dict[str, object] | None) -> dict[str, object]:
        """Discord's voice state object (Voice Resources): with `member` where there is one
        (VOICE_STATE_UPDATE), without it in GUILD_CREATE's list. Never the token."""
        wire: dict[str, object] = {
            "guild_id": str(self.guild_id),
            "channel_id": None if self.channel_id is None else str(self.channel_id),
            "user_id": str(self.user_id),
            "session_id": self.session_id,
            "deaf": self.deaf,
            "mute": self.mute,
            "self_deaf": self.self_deaf,
            "self_mute": self.self_mute,
            "self_stream": False,
            "self_video": False,
            "suppress": self.suppress,
            "request_to_speak_timestamp": self.request_to_speak_timestamp,
        }
        if member is not None:
            wire["member"] = member
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, object]) -> VoiceState:
        """A state as another process announced it (VOICE_STATE_UPDATE): without its
        token's digest."""
        channel_id = wire.get("channel_id")
        stamp = wire.get("request_to_speak_timestamp")
        return cls(
            guild_id=int(str(wire["guild_id"])),
            channel_id=None if channel_id is None else int(str(channel_id)),
            user_id=int(str(wire["user_id"])),
            session_id=str(wire["session_id"]),
            token_digest="",
            deaf=bool(wire["deaf"]),
            mute=bool(wire["mute"]),
            self_deaf=bool(wire["self_deaf"]),
            self_mute=bool(wire["self_mute"]),
            suppress=bool(wire["suppress"]),
            request_to_speak_timestamp=None if stamp is None else str(stamp),
        )


_SEALED = "sealed:"


@dataclass(frozen=True, slots=True)
class VoiceToken:
    """A fresh voice token: what the board keeps (`digest`) and what the bus carries
    (`sealed`). The token itself is derived again where it is delivered (reveal_voice_token)."""

    digest: str
    sealed: str


def new_voice_token(keys: JwtKeys) -> VoiceToken:
    """A voice token for one join or move, under the signing key."""
    nonce = secrets.token_hex(16)
    kid = keys.signing_kid
    secret = keys.get(kid)
    assert secret is not None
    return VoiceToken(token_digest(_derive(secret, nonce)), f"{_SEALED}{nonce}:{kid}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reveal_voice_token(payload: bytes, keys: JwtKeys) -> bytes:
    """A VOICE_SERVER_UPDATE's payload with its sealed token derived in place; any other
    payload as it is. A key since removed reveals no token (`null`, Discord's "wait": the
    client joins again after its timeout)."""
    data = orjson.loads(payload)
    sealed = data.get("token")
    if not isinstance(sealed, str) or not sealed.startswith(_SEALED):
        return payload
    nonce, _, kid = sealed.removeprefix(_SEALED).partition(":")
    secret = keys.get(kid)
    data["token"] = None if secret is None else _derive(secret, nonce)
    return orjson.dumps(data)


def _derive(secret: bytes, nonce: str) -> str:
    mac = hmac.new(secret, f"trioxide voice token {nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]  # 128 bits, in hex


class Entry(enum.Enum):
    """How a join or move went on the voice board (core/voice_states.py)."""

    ENTERED = "entered"
    FULL = "full"  # the channel's user limit was reached
    STALE = "stale"  # the user's state changed since it was read: decide again


_TO_CONNECT = int(Permission.VIEW_CHANNEL | Permission.CONNECT)


def may_connect(channel_type: int, permissions: int) -> bool:
    """Whether a member with `permissions` in the channel may be in it: a voice or stage
    channel they can view and connect to."""
    return channel_type in VOICE_CHANNEL_TYPES and permissions & _TO_CONNECT == _TO_CONNECT


def room_limit(user_limit: int | None, permissions: int) -> int:
    """How many members a channel may have for one more to join: 0 is no limit, as are a
    `user_limit` of 0 or unset and MOVE_MEMBERS (Discord's rule). Counted on the voice board
    at the join itself (core/voice_states.py), so that two joins cannot both take the last
    place."""
    return 0 if permissions & Permission.MOVE_MEMBERS else user_limit or 0


def joins_suppressed(channel_type: int) -> bool:
    """A stage channel's newcomers are its audience until invited to speak."""
    return channel_type == ChannelType.GUILD_STAGE_VOICE


class VoiceNode(Protocol):
    """A voice gateway node in this process, as the Voice service sees it."""

    name: str
    endpoint: str  # "host:port" as sent in VOICE_SERVER_UPDATE

    def changed(self, state: VoiceState) -> None:
        """Any voice state change of any guild: a join, a move, mute/deaf/suppress or self
        flags, or a leave (channel_id None). Must not block or raise; a node ignores users it
        has no connection for."""
        ...

    def call_ended(self, guild_id: int, channel_id: int) -> None:
        """The channel was deleted: its connections close 4022."""
        ...
