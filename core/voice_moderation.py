"""Voice states over REST, and moderation: server mute and deafen, moves and disconnects, a
stage's speakers, and the ends that kicks, bans, deleted channels and guilds and lost
permissions bring. Called after the change that causes them is committed (core/members.py,
core/channels.py, core/roles.py, core/guilds.py), or, for checks, before anything is changed.

What runs after a commit cannot take the change back: if it fails (Redis away, say), the
fault is reported and the change's answer stands; the voice side is left as it was, and ends
with the session, the user's next voice change, or the sweep of a silent gateway node (a
Redis that restarts empty has no voice state left to end)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from core.access import load_access
from core.domain.permissions import Permission
from core.domain.voice import VoiceState, joins_suppressed, may_connect
from core.errors import (
    FormCheck,
    InvalidForm,
    MissingPermissions,
    NotInVoice,
    UnknownGuild,
    UnknownVoiceState,
    WrongChannelType,
)
from core.faults import report_fault
from core.store import members as member_store
from core.voice import KEEP, member_access

if TYPE_CHECKING:
    from collections.abc import Iterator

    from core.access import Access, AccessCache
    from core.domain.members import Member
    from core.store.database import Connection, Database
    from core.voice import Voice, Wire

_STAGE = 13  # ChannelType.GUILD_STAGE_VOICE


class VoiceModeration:
    def __init__(self, db: Database, access: AccessCache, voice: Voice) -> None:
        self._db = db
        self._access = access
        self._voice = voice

    # REST.

    async def state(self, caller_id: int, guild_id: int, user_id: int) -> Wire:
        """GET /guilds/{guild}/voice-states/@me|{user}."""

        def read(connection: Connection) -> Member | None:
            load_access(self._access, connection, guild_id, caller_id)
            return member_store.member(connection, guild_id, user_id)

        member = await self._db.autocommit(read)
        current = await self._voice.current(guild_id, user_id)
        if current is None:
            raise UnknownVoiceState(str(user_id))
        return current.to_wire(None if member is None else member.to_wire())

    async def edit_state(
        self,
        caller_id: int,
        guild_id: int,
        user_id: int,
        *,
        channel_id: int | None,
        suppress: bool | None,
        request_to_speak_timestamp: object = KEEP,
    ) -> None:
        """PATCH /guilds/{guild}/voice-states/@me|{user}: a stage channel's speakers.
        `channel_id`, when given (always for another user), must be the channel the user is in.
        Suppressing oneself and withdrawing one's request always work; unsuppressing needs
        MUTE_MEMBERS, and so does suppressing anyone else; requesting to speak needs
        REQUEST_TO_SPEAK. A suppressed user's request to speak ends."""
        access = await self._db.autocommit(
            lambda c: load_access(self._access, c, guild_id, caller_id)
        )
        current = await self._voice.current(guild_id, user_id)
        if current is None or current.channel_id is None:
            raise UnknownVoiceState(str(user_id))
        if channel_id is not None and channel_id != current.channel_id:
            raise InvalidForm.one(
                "channel_id", "VOICE_CHANNEL_MISMATCH", "Must be the channel the user is in."
            )
        channel = access.snapshot.channels.get(current.channel_id)
        if channel is None or channel.channel.type != _STAGE:
            raise WrongChannelType(str(current.channel_id))
        permissions = access.in_channel(current.channel_id)
        changed = current
        if suppress is not None:
            if (user_id != caller_id or not suppress) and not permissions & Permission.MUTE_MEMBERS:
                raise MissingPermissions("MUTE_MEMBERS")
            changed = replace(changed, suppress=suppress)
        if request_to_speak_timestamp is not KEEP:
            stamp = request_to_speak_timestamp
            if stamp is not None and not permissions & Permission.REQUEST_TO_SPEAK:
                raise MissingPermissions("REQUEST_TO_SPEAK")
            changed = replace(
                changed, request_to_speak_timestamp=None if stamp is None else str(stamp)
            )
        if changed.suppress and suppress:
            changed = replace(changed, request_to_speak_timestamp=None)
        if changed != current:
            await self._voice.change(
                [changed], await self._voice.members(guild_id, [user_id]), access.snapshot.version
            )

    # Moderation: after the change is committed (members, channels, roles).

    async def member_changed(self, guild_id: int, user_id: int, *, mute: bool, deaf: bool) -> None:
        """The member's server mute or deafen changed: so does their live voice state."""
        with _after_commit(guild_id):
            current = await self._voice.current(guild_id, user_id)
            if current is not None and (current.mute, current.deaf) != (mute, deaf):
                changed = replace(current, mute=mute, deaf=deaf)
                await self._voice.change(
                    [changed], await self._voice.members(guild_id, [user_id]), None
                )

    async def check_move(
        self, mover_id: int, guild_id: int, user_id: int, channel_id: int | None
    ) -> None:
        """Before PATCH /guilds/{guild}/members/{user} with `channel_id` changes anything:
        MOVE_MEMBERS, a member who is in voice (40032), and for a move a voice channel of the
        guild that both the mover and the member may connect to."""

        def read(connection: Connection) -> tuple[Access, Access | None]:
            mover = load_access(self._access, connection, guild_id, mover_id)
            try:
                return mover, load_access(self._access, connection, guild_id, user_id)
            except UnknownGuild:
                return mover, None

        mover, member = await self._db.autocommit(read)
        if channel_id is None:
            mover.require(Permission.MOVE_MEMBERS)
        else:
            channel = mover.snapshot.channels.get(channel_id)
            check = FormCheck()
            if channel is None or not may_connect(channel.channel.type, 0xFFFFFFFFFFFF):
                check.fail(
                    "channel_id", "CHANNEL_TYPE_INVALID", "Must be a voice channel of the guild."
                )
            check.done()
            held = mover.in_channel(channel_id)
            mover.require(Permission.MOVE_MEMBERS | Permission.CONNECT, have=held)
            if (
                member is not None
                and channel is not None
                and not may_connect(channel.channel.type, member.in_channel(channel_id))
            ):
                raise MissingPermissions("the member may not connect to the channel")
        if member is None or await self._voice.current(guild_id, user_id) is None:
            raise NotInVoice(str(user_id))

    async def move(self, guild_id: int, user_id: int, channel_id: int | None) -> None:
        """Moves the member (checked by check_move) to `channel_id`, or disconnects them."""
        with _after_commit(guild_id):
            await self._move(guild_id, user_id, channel_id)

    async def _move(self, guild_id: int, user_id: int, channel_id: int | None) -> None:
        current = await self._voice.current(guild_id, user_id)
        if current is None:
            return
        if channel_id is None:
            await self._voice.leave(guild_id, [current])
            return
        found = await self._db.autocommit(
            lambda c: member_access(self._access, c, guild_id, user_id)
        )
        if found is None:
            return
        access, member = found
        channel = access.snapshot.channels.get(channel_id)
        if channel is None or current.channel_id == channel_id:
            return
        moved = replace(
            current,
            channel_id=channel_id,
            token_digest="",  # (enter gives it its token)
            suppress=joins_suppressed(channel.channel.type),
            request_to_speak_timestamp=None,
        )
        await self._voice.enter(moved, current, member.to_wire(), access.snapshot.version)

    async def disconnect(self, guild_id: int, user_id: int) -> None:
        """A kick, a ban or leaving the guild: out of voice too."""
        with _after_commit(guild_id):
            current = await self._voice.current(guild_id, user_id)
            if current is not None:
                await self._voice.leave(guild_id, [current])

    async def channel_deleted(self, guild_id: int, channel_id: int) -> None:
        """Everyone in the channel leaves, and its voice connections close (4022)."""
        with _after_commit(guild_id):
            states = (await self._voice.board.of_guilds([guild_id])).get(guild_id, {})
            ending = [s for s in states.values() if s.channel_id == channel_id]
            await self._voice.leave(guild_id, ending, call_ended=channel_id)
            await self._voice.board.end_channel(channel_id)

    async def guild_deleted(self, guild_id: int) -> None:
        """The guild is gone: its calls end (4022) and its voice states with them. No
        VOICE_STATE_UPDATE: nobody is left in the guild to be told (GUILD_DELETE says it)."""
        with _after_commit(guild_id):
            states = (await self._voice.board.of_guilds([guild_id])).get(guild_id, {})
            channel_ids = sorted({s.channel_id for s in states.values() if s.channel_id})
            await self._voice.end_calls(guild_id, channel_ids)
            for state in states.values():
                await self._voice.board.remove(state)
            for channel_id in channel_ids:
                await self._voice.board.end_channel(channel_id)

    async def recheck(self, guild_id: int) -> None:
        """After a change to roles, overwrites or a member's roles: whoever may no longer
        view or connect to the channel they are in leaves it."""
        with _after_commit(guild_id):
            await self._recheck(guild_id)

    async def _recheck(self, guild_id: int) -> None:
        states = (await self._voice.board.of_guilds([guild_id])).get(guild_id, {})
        if not states:
            return

        def read(connection: Connection) -> list[VoiceState]:
            lost = []
            for state in states.values():
                assert state.channel_id is not None
                try:
                    access = load_access(self._access, connection, guild_id, state.user_id)
                except UnknownGuild:
                    lost.append(state)
                    continue
                channel = access.snapshot.channels.get(state.channel_id)
                if channel is None or not may_connect(
                    channel.channel.type, access.in_channel(state.channel_id)
                ):
                    lost.append(state)
            return lost

        if lost := await self._db.autocommit(read):
            await self._voice.leave(guild_id, lost)


@contextmanager
def _after_commit(guild_id: int) -> Iterator[None]:
    """The boundary of a voice hook run after its change was committed: a fault here is
    reported, and the change's answer stands (see the module's docstring)."""
    try:
        yield
    except Exception as error:
        report_fault("voice-after-commit", error, guild_id=guild_id)
